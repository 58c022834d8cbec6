package callbacks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// waitLimit bounds every wait; reaching it fails the test.
const waitLimit = 10 * time.Second

const testSecret = "merchant-secret"

// received is one callback as the merchant's server saw it.
type received struct {
	n      int // 1-based, per server
	method string
	header http.Header
	params url.Values
	raw    string // the query or body as sent
}

// fakeMerchant is a merchant's callback endpoint on a loopback port. It
// answers each request with status(n); status may block (a slow merchant)
// but must give up when the request's context ends.
type fakeMerchant struct {
	srv    *httptest.Server
	reqs   chan received
	count  atomic.Int32
	status func(r *http.Request, n int) int
}

func newFakeMerchant(tb testing.TB, status func(r *http.Request, n int) int) *fakeMerchant {
	tb.Helper()
	m := &fakeMerchant{reqs: make(chan received, 100), status: status}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(m.serve))
	m.srv.Start()
	tb.Cleanup(m.srv.Close)
	return m
}

func alwaysOK(*http.Request, int) int { return http.StatusOK }

func (m *fakeMerchant) serve(w http.ResponseWriter, r *http.Request) {
	n := int(m.count.Add(1))
	rec := received{n: n, method: r.Method, header: r.Header.Clone()}
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		rec.params = r.PostForm
		rec.raw = r.PostForm.Encode()
	} else {
		rec.params = r.URL.Query()
		rec.raw = r.URL.RawQuery
	}
	m.reqs <- rec
	w.WriteHeader(m.status(r, n))
}

func (m *fakeMerchant) next(tb testing.TB) received {
	tb.Helper()
	select {
	case r := <-m.reqs:
		return r
	case <-time.After(waitLimit):
		tb.Fatalf("no callback within %v", waitLimit)
		return received{}
	}
}

func (m *fakeMerchant) target() callbacks.Target {
	return callbacks.Target{URL: m.srv.URL + "/callback", Secret: testSecret, AllowPrivate: true}
}

// outcome is one finished Deliver call.
type outcome struct {
	key string
	out saf.Outcome
	err error
}

// harness is the daemon's wiring in small: a bbolt file, a saf.Queue whose
// deliverer is the Notifier, bound to it.
type harness struct {
	db       *bolt.DB
	path     string
	n        *callbacks.Notifier
	q        *saf.Queue
	reg      *prometheus.Registry
	outcomes chan outcome
	logs     *switchtest.LogBuffer
	stopped  bool
}

func safConfig() saf.Config {
	return saf.Config{
		RetryMin:       time.Millisecond,
		RetryMax:       4 * time.Millisecond,
		MaxAttempts:    -1,
		AttemptTimeout: waitLimit,
		Jitter:         func(d time.Duration) time.Duration { return d },
	}
}

// startHarness opens (or reopens) the bbolt file at path and starts a
// queue and notifier on it. Cleanup closes both, queue first.
func startHarness(tb testing.TB, path string, cfg callbacks.Config) *harness {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(tb, err)
	h := &harness{db: db, path: path, reg: prometheus.NewRegistry(), outcomes: make(chan outcome, 1000), logs: &switchtest.LogBuffer{}}
	log := zerolog.New(h.logs)
	h.n, err = callbacks.New(cfg, log, h.reg, nil)
	require.NoError(tb, err)
	deliver := saf.DelivererFunc(func(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
		out, err := h.n.Deliver(ctx, it, repeat)
		h.outcomes <- outcome{it.Queue, out, err}
		return out, err
	})
	h.q, err = saf.New(db, safConfig(), deliver, log, h.reg)
	require.NoError(tb, err)
	h.n.Bind(h.q)
	require.NoError(tb, h.q.Start(context.Background()))
	tb.Cleanup(func() { h.stop(tb) })
	return h
}

func newHarness(tb testing.TB, cfg callbacks.Config) *harness {
	tb.Helper()
	return startHarness(tb, filepath.Join(tb.TempDir(), "tulpar.db"), cfg)
}

// stop closes the queue (recording the outcomes of attempts in flight),
// checks the file's consistency and closes it. It is idempotent.
func (h *harness) stop(tb testing.TB) {
	tb.Helper()
	if h.stopped {
		return
	}
	h.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(tb, h.q.Close(ctx))
	switchtest.MustCheckDB(tb, h.db)
	require.NoError(tb, h.db.Close())
}

// commit runs InTx in a write transaction, as payments' commit does.
func (h *harness) commit(tb testing.TB, o *order.Order) {
	tb.Helper()
	require.NoError(tb, h.db.Update(func(tx *bolt.Tx) error {
		return h.n.InTx(tx, o, &o.Ops[len(o.Ops)-1])
	}))
}

// nextOutcome waits for the next finished Deliver call.
func (h *harness) nextOutcome(tb testing.TB) outcome {
	tb.Helper()
	select {
	case o := <-h.outcomes:
		return o
	case <-time.After(waitLimit):
		tb.Fatalf("no delivery attempt within %v", waitLimit)
		return outcome{}
	}
}

// nextOutcomeFor skips other queues' outcomes.
func (h *harness) nextOutcomeFor(tb testing.TB, key string) outcome {
	tb.Helper()
	for {
		if o := h.nextOutcome(tb); o.key == key {
			return o
		}
	}
}

func (h *harness) sentCount(tb testing.TB, merchant, outcome string) float64 {
	tb.Helper()
	return switchtest.Counter(tb, h.reg, "tulpar_callbacks_sent_total", "merchant", merchant, "outcome", outcome)
}

// order builds an order of merchant in status st whose operations are ops,
// the last one being the change under test. It carries a card, so that a
// test can check none of it leaks into a callback.
func mkOrder(merchant, id string, twoStage bool, st order.Status, ops ...order.Operation) *order.Order {
	return &order.Order{
		ID: id, Merchant: merchant, Number: "N-" + id[len(id)-4:], TwoStage: twoStage,
		Amount: 150000, Currency: "398", Status: st,
		Card: &order.Card{Masked: "440043******0005", Token: "tok_4400430000000005", Expiry: "3012"},
		Ops:  ops,
	}
}

var opSeq atomic.Int64

func op(t order.OpType, st order.OpStatus, amount int64) order.Operation {
	return order.Operation{ID: fmt.Sprintf("op-%04d", opSeq.Add(1)), Type: t, Status: st, Amount: amount, Time: time.Now().UTC()}
}

func orderID(n int) string { return fmt.Sprintf("0190f3a2-7b1c-7d2e-9f00-%012d", n) }

// flat turns what the merchant received into a map, checksum removed.
func flat(v url.Values) map[string]string {
	m := map[string]string{}
	for k := range v {
		if k != callbacks.ParamChecksum {
			m[k] = v.Get(k)
		}
	}
	return m
}

// flatAll is flat with the checksum kept, as a merchant's handler holds it.
func flatAll(v url.Values) map[string]string {
	m := map[string]string{}
	for k := range v {
		m[k] = v.Get(k)
	}
	return m
}
