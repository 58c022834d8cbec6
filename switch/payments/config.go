package payments

import (
	// Merchants name their time zones; the switch must not depend on the
	// host having a zoneinfo database.
	"errors"
	"fmt"
	"net/url"
	"time"
	_ "time/tzdata"

	"github.com/tulpar-switch/tulpar/iso"
)

// Config is the payments section of the daemon's config file.
type Config struct {
	// OrderLifetime is how long a registered order waits for payment
	// (default 20 minutes, as the RBS gateway's sessionTimeoutSecs).
	OrderLifetime time.Duration `yaml:"order_lifetime"`
	// ExchangeTimeout bounds one bank exchange when the caller's context
	// has no earlier deadline (default 15s).
	ExchangeTimeout time.Duration `yaml:"exchange_timeout"`
	Banks           []BankProfile `yaml:"banks"`
	Merchants       []Merchant    `yaml:"merchants"`
}

// BankProfile is what the payment flows need to know about a partner bank
// beyond its link.
type BankProfile struct {
	Name string `yaml:"name"`
	// AcquirerID is DE32 on every message to this bank.
	AcquirerID string `yaml:"acquirer_id"`
	// RRNFormat is how DE37 is spelled for this bank: "decimal" (12
	// digits, the default) or "base36" (for a dialect that takes letters).
	RRNFormat string `yaml:"rrn_format"`
}

// Merchant is a merchant of the switch. Credentials for the web service
// and the cabinet are the API's concern and live in its config.
type Merchant struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	URL     string `yaml:"url"`
	MCC     string `yaml:"mcc"`
	City    string `yaml:"city"`
	Country string `yaml:"country"`
	// Terminals maps a bank name to the DE41/DE42 the bank issued.
	Terminals map[string]Terminal `yaml:"terminals"`
	// TimeZone is the merchant's, for DE12/DE13 (local time and date of
	// the transaction at the card acceptor); DE7 stays GMT. An IANA name;
	// default Asia/Almaty (Kazakhstan keeps one zone, UTC+5).
	TimeZone string `yaml:"time_zone"`
	// MaxAttempts is how many times a buyer may try to pay one order
	// (another card after a decline, a corrected CVV2) until it expires, as
	// the RBS gateway allows; each attempt stays in the order's history.
	// Default 3; 1 declines the order at its first decline.
	MaxAttempts int `yaml:"max_attempts"`
	// AcceptPartialApproval keeps an authorization the bank approved for
	// less than asked (DE39 10) at the amount approved. By default such an
	// approval is reversed and the order declined: the RBS plugins shops
	// run expect all or nothing.
	AcceptPartialApproval bool `yaml:"accept_partial_approval"`
}

// Terminal is a merchant's identity at one bank.
type Terminal struct {
	TerminalID string `yaml:"terminal_id"` // DE41, 8 characters
	MerchantID string `yaml:"merchant_id"` // DE42, up to 15 characters
}

// DefaultConfig returns the defaults; Banks and Merchants are empty.
func DefaultConfig() Config {
	return Config{OrderLifetime: 20 * time.Minute, ExchangeTimeout: 15 * time.Second}
}

// Validate checks the config; errors name the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("payments: "+format, a...)) }
	if c.OrderLifetime <= 0 {
		bad("order_lifetime: must be positive")
	}
	if c.ExchangeTimeout <= 0 {
		bad("exchange_timeout: must be positive")
	}
	banks := map[string]bool{}
	for i, b := range c.Banks {
		if b.Name == "" {
			bad("banks[%d].name: required", i)
		}
		if banks[b.Name] {
			bad("banks[%d].name: %q listed twice", i, b.Name)
		}
		banks[b.Name] = true
		if b.AcquirerID == "" || len(b.AcquirerID) > 11 || !isDigits(b.AcquirerID) {
			bad("banks[%d].acquirer_id: must be 1 to 11 digits", i)
		}
		if _, err := iso.ParseRRNFormat(b.RRNFormat); err != nil {
			bad("banks[%d].rrn_format: %v", i, err)
		}
	}
	ids := map[string]bool{}
	for i, m := range c.Merchants {
		where := fmt.Sprintf("merchants[%d]", i)
		if m.ID == "" {
			bad("%s.id: required", where)
		}
		if ids[m.ID] {
			bad("%s.id: %q listed twice", where, m.ID)
		}
		ids[m.ID] = true
		if m.Name == "" {
			bad("%s.name: required", where)
		}
		if len(m.MCC) != 4 || !isDigits(m.MCC) {
			bad("%s.mcc: must be 4 digits", where)
		}
		if m.URL != "" {
			if u, err := url.Parse(m.URL); err != nil || u.Host == "" {
				bad("%s.url: not an absolute URL", where)
			}
		}
		if m.MaxAttempts < 0 || m.MaxAttempts > 10 {
			bad("%s.max_attempts: must be 1 to 10 (0 for the default, %d)", where, DefaultMaxAttempts)
		}
		if _, err := loadZone(m.TimeZone); err != nil {
			bad("%s.time_zone: %v", where, err)
		}
		if len(m.Terminals) == 0 {
			bad("%s.terminals: at least one bank's terminal is required", where)
		}
		for bank, t := range m.Terminals {
			if !banks[bank] {
				bad("%s.terminals.%s: unknown bank", where, bank)
			}
			if len(t.TerminalID) != 8 {
				bad("%s.terminals.%s.terminal_id: must be 8 characters", where, bank)
			}
			if t.MerchantID == "" || len(t.MerchantID) > 15 {
				bad("%s.terminals.%s.merchant_id: must be 1 to 15 characters", where, bank)
			}
		}
	}
	return errors.Join(errs...)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DefaultTimeZone is a merchant's time zone when the config names none.
const DefaultTimeZone = "Asia/Almaty"

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	return time.LoadLocation(name)
}

// DefaultMaxAttempts is a merchant's number of payment attempts per order
// when the config names none.
const DefaultMaxAttempts = 3
