package issuersim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
)

// Config is one simulated bank. The zero value is not usable: start from
// DefaultConfig (or LoadConfig, which does) and change what you need.
//
// Fields tagged `yaml:"-"` are hooks for code, not for files.
type Config struct {
	// Name names the bank in logs, metrics and the settlement file.
	Name string `yaml:"name" json:"name"`
	// Dialect is a specs dialect name: "ascii" or "binary".
	Dialect string `yaml:"dialect" json:"dialect"`
	// Listen is the address the bank listens on for the switch (server
	// side), e.g. "127.0.0.1:0". Exactly one of Listen and Dial is set.
	Listen string `yaml:"listen" json:"listen"`
	// Dial is the switch's address the bank connects to (client side). The
	// bank keeps one connection up, reconnecting with backoff (100 ms
	// doubling to 5 s) while the switch is down.
	Dial string `yaml:"dial" json:"dial"`
	// TLS, when set, wraps the bank's connections in TLS: its server config
	// when it listens, its client config when it dials (tests of the
	// switch's TLS links set it; a bank over TLS is a real bank's habit).
	TLS *tls.Config `yaml:"-" json:"-"`
	// AcquirerID is the DE32 the bank expects: a request carrying another
	// DE32 is declined 03. Empty accepts any. The bank sets it on the
	// echoes it sends; responses echo the request's DE32 as sent.
	AcquirerID string `yaml:"acquirer_id" json:"acquirer_id"`
	// EchoInterval is how often the bank sends its own 0800 echo (DE70
	// 301) on each connection; 0 never.
	EchoInterval time.Duration `yaml:"echo_interval" json:"echo_interval"`
	// RequireSignOn makes the bank answer financial requests 91 on a
	// connection until the switch has signed on (0800 DE70 001). After a
	// sign-off (002) the bank answers 91 until the next sign-on whatever
	// this says.
	RequireSignOn bool `yaml:"require_sign_on" json:"require_sign_on"`
	// IdleTimeout closes a connection on which nothing arrived for this
	// long; 0 never. A switch that echoes keeps its links open.
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// MaxConnections bounds the connections the bank accepts at once;
	// more are closed on accept. Default 256.
	MaxConnections int `yaml:"max_connections" json:"max_connections"`
	// Currency is the ISO 4217 numeric code of cards that do not name
	// one. Default 398 (KZT).
	Currency string `yaml:"currency" json:"currency"`
	// Timezone is the IANA zone of the bank's business day (settlement
	// files, /settlement?date=). Default UTC.
	Timezone string `yaml:"timezone" json:"timezone"`
	// Cards is the card book. Empty: DefaultCards.
	Cards []CardConfig `yaml:"cards" json:"cards"`
	// Knobs are the behaviour knobs at start; SetKnobs changes them.
	Knobs Knobs `yaml:"knobs" json:"knobs"`
	// Admin is the address of the admin HTTP endpoint ("" none).
	Admin string `yaml:"admin" json:"admin"`
	// CVVKey is the CVK that keys the CVV2 hashes of the card book: 32
	// bytes (HMAC-SHA256), hex in files. Empty: a random key per process,
	// which is enough because the hashes never leave the process.
	CVVKey HexKey `yaml:"cvv_key" json:"cvv_key"`

	// CVV hashes and checks CVV2s; nil: a software hsm module of the
	// bank's own holding CVVKey. The daemon may pass its hsm.Module.
	CVV CVVChecker `yaml:"-" json:"-"`
	// MAC, when set, verifies the MAC of every request (a bad or missing
	// MAC is answered 63, nothing applied) and signs every response.
	MAC *MACHooks `yaml:"-" json:"-"`
	// KeyChange is called for an 0800 key change (DE70 161) with the key
	// under ZMK and its check value; an error answers 63. Nil accepts and
	// records the check value.
	KeyChange func(ctx context.Context, keyUnderZMK, kcv string) error `yaml:"-" json:"-"`
	// Now is the bank's clock; nil is time.Now. Tests inject one.
	Now func() time.Time `yaml:"-" json:"-"`
}

