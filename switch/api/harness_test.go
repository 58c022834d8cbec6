package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Test credentials. shop-a may send card data (paymentorder.do); shop-b
// may not.
const (
	userA, passA, tokenA, keyA = "shop-a-api", "pass-a-secret", "token-a-secret", "sk_test_a"
	userB, passB, keyB         = "shop-b-api", "pass-b-secret", "sk_test_b"
	bankName                   = "bank-a"

	cardOK     = "4111111111111111" // issuersim: active, CVV2 123, expiry 12/30
	cardLow    = "4000001111111118" // issuersim: balance 1000.00
	cardCVV    = "123"
	cardExpiry = "3012"
)

// harness is a switch in miniature: journal, hsm, a real bank simulator
// over a real ISO 8583 link, routing, SAF, payments, and the API over
// real HTTP.
type harness struct {
	t       testing.TB
	svc     *payments.Service
	j       *journal.Journal
	bank    *issuersim.Bank
	srv     *api.Server
	http    *httptest.Server
	reg     *prometheus.Registry
	logs    *syncBuffer
	offset  atomic.Int64 // added to the payments clock, to expire orders
	baseURL string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type bankLinks struct{ set *links.Set }

func (b bankLinks) Send(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error) {
	return b.set.Get(bank).Send(ctx, m)
}
func (b bankLinks) Ready(bank string) bool { return b.set.Ready(bank) }
func (b bankLinks) Codec(bank string) (*iso.Codec, bool) {
	c, err := iso.LoadCodec("ascii")
	return c, err == nil
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, logs: &syncBuffer{}, reg: prometheus.NewRegistry()}

	j, err := journal.Open(filepath.Join(t.TempDir(), "tulpar.db"), journal.Options{})
	require.NoError(t, err)
	h.j = j
	vault, err := hsm.NewEphemeral()
	require.NoError(t, err)

	bcfg := issuersim.DefaultConfig()
	bcfg.Name = bankName
	bank, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, bank.Start(ctx))
	h.bank = bank

	lc := links.DefaultConfig(bankName, "ascii", bank.Addr())
	lc.AcquirerID = "400001"
	set, err := links.NewSet([]links.Config{lc}, links.Deps{Log: zerolog.Nop(), MAC: vault})
	require.NoError(t, err)
	require.NoError(t, set.Start(ctx))
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	require.NoError(t, set.Get(bankName).WaitReady(wctx))
	wcancel()

	router, err := routing.New(routing.Config{Rules: []routing.RuleConfig{{Name: "all", Banks: []routing.BankConfig{{Name: bankName}}}}}, []string{bankName})
	require.NoError(t, err)

	var svc *payments.Service
	q, err := saf.New(j.DB(), saf.Config{RetryMin: 20 * time.Millisecond, RetryMax: time.Second},
		saf.DelivererFunc(func(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
			return svc.Deliver(ctx, it, repeat)
		}), zerolog.Nop(), nil)
	require.NoError(t, err)

	pcfg := payments.DefaultConfig()
	pcfg.Banks = []payments.BankProfile{{Name: bankName, AcquirerID: "400001"}}
	for i, id := range []string{"shop-a", "shop-b"} {
		pcfg.Merchants = append(pcfg.Merchants, payments.Merchant{
			ID: id, Name: "Shop " + id, URL: "https://" + id + ".example.kz", MCC: "5411", City: "Almaty", Country: "KZ",
			Terminals: map[string]payments.Terminal{bankName: {TerminalID: fmt.Sprintf("TLPT000%d", i+1), MerchantID: fmt.Sprintf("00000000000010%d", i+1)}},
		})
	}
	svc, err = payments.New(pcfg, payments.Deps{
		Journal: j, Banks: bankLinks{set}, Router: router, Vault: vault, SAF: q, Log: zerolog.Nop(),
		Now: func() time.Time { return time.Now().Add(time.Duration(h.offset.Load())) },
	})
	require.NoError(t, err)
	h.svc = svc
	require.NoError(t, q.Start(ctx))

	hashA, err := api.HashPassword(passA)
	require.NoError(t, err)
	hashB, err := api.HashPassword(passB)
	require.NoError(t, err)
	cfg := api.Config{
		PaymentPageURL: "https://pay.tulpar.test/pay/",
		Merchants: []api.MerchantConfig{
			{Merchant: "shop-a", UserName: userA, PasswordHash: hashA, Token: api.SHA256Hex(tokenA),
				APIKeys: []string{api.SHA256Hex(keyA)}, AllowCardEntry: true},
			{Merchant: "shop-b", UserName: userB, PasswordHash: hashB, APIKeys: []string{api.SHA256Hex(keyB)}},
		},
	}
	srv, err := api.New(svc, cfg, zerolog.New(h.logs), h.reg)
	require.NoError(t, err)
	h.srv = srv
	h.http = httptest.NewServer(srv.Handler())
	h.baseURL = h.http.URL

	t.Cleanup(func() {
		h.http.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		q.Close(cctx)
		set.Close(cctx)
		bank.Close()
		cancel()
		// Like bbolt's test helper: every test's journal must still verify.
		require.NoError(t, j.Verify(cctx), "journal hash chain")
		require.NoError(t, j.Close())
		// No card data in any log line, ever.
		for _, pan := range []string{cardOK, cardLow} {
			require.NotContains(t, h.logs.String(), pan)
		}
	})
	return h
}

// rbs posts a form to an RBS method and decodes the JSON answer.
func (h *harness) rbs(method string, form url.Values) map[string]any {
	h.t.Helper()
	resp, err := http.PostForm(h.baseURL+"/payment/rest/"+method+".do", form)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	require.NoError(h.t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func credsA(kv ...string) url.Values {
	v := url.Values{"userName": {userA}, "password": {passA}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

type v1Resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// v1 sends a JSON API request.
func (h *harness) v1(method, path, key, idem string, body any) v1Resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.baseURL+path, rd)
	require.NoError(h.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	out := v1Resp{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(h.t, json.Unmarshal(raw, &out.Body), string(raw))
	}
	return out
}

// pay pays an order with a card as the hosted payment page would.
func (h *harness) pay(orderID, pan string) *order.Order {
	h.t.Helper()
	res, err := h.svc.Pay(context.Background(), payments.PayRequest{
		OrderID: orderID, Card: payments.CardInput{PAN: pan, Expiry: cardExpiry, CVV2: cardCVV, Holder: "TEST CARDHOLDER"}, IP: "10.0.0.7",
	})
	require.NoError(h.t, err)
	return res.Order
}

// snapshot is everything a malformed request must leave unchanged.
func (h *harness) snapshot() string {
	h.t.Helper()
	var b strings.Builder
	require.NoError(h.t, h.svc.Store().All(func(o *order.Order) error {
		fmt.Fprintf(&b, "%s v%d s%d a%d d%d r%d ops%d\n", o.ID, o.Version, o.Status, o.Approved, o.Deposited, o.Refunded, len(o.Ops))
		return nil
	}))
	return b.String()
}

func errObj(r v1Resp) map[string]any {
	e, _ := r.Body["error"].(map[string]any)
	return e
}

// srvMetric returns the request counter of one label set.
func (h *harness) srvMetric(endpoint, status, code string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	require.NoError(h.t, err)
	for _, mf := range mfs {
		if mf.GetName() != "tulpar_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["endpoint"] == endpoint && l["status"] == status && l["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	h.t.Fatalf("no tulpar_api_requests_total{endpoint=%q,status=%q,code=%q}", endpoint, status, code)
	return 0
}
