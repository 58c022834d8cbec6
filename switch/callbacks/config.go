package callbacks

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
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
	// ReturnCalls maps a merchant id to its Processing.kz return URL call
	// (the daemon fills it from the cnp section; it is not read from this
	// section of the file).
	ReturnCalls map[string]ReturnCall `yaml:"-"`
	// PrivateOK lists the merchants whose callbacks may reach non-public
	// addresses although the config has no target for them (their URL
	// comes from the cabinet; see Target.AllowPrivate). The daemon fills
	// it from api.merchants[].callback_allow_private.
	PrivateOK map[string]bool `yaml:"-"`
}

// ReturnCall is the Processing.kz gateway's "automatic call" of an order's
// returnURL: as soon as the bank has answered a payment, the switch
// requests the URL the buyer is sent back to, as if the buyer had pressed
// "return to the shop", so the shop learns the outcome even when the buyer
// closes the browser. It goes through the merchant's callback queue, at
// least once, with the callback parameters (and checksum) added after the
// shop's own query, byte for byte as the shop wrote it.
//
// Only the payment's outcome is called (approved, deposited by a
// one-stage purchase, declined, declinedByTimeout): completions,
// reversals and refunds are the shop's own requests. A 2xx or 3xx answer
// counts as delivered: a shop's return page usually redirects the browser
// onwards once it has done its work.
type ReturnCall struct {
	// Secret signs the parameters, as Target.Secret; required unless
	// Unsigned.
	Secret   string
	Unsigned bool
	// PublicOnly keeps the call off loopback, private, link-local and
	// other non-public addresses, checked on the address actually dialled
	// (a name that resolves to 127.0.0.1 does not get in). Set it unless
	// the merchant's return hosts are configured, hence trusted.
	PublicOnly bool
}

// String keeps the secret out of logs.
func (r ReturnCall) String() string {
	return fmt.Sprintf("{Unsigned:%t PublicOnly:%t Secret:%s}", r.Unsigned, r.PublicOnly, map[bool]string{true: "redacted", false: "none"}[r.Secret != ""])
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
	// AllowPrivate lets the callbacks (and an order's own callback URL)
	// reach loopback, private, link-local and other non-public addresses.
	// Off, such an address is never dialled, checked on the address the
	// name resolved to: a callback URL a merchant controls must not become
	// a way into the switch's own network (cloud metadata, admin ports).
	// Set it for a merchant whose server is inside the operator's network.
	AllowPrivate bool `yaml:"allow_private"`
}

// String keeps the secret out of logs and panics that print a config.
func (t Target) String() string {
	secret := "none"
	if t.Secret != "" {
		secret = "redacted"
	}
	return fmt.Sprintf("{URL:%s Method:%s Unsigned:%t AllowPrivate:%t Secret:%s}", t.URL, t.Method, t.Unsigned, t.AllowPrivate, secret)
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
	for _, id := range slices.Sorted(maps.Keys(c.Merchants)) { // errors in a stable order
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
	rids := make([]string, 0, len(c.ReturnCalls))
	for id := range c.ReturnCalls {
		rids = append(rids, id)
	}
	sort.Strings(rids)
	for _, id := range rids {
		r := c.ReturnCalls[id]
		if len(QueueKey(id)) > saf.MaxQueueLen {
			bad("return call of %s: merchant id longer than %d bytes", id, saf.MaxQueueLen-len(queuePrefix))
		}
		if r.Unsigned == (r.Secret != "") {
			bad("return call of %s: a secret, or unsigned, and not both", id)
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