// MACHooks generate and check DE64/DE128 MACs over the bytes iso.SignMAC
// and iso.VerifyMAC hand them (hsm.Module's GenerateMAC/VerifyMAC fit).
type MACHooks struct {
	Generate func(data []byte) ([]byte, error)
	Verify   func(data, mac []byte) error
}

// CardConfig is one card and its account in the card book.
type CardConfig struct {
	PAN    string `yaml:"pan" json:"pan"`
	Expiry string `yaml:"expiry" json:"expiry"` // YYMM, as DE14
	// CVV2 is the clear value as the config file gives it; New keeps only
	// its keyed hash.
	CVV2     string    `yaml:"cvv2" json:"cvv2"`
	Name     string    `yaml:"name" json:"name"`
	Currency string    `yaml:"currency" json:"currency"` // default: the bank's
	Balance  int64     `yaml:"balance" json:"balance"`   // opening available balance, minor units
	State    CardState `yaml:"state" json:"state"`       // default active
}

// CardState is what the issuer thinks of a card, and the DE39 a request
// on a card in that state gets.
type CardState string

// Card states.
const (
	CardActive       CardState = "active"
	CardLost         CardState = "lost"          // 41
	CardStolen       CardState = "stolen"        // 43
	CardExpired      CardState = "expired"       // 54
	CardNotPermitted CardState = "not_permitted" // 57
	CardRestricted   CardState = "restricted"    // 62
	CardDoNotHonour  CardState = "do_not_honour" // 05
)

var stateCodes = map[CardState]string{
	CardActive:       iso.RCApproved,
	CardLost:         iso.RCLostCard,
	CardStolen:       iso.RCStolenCard,
	CardExpired:      iso.RCExpiredCard,
	CardNotPermitted: iso.RCNotPermitted,
	CardRestricted:   iso.RCRestricted,
	CardDoNotHonour:  iso.RCDoNotHonour,
}

// CardStates lists the valid card states (for help texts).
func CardStates() []CardState {
	return []CardState{CardActive, CardLost, CardStolen, CardExpired, CardNotPermitted, CardRestricted, CardDoNotHonour}
}

// HexKey is a key given in hex in a config file.
type HexKey []byte

// UnmarshalYAML decodes a hex string.
func (k *HexKey) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	return k.UnmarshalText([]byte(s))
}

// UnmarshalText decodes a hex string.
func (k *HexKey) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return errors.New("must be hex")
	}
	*k = v
	return nil
}

// MarshalText never shows the key.
func (k HexKey) MarshalText() ([]byte, error) { return []byte(""), nil }

// DefaultConfig is the demo bank: the default card book, the ascii
// dialect, listening on 127.0.0.1:0.
func DefaultConfig() Config {
	return Config{
		Name:           "demo-bank",
		Dialect:        "ascii",
		Listen:         "127.0.0.1:0",
		MaxConnections: 256,
		Currency:       iso.CurrencyKZT,
		Timezone:       "UTC",
		Cards:          DefaultCards(),
	}
}

// DefaultCards is the demo card book: the test cards merchants try first,
// all active with CVV2 123 and expiry 12/30, and one card per decline
// reason.
func DefaultCards() []CardConfig {
	c := func(pan, name string, balance int64, state CardState, expiry string) CardConfig {
		return CardConfig{PAN: pan, Expiry: expiry, CVV2: "123", Name: name, Currency: iso.CurrencyKZT, Balance: balance, State: state}
	}
	// A USD card: a KZT request on it is the currency-mismatch decline.
	usd := c("4000000000000093", "VISA USD", 10_000_000, CardActive, "3012")
	usd.Currency = "840"
	return []CardConfig{
		c("4111111111111111", "VISA TEST", 100_000_000, CardActive, "3012"),
		c("5555555555555599", "MASTERCARD TEST", 100_000_000, CardActive, "3012"),
		c("4444555511113333", "VISA TEST TWO", 50_000_000, CardActive, "3012"),
		c("4012001038166662", "VISA CHALLENGE", 50_000_000, CardActive, "3012"),
		c("5168494895055780", "MASTERCARD KZ", 50_000_000, CardActive, "3012"),
		c("4000001111111118", "VISA LOW BALANCE", 100_000, CardActive, "3012"),
		c("4000000000000044", "VISA LOST", 10_000_000, CardLost, "3012"),
		c("4000000000000051", "VISA STOLEN", 10_000_000, CardStolen, "3012"),
		c("4000000000000069", "VISA EXPIRED", 10_000_000, CardActive, "2201"),
		c("4000000000000077", "VISA NOT PERMITTED", 10_000_000, CardNotPermitted, "3012"),
		c("4000000000000085", "VISA RESTRICTED", 10_000_000, CardRestricted, "3012"),
		usd,
	}
}

