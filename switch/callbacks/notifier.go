package callbacks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Enqueuer is what the Notifier needs of the store-and-forward queue;
// saf.Queue satisfies it.
type Enqueuer interface {
	EnqueueTx(tx *bolt.Tx, it saf.Item) (uint64, error)
	Notify(key string)
}

// Errors a caller may test for.
var (
	// ErrNotBound: InTx was called before Bind. It fails the order's
	// commit rather than let a committed change lose its callback.
	ErrNotBound = errors.New("callbacks: InTx before Bind: no queue")
)

// bucketSent records every callback ever queued, so that an event is
// queued once however many commits show it. Key: order id, 0x00, subject
// (an operation id, or empty for a decline), 0x00, the operation name.
// Value: the SAF item id, 8 bytes big-endian. It lives in the bbolt file
// the order store shares and grows by one small key per callback.
var bucketSent = []byte("callbacks.sent")

// payload is a queued callback: whom to send it to and what to say. The
// checksum is not stored: it is computed at each attempt with the secret
// then configured, so a rotated secret signs what is still queued, and no
// secret sits in the queue.
type payload struct {
	Merchant string            `json:"merchant"`
	Params   map[string]string `json:"params"`
	// URL is where the call goes instead of the merchant's configured
	// callback URL: for a return URL call (Return), the order's return URL
	// as it was when the payment was decided; for a callback, the order's
	// own callback address (order.Order.CallbackURL, RBS
	// dynamicCallbackUrl), with the merchant's method and secret.
	Return bool   `json:"return,omitempty"`
	URL    string `json:"url,omitempty"`
}

// Notifier turns order changes into merchant callbacks: InTx queues them in
// the order's own transaction, and Deliver, as the SAF queue's deliverer
// for order.KindCallback, sends them until the merchant answers 200.
//
// A callback is delivered at least once: a merchant that answered 200 but
// whose answer the switch did not record (a crash, a timeout after the
// merchant processed it) hears it again. Merchants must treat the same
// (mdOrder, operation) twice as harmless, as RBS merchants already do.
type Notifier struct {
	cfg    Config
	log    zerolog.Logger
	client *http.Client
	// public dials public addresses only (ReturnCall.PublicOnly).
	public *http.Client
	queue  atomic.Pointer[bound]
	sent   *prometheus.CounterVec
	record Recorder
	urls   func(merchant string) string
}

// URLs sets where a merchant's own callback URL is found (the merchant
// cabinet's settings, through payments): a URL it names replaces the
// configured one, signed with the configured secret, and gives callbacks
// to a merchant the config lists none for, unsigned. f runs inside
// commits: it must not block or touch the disk. Call it before the queue
// starts.
func (n *Notifier) URLs(f func(merchant string) string) { n.urls = f }

// target is where merchant's callbacks go now.
func (n *Notifier) target(merchant string) (Target, bool) {
	t, ok := n.cfg.Merchants[merchant]
	if n.urls != nil {
		if u := n.urls(merchant); u != "" {
			if !ok {
				t = Target{Unsigned: true}
			}
			// A URL the merchant typed: public addresses only unless the
			// operator allows the merchant more (a configured target's
			// allow_private speaks for the configured URL, not this one).
			t.URL, t.AllowPrivate, ok = u, n.cfg.PrivateOK[merchant], true
		}
	}
	return t, ok
}

// Recorder journals what a callback attempt sent (sent true, before it
// goes) and what the merchant answered (sent false). The daemon points it
// at the switch's journal: every message in and out is journaled.
type Recorder func(ctx context.Context, orderID string, sent bool, payload []byte) error

// Record sets where attempts are journaled; call it before the queue starts.
func (n *Notifier) Record(r Recorder) { n.record = r }

type bound struct{ q Enqueuer }

// New validates cfg and returns a Notifier that sends with client (nil:
// a client of its own). It registers its metrics on reg when reg is not nil.
// Redirects are never followed: a 3xx is not the 200 the merchant owes, and
// the parameters go only to the configured URL.
func New(cfg Config, log zerolog.Logger, reg prometheus.Registerer, client *http.Client) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var c http.Client
	if client != nil {
		c = *client // a shallow copy shares the Transport and its connections
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	public := c
	public.Transport = publicTransport()
	n := &Notifier{
		cfg:    cfg.withDefaults(),
		log:    log,
		client: &c,
		public: &public,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tulpar", Name: "callbacks_sent_total",
			Help: "Callback attempts per merchant and outcome (delivered, retry, rejected).",
		}, []string{"merchant", "outcome"}),
	}
	if reg != nil {
		if err := reg.Register(n.sent); err != nil {
			return nil, fmt.Errorf("callbacks: metrics: %w", err)
		}
	}
	return n, nil
}

