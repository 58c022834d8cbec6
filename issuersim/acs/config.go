package acs

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tulpar-switch/tulpar/emv3ds"
	"github.com/tulpar-switch/tulpar/iso"
)

// Behaviour is how the simulated issuer treats a card in 3-D Secure. The
// values are strings so that a configuration file can name them.
type Behaviour string

// The behaviours. ECIs are Visa's (05 full, 06 attempt, 07 none) for every
// brand but Mastercard, which uses 02, 01 and 00.
const (
	// Frictionless: transStatus Y without a challenge, ECI 05/02 and a CAVV.
	Frictionless Behaviour = "frictionless"
	// Challenge: transStatus C; the ACS page shows a one-time code, the
	// right code gives Y, three wrong codes give N.
	Challenge Behaviour = "challenge"
	// Failed: transStatus N (not authenticated), ECI 07/00, no CAVV.
	Failed Behaviour = "failed"
	// Attempted: transStatus A (attempt: the issuer's stand-in), ECI 06/01
	// and a CAVV/AAV.
	Attempted Behaviour = "attempted"
	// NotEnrolled: transStatus U with reason 08 (no card record): the card
	// is not in 3-D Secure, the payment may go on at ECI 07/00 without CAVV.
	NotEnrolled Behaviour = "not-enrolled"
	// Password: a 3-D Secure 1.0.2 card: transStatus C with messageVersion
	// 1.0.2 and a static password page (the password is Config.Password).
	Password Behaviour = "password-3ds1"
	// Rejected: transStatus R (the issuer rejects; do not authorize).
	Rejected Behaviour = "rejected"
)

func (b Behaviour) valid() bool {
	switch b {
	case Frictionless, Challenge, Failed, Attempted, NotEnrolled, Password, Rejected:
		return true
	}
	return false
}

// DefaultCards is the test card book of issue 7. Cards not in the table are
// frictionless when their number passes the Luhn check and fail (N) otherwise.
func DefaultCards() map[string]Behaviour {
	return map[string]Behaviour{
		"4111111111111111": Frictionless,
		"5555555555555599": Challenge,
		"5168494895055780": Failed,
		"4000001111111118": Attempted,
		"4444555511113333": NotEnrolled,
		"4012001038166662": Password,
	}
}

// Config configures a Server. Every zero value means the documented default.
type Config struct {
	// Cards maps a PAN to its behaviour. Nil means DefaultCards(); a
	// non-nil map replaces the defaults entirely.
	Cards map[string]Behaviour
	// Key signs the CAVV/AAV (HMAC-SHA256) and the PAN digests. Empty means a
	// random key per server, so CAVVs are then verifiable only through
	// Server.VerifyCAVV. At least 16 bytes when set.
	Key []byte
	// TTL is how long a transaction, its challenge and its result live.
	// Default 15 minutes.
	TTL time.Duration
	// MaxTransactions bounds the transactions held at once; an AReq beyond it
	// gets errorCode 403 (HTTP 503). Default 100000.
	MaxTransactions int
	// MaxAttempts is how many wrong codes or passwords end a challenge with
	// transStatus N. Default 3.
	MaxAttempts int
	// Password is the 3-D Secure 1.0.2 password, shown on the page since
	// this is a simulator. Default "password".
	Password string
	// PublicURL is the base URL browsers reach this server at (its acsURL
	// is PublicURL + "/acs/challenge"). Empty: taken from each AReq's
	// request (scheme and Host), which is right when the switch and the
	// browser see the server at the same address, as in tests and the demo.
	PublicURL string
	// Now is the clock; nil means time.Now. Tests set it to expire
	// transactions without sleeping.
	Now func() time.Time
}

// DefaultConfig returns the defaults, with the default card book.
func DefaultConfig() Config {
	return Config{
		Cards:           DefaultCards(),
		TTL:             15 * time.Minute,
		MaxTransactions: 100000,
		MaxAttempts:     3,
		Password:        "password",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Cards == nil {
		c.Cards = d.Cards
	}
	if c.TTL == 0 {
		c.TTL = d.TTL
	}
	if c.MaxTransactions == 0 {
		c.MaxTransactions = d.MaxTransactions
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Password == "" {
		c.Password = d.Password
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first invalid setting, naming its key. Zero values
// are valid (they mean the defaults).
func (c Config) Validate() error {
	for pan, b := range c.Cards {
		if !emv3ds.ValidAcctNumber(pan) {
			// The key may be a PAN: show it masked only.
			return fmt.Errorf("acs: cards[%s]: want 12 to 19 digits", iso.MaskPAN(pan))
		}
		if !b.valid() {
			return fmt.Errorf("acs: cards[%s]: unknown behaviour %q", iso.MaskPAN(pan), b)
		}
	}
	switch {
	case len(c.Key) > 0 && len(c.Key) < 16:
		return errors.New("acs: key: want at least 16 bytes")
	case c.TTL < 0:
		return errors.New("acs: ttl: must not be negative")
	case c.MaxTransactions < 0:
		return errors.New("acs: max_transactions: must not be negative")
	case c.MaxAttempts < 0:
		return errors.New("acs: max_attempts: must not be negative")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("acs: public_url: want an absolute http or https URL")
		}
	}
	return nil
}