// LoadConfig reads a YAML or JSON config file over DefaultConfig (an empty
// card list keeps the default book) and validates it. Errors name the key,
// e.g. "cards[2].pan: fails Luhn check"; they never quote a PAN.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("issuersim config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("issuersim config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig is LoadConfig on bytes.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	cfg.Cards = nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, errors.New(scrub(err.Error()))
	}
	if len(cfg.Cards) == 0 {
		cfg.Cards = DefaultCards()
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks the config; the error names the first bad key.
func (c Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(c.Name) == "" {
		return bad("name", "required")
	}
	if !slices.Contains(specs.Names(), c.Dialect) {
		return bad("dialect", "unknown dialect %q (want one of %v)", c.Dialect, specs.Names())
	}
	if (c.Listen == "") == (c.Dial == "") {
		return bad("listen", "exactly one of listen and dial must be set")
	}
	if c.AcquirerID != "" && (!digits(c.AcquirerID) || len(c.AcquirerID) > 11) {
		return bad("acquirer_id", "must be up to 11 digits")
	}
	for key, d := range map[string]time.Duration{"echo_interval": c.EchoInterval, "idle_timeout": c.IdleTimeout} {
		if d < 0 {
			return bad(key, "must not be negative")
		}
	}
	if c.MaxConnections < 0 {
		return bad("max_connections", "must not be negative")
	}
	if !digits(c.Currency) || len(c.Currency) != 3 {
		return bad("currency", "must be a 3-digit ISO 4217 numeric code")
	}
	if len(c.CVVKey) != 0 && len(c.CVVKey) != 32 {
		return bad("cvv_key", "must be 32 bytes (64 hex digits), an HMAC-SHA256 key")
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		return bad("timezone", "unknown time zone %q", c.Timezone)
	}
	seen := map[string]int{}
	for i, card := range c.Cards {
		key := fmt.Sprintf("cards[%d]", i)
		if err := card.validate(); err != nil {
			return fmt.Errorf("%s.%w", key, err)
		}
		if j, dup := seen[card.PAN]; dup {
			return bad(key+".pan", "same card as cards[%d]", j)
		}
		seen[card.PAN] = i
	}
	if err := c.Knobs.Validate(); err != nil {
		return fmt.Errorf("knobs.%w", err)
	}
	return nil
}

func (cc CardConfig) validate() error {
	switch {
	case len(cc.PAN) < 12 || len(cc.PAN) > 19 || !digits(cc.PAN):
		return errors.New("pan: must be 12 to 19 digits")
	case !iso.Luhn(cc.PAN):
		return errors.New("pan: fails Luhn check")
	case !validExpiry(cc.Expiry):
		return errors.New("expiry: must be YYMM")
	case (len(cc.CVV2) != 3 && len(cc.CVV2) != 4) || !digits(cc.CVV2):
		return errors.New("cvv2: must be 3 or 4 digits")
	case cc.Currency != "" && (len(cc.Currency) != 3 || !digits(cc.Currency)):
		return errors.New("currency: must be a 3-digit ISO 4217 numeric code")
	case cc.Balance < 0:
		return errors.New("balance: must not be negative")
	}
	if _, ok := stateCodes[cc.State]; !ok && cc.State != "" {
		return fmt.Errorf("state: unknown state %q (want one of %v)", cc.State, CardStates())
	}
	return nil
}

func validExpiry(s string) bool {
	if len(s) != 4 || !digits(s) {
		return false
	}
	m, _ := strconv.Atoi(s[2:])
	return m >= 1 && m <= 12
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// longDigits matches what could be a PAN in a library's error text.
var longDigits = regexp.MustCompile(`[0-9]{10,}`)

func scrub(s string) string { return longDigits.ReplaceAllString(s, "[redacted]") }