// Bind gives the Notifier the queue InTx writes to. The queue needs the
// Notifier as its deliverer first, hence the separate step; call it before
// the payments service commits anything.
func (n *Notifier) Bind(q Enqueuer) { n.queue.Store(&bound{q}) }

// InTx is payments.Deps.InTx: it runs inside the bbolt transaction of every
// committed order change, decides whether the change is a callback event
// for a merchant that has callbacks configured, and if so queues it in
// that same transaction. The callback therefore exists if and only if the
// change commits. The queue is woken by tx.OnCommit, that is after the
// commit, so a worker never looks for an item that is not there yet.
//
// It only touches tx and never blocks: it runs in the journal's writer.
func (n *Notifier) InTx(tx *bolt.Tx, o *order.Order, op *order.Operation) error {
	if o == nil || op == nil {
		return nil
	}
	_, callback := n.target(o.Merchant)
	_, returnCall := n.cfg.ReturnCalls[o.Merchant]
	if !callback && !returnCall {
		return nil
	}
	var evs []event
	if ev, ok := classify(o, op); ok {
		evs = append(evs, ev)
	}
	if ev, ok := bindingEvent(o, op); ok {
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil
	}
	b := n.queue.Load()
	if b == nil {
		return ErrNotBound
	}
	sent, err := tx.CreateBucketIfNotExists(bucketSent)
	if err != nil {
		return fmt.Errorf("callbacks: order %s: %w", o.ID, err)
	}
	qkey := QueueKey(o.Merchant)
	queue := func(ev event, key []byte, p payload) error {
		if sent.Get(key) != nil {
			return nil
		}
		data, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("callbacks: order %s: %w", o.ID, err)
		}
		id, err := b.q.EnqueueTx(tx, saf.Item{Queue: qkey, OrderID: o.ID, Kind: order.KindCallback, Payload: data})
		if err != nil {
			return fmt.Errorf("callbacks: order %s: queue %s: %w", o.ID, ev.name, err)
		}
		if err := sent.Put(key, binary.BigEndian.AppendUint64(nil, id)); err != nil {
			return fmt.Errorf("callbacks: order %s: %w", o.ID, err)
		}
		tx.OnCommit(func() { b.q.Notify(qkey) })
		return nil
	}
	for _, ev := range evs {
		if callback {
			if err := queue(ev, sentKey(o.ID, ev), payload{Merchant: o.Merchant, Params: ev.params(o), URL: o.CallbackURL}); err != nil {
				return err
			}
		}
		if returnCall && ev.outcome && o.ReturnURL != "" {
			key := append(sentKey(o.ID, ev), "\x00return"...)
			if err := queue(ev, key, payload{Merchant: o.Merchant, Params: ev.params(o), Return: true, URL: o.ReturnURL}); err != nil {
				return err
			}
		}
	}
	return nil
}

func sentKey(orderID string, ev event) []byte {
	k := make([]byte, 0, len(orderID)+len(ev.subject)+len(ev.name)+2)
	k = append(k, orderID...)
	k = append(k, 0)
	k = append(k, ev.subject...)
	k = append(k, 0)
	return append(k, ev.name...)
}

// maxDrain bounds how much of a merchant's answer is read so that the
// connection can be reused; the body itself means nothing.
const maxDrain = 64 << 10

