package fiscal

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Config is the fiscal section of the daemon's config file. The zero value
// is valid and fiscalizes nothing: only merchants listed get receipts.
type Config struct {
	// Merchants maps a merchant id (payments.Merchant.ID) to its fiscal
	// service account. A merchant removed while its receipts are queued
	// has them moved to the dead letters.
	Merchants map[string]Merchant `yaml:"merchants"`
	// MaxAttempts is how many attempts a receipt gets before it moves to
	// the dead letters. Default 20. The store-and-forward queue's own
	// saf.max_attempts applies too, so the switch refuses a larger value.
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one call to the fiscal service (connect, send, its
	// answer). Default 15s. saf.attempt_timeout bounds a whole attempt,
	// which may be a login, a lookup and a sale.
	Timeout time.Duration `yaml:"timeout"`
}

// Merchant is one merchant's account at its fiscal service (Nurkassa) and
// what its receipts say.
type Merchant struct {
	// URL is the service's base URL (https://nurkassa.kz/): the API's
	// paths (api/v1/login, api/v2/sale) are under it.
	URL string `yaml:"url"`
	// Login and Password sign in to the service (Nurkassa: the cash
	// register owner's phone number and password). PasswordEnv names an
	// environment variable holding the password instead, to keep it out
	// of the file; exactly one of the two is set.
	Login       string `yaml:"login"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	// SectionID is the cash register's section (department) the goods are
	// sold from.
	SectionID int64 `yaml:"section_id"`
	// PosID is the cash register's id at the service (the Pos-Id header).
	PosID int64 `yaml:"pos_id"`
	// TaxRate is the VAT rate of the goods, in percent (0: not subject to
	// VAT). Required: a wrong rate is a wrong receipt.
	TaxRate *int `yaml:"tax_rate"`
	// Email receives a copy of each receipt when the order has no buyer's
	// e-mail; with one, the buyer's gets it.
	Email string `yaml:"email"`
	// FiscalizePreauth issues the sale receipt when a two-stage payment's
	// hold is approved, rather than at its completion (see the package
	// doc for what follows from it).
	FiscalizePreauth bool `yaml:"fiscalize_preauth"`
}

// String keeps the password out of logs and panics that print a config.
func (m Merchant) String() string {
	pw := "none"
	if m.Password != "" {
		pw = "redacted"
	}
	return fmt.Sprintf("{URL:%s Login:%s Password:%s PasswordEnv:%s SectionID:%d PosID:%d FiscalizePreauth:%t}",
		m.URL, m.Login, pw, m.PasswordEnv, m.SectionID, m.PosID, m.FiscalizePreauth)
}

// password is the password the merchant signs in with, read from the
// environment when the config names a variable: at each login, so a
// rotated password needs no restart of the switch's config.
func (m Merchant) password() string {
	if m.PasswordEnv != "" {
		return os.Getenv(m.PasswordEnv)
	}
	return m.Password
}

// Defaults of Config.
const (
	DefaultMaxAttempts = 20
	DefaultTimeout     = 15 * time.Second
)

// queuePrefix starts every fiscal queue's key in the SAF queue: each
// merchant has its own FIFO, so one merchant's unreachable fiscal service
// holds up only its own receipts, and none collides with a bank's queue or
// a callback queue.
const queuePrefix = "fiscal:"

// QueueKey is the SAF queue key (saf.Item.Queue) of merchant's receipts.
func QueueKey(merchant string) string { return queuePrefix + merchant }

// Validate checks the config; errors name the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("fiscal: "+format, a...)) }
	if c.MaxAttempts < 0 {
		bad("max_attempts: must not be negative")
	}
	if c.Timeout < 0 {
		bad("timeout: must not be negative")
	}
	for _, id := range slices.Sorted(maps.Keys(c.Merchants)) { // errors in a stable order
		m := c.Merchants[id]
		where := "merchants." + id
		if id == "" {
			bad("merchants: empty merchant id")
		}
		if len(QueueKey(id)) > saf.MaxQueueLen {
			bad("%s: merchant id longer than %d bytes", where, saf.MaxQueueLen-len(queuePrefix))
		}
		u, err := url.Parse(m.URL)
		switch {
		case m.URL == "":
			bad("%s.url: required", where)
		case err != nil:
			bad("%s.url: %v", where, err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad("%s.url: must be an absolute http or https URL", where)
		case u.Host == "":
			bad("%s.url: has no host", where)
		}
		if m.Login == "" {
			bad("%s.login: required", where)
		}
		switch {
		case m.Password != "" && m.PasswordEnv != "":
			bad("%s.password: set, and password_env too; choose one", where)
		case m.Password == "" && m.PasswordEnv == "":
			bad("%s.password: required (or password_env naming a variable that holds it)", where)
		case m.PasswordEnv != "" && os.Getenv(m.PasswordEnv) == "":
			bad("%s.password_env: variable %s is not set or empty", where, m.PasswordEnv)
		}
		if m.PosID <= 0 {
			bad("%s.pos_id: required, the cash register's id at the service", where)
		}
		if m.SectionID <= 0 {
			bad("%s.section_id: required, the cash register's section", where)
		}
		switch {
		case m.TaxRate == nil:
			bad("%s.tax_rate: required, the VAT rate in percent (0: not subject to VAT)", where)
		case *m.TaxRate < 0 || *m.TaxRate > 100:
			bad("%s.tax_rate: %d is not a percentage", where, *m.TaxRate)
		}
		if m.Email != "" {
			if _, err := mailAddress(m.Email); err != nil {
				bad("%s.email: %v", where, err)
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero fields filled; it does not validate.
func (c Config) withDefaults() Config {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}
