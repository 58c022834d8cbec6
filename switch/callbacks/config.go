package callbacks

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Config is the callbacks section of the daemon's config file. The zero
// value is valid and sends nothing: only merchants listed get callbacks.
type Config struct {
	// Merchants maps a merchant id (payments.Merchant.ID) to where its
	// callbacks go. A merchant not listed gets none; one removed while its
	// callbacks are queued has them moved to the dead letters.
	Merchants map[string]Target `yaml:"merchants"`
	// Timeout bounds one HTTP attempt (connect, send, the merchant's
	// answer). Default 10s. The SAF queue's AttemptTimeout bounds it too.
	Timeout time.Duration `yaml:"timeout"`
}

// Target is one merchant's callback endpoint.
type Target struct {
	// URL is an absolute http or https URL. Its own query parameters are
	// kept; the callback's are added to them and only those are signed.
	URL string `yaml:"url"`
	// Secret is the HMAC key of the checksum, shared with the merchant
	// (RBS's "callback token"). Required unless Unsigned.
	Secret string `yaml:"secret"`
	// Method is GET (the RBS default: parameters in the query) or POST
	// (the same parameters as an application/x-www-form-urlencoded body).
	// Empty means GET.
	Method string `yaml:"method"`
	// Unsigned sends callbacks without a checksum, as RBS does for
	// merchants that never configured a token. Such a merchant must not
	// trust a callback's content and should ask getOrderStatus instead.
	Unsigned bool `yaml:"unsigned"`
}

// String keeps the secret out of logs and panics that print a config.
func (t Target) String() string {
	secret := "none"
	if t.Secret != "" {
		secret = "redacted"
	}
	return fmt.Sprintf("{URL:%s Method:%s Unsigned:%t Secret:%s}", t.URL, t.Method, t.Unsigned, secret)
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 10 * time.Second

// queuePrefix starts every callback queue's key in the SAF queue, so that
// callback queues never collide with a bank's and each merchant has its own
// FIFO: one merchant's dead server never holds up another's callbacks.
const queuePrefix = "callback:"

// QueueKey is the SAF queue key (saf.Item.Bank) of merchant's callbacks.
func QueueKey(merchant string) string { return queuePrefix + merchant }

// Validate checks the config; errors name the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("callbacks: "+format, a...)) }
	if c.Timeout < 0 {
		bad("timeout: must not be negative")
	}
	ids := make([]string, 0, len(c.Merchants))
	for id := range c.Merchants {
		ids = append(ids, id)
	}
	sort.Strings(ids) // errors in a stable order
	for _, id := range ids {
		t := c.Merchants[id]
		where := fmt.Sprintf("merchants.%s", id)
		if id == "" {
			bad("merchants: empty merchant id")
		}
		if len(QueueKey(id)) > saf.MaxQueueLen {
			bad("%s: merchant id longer than %d bytes", where, saf.MaxQueueLen-len(queuePrefix))
		}
		u, err := url.Parse(t.URL)
		switch {
		case t.URL == "":
			bad("%s.url: required", where)
		case err != nil:
			bad("%s.url: %v", where, err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad("%s.url: must be an absolute http or https URL", where)
		case u.Host == "":
			bad("%s.url: has no host", where)
		}
		switch t.Method {
		case "", "GET", "POST":
		default:
			bad("%s.method: %q: must be GET or POST", where, t.Method)
		}
		switch {
		case !t.Unsigned && t.Secret == "":
			bad("%s.secret: required to sign the checksum (or set unsigned: true)", where)
		case t.Unsigned && t.Secret != "":
			bad("%s.secret: set, but unsigned is true; remove one", where)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero fields filled; it does not validate.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	m := make(map[string]Target, len(c.Merchants))
	for id, t := range c.Merchants {
		if t.Method == "" {
			t.Method = "GET"
		}
		m[id] = t
	}
	c.Merchants = m
	return c
}