// Deliver is the saf.Deliverer for items of Kind: it sends the callback to
// the merchant's configured URL, or the order's own callback URL when it
// has one (a return URL call to the order's return URL), signed with the
// merchant's current secret. A 200 answer (a return URL call: any 2xx or
// 3xx) is Delivered; any other status, a network error or
// a timeout is Retry (the queue backs off and tries again, across
// restarts); a merchant no longer configured, or an item that does not
// decode, is Rejected into the dead letters.
func (n *Notifier) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var p payload
	if it.Kind != order.KindCallback {
		return saf.Rejected, fmt.Errorf("callbacks: item %d: kind %q is not %q", it.ID, it.Kind, order.KindCallback)
	}
	if err := json.Unmarshal(it.Payload, &p); err != nil || p.Merchant == "" {
		return saf.Rejected, fmt.Errorf("callbacks: item %d: undecodable payload", it.ID)
	}
	log := n.log.With().Str("merchant", p.Merchant).Str("order", p.Params[ParamMdOrder]).
		Str("operation", p.Params[ParamOperation]).Int("attempt", it.Attempts).Bool("repeat", repeat).Logger()
	var a attempt
	if p.Return {
		rc, ok := n.cfg.ReturnCalls[p.Merchant]
		if !ok {
			err := fmt.Errorf("callbacks: item %d: merchant %s has no return URL call configured", it.ID, p.Merchant)
			n.sent.WithLabelValues(p.Merchant, saf.Rejected.String()).Inc()
			log.Error().Err(err).Str("outcome", saf.Rejected.String()).Msg("return URL call")
			return saf.Rejected, err
		}
		a = attempt{kind: "return URL call", method: http.MethodGet, url: p.URL, secret: rc.Secret, unsigned: rc.Unsigned,
			keepQuery: true, redirectOK: true, client: n.client}
		if rc.PublicOnly {
			a.client = n.public
		}
	} else {
		t, ok := n.target(p.Merchant)
		if !ok {
			err := fmt.Errorf("callbacks: item %d: merchant %s has no callback configured", it.ID, p.Merchant)
			n.sent.WithLabelValues(p.Merchant, saf.Rejected.String()).Inc()
			log.Error().Err(err).Str("outcome", saf.Rejected.String()).Msg("callback")
			return saf.Rejected, err
		}
		a = attempt{kind: "callback", method: t.Method, url: t.URL, secret: t.Secret, unsigned: t.Unsigned, client: n.public}
		if t.AllowPrivate {
			a.client = n.client
		}
		if p.URL != "" {
			a.url = p.URL
		}
	}
	order := p.Params[ParamMdOrder]
	if n.record != nil {
		out, _ := json.Marshal(map[string]any{"merchant": p.Merchant, "url": a.url, "method": a.method, "params": p.Params, "repeat": repeat, "return_url_call": p.Return})
		if err := n.record(ctx, order, true, out); err != nil {
			return saf.Retry, fmt.Errorf("callbacks: item %d: journal: %w", it.ID, err)
		}
	}
	start := time.Now()
	status, err := n.send(ctx, a, p.Params)
	outcome := saf.Delivered
	switch {
	case err != nil:
		outcome = saf.Retry
		err = fmt.Errorf("callbacks: merchant %s: %w", p.Merchant, err)
	case status == http.StatusOK, a.redirectOK && status >= 200 && status < 400:
	default:
		outcome = saf.Retry
		err = fmt.Errorf("callbacks: merchant %s answered HTTP %d", p.Merchant, status)
	}
	if n.record != nil {
		in := map[string]any{"http_status": status, "outcome": outcome.String()}
		if err != nil {
			in["error"] = err.Error()
		}
		b, _ := json.Marshal(in)
		if jerr := n.record(ctx, order, false, b); jerr != nil && outcome == saf.Delivered {
			// The merchant has it, but the journal does not say so: send
			// again (callbacks are at least once) rather than lose the record.
			outcome, err = saf.Retry, fmt.Errorf("callbacks: item %d: journal: %w", it.ID, jerr)
		}
	}
	n.sent.WithLabelValues(p.Merchant, outcome.String()).Inc()
	ev := log.Info()
	if outcome != saf.Delivered {
		ev = log.Warn().Err(err)
	}
	ev.Int("http_status", status).Dur("took", time.Since(start)).Str("outcome", outcome.String()).Msg(a.kind)
	return outcome, err
}

// attempt is how one item is sent.
type attempt struct {
	kind        string // for the log line
	method, url string
	secret      string
	unsigned    bool
	keepQuery   bool // add the parameters after the URL's own query, leaving it byte for byte
	redirectOK  bool // a 3xx (or any 2xx) is delivered
	client      *http.Client
}

// send makes one HTTP attempt and returns the merchant's status code.
func (n *Notifier) send(ctx context.Context, a attempt, params map[string]string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	values := make(url.Values, len(params)+1)
	for k, v := range params {
		values.Set(k, v)
	}
	if !a.unsigned {
		values.Set(ParamChecksum, Checksum(params, a.secret))
	}
	u, err := url.Parse(a.url)
	if err != nil {
		return 0, fmt.Errorf("url: %w", err) // Validate (or the API that took the URL) makes this unreachable
	}
	var req *http.Request
	switch {
	case a.method == http.MethodPost:
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(values.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case a.keepQuery:
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += values.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	default:
		q := u.Query()
		for k, v := range values {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "Tulpar-Callback/1")
	resp, err := a.client.Do(req)
	if err != nil {
		// url.Error repeats the URL with every parameter; the cause is enough.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// errNotPublic refuses a dial to an address that is not on the public
// internet.
var errNotPublic = errors.New("address is not public")

// publicTransport dials only public addresses, checked on the address
// actually dialled after resolution, directly (no proxy, whose address
// would be the one checked).
func publicTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			a, err := netip.ParseAddr(host)
			if err != nil || !PublicAddr(a) {
				return fmt.Errorf("%w: %s", errNotPublic, host)
			}
			return nil
		}}
	t.DialContext = d.DialContext
	return t
}

// PublicAddr reports whether a is on the public internet: not loopback,
// private, link-local, multicast, unspecified, shared (100.64/10) or
// otherwise reserved for local use.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
}
