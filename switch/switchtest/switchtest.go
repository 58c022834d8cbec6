package switchtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/issuersim/acs"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/audit"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// The test world's names and cards (issuersim's default card book).
const (
	Merchant = "shop"
	BankName = "sim"
	Visa     = "4111111111111111" // active, 1 000 000.00
	MC       = "5555555555555599" // active, 1 000 000.00
	Expiry   = "3012"
	CVV2     = "123"
)

// Options shape the switch; the zero value is one bank in the ascii
// dialect with issuersim's default card book, no 3-D Secure and no log.
type Options struct {
	// Dialect of the bank link: "ascii" (default) or "binary".
	Dialect string
	// DataDir holds the data file and the keys. Default t.TempDir().
	DataDir string
	// Configure has the last word on the switch's config: merchants, API
	// credentials, the hosted page, timeouts.
	Configure func(*daemon.Config)
	// Log receives the switch's log, and the ACS's, as JSON lines at debug
	// level: a LogBuffer, or a file for hsmtest.ScanForSecrets. Default:
	// none.
	Log io.Writer
	// Bank is the bank to use; default a new one (StartBank) with Cards.
	Bank *issuersim.Bank
	// Cards is a new bank's card book; default issuersim.DefaultCards().
	Cards []issuersim.CardConfig
	// ThreeDS starts the simulated 3-D Secure directory server and ACS
	// (issuersim/acs, default config) on loopback and points the switch at
	// it. Default: no 3-D Secure (every card goes at ECI 07).
	ThreeDS bool
}

// Switch is a running switch with its bank.
type Switch struct {
	t       testing.TB
	opts    Options
	Bank    *issuersim.Bank
	D       *daemon.Daemon
	Secrets api.DemoSecrets
	// ACSURL is the simulated 3-D Secure server's base URL (Options.ThreeDS).
	ACSURL  string
	cfg     daemon.Config
	offset  atomic.Int64 // added to the payment flows' clock (Advance)
	stopped bool
}

// Run starts a bank and a switch and waits until the switch takes merchant
// requests. Cleanup stops both and checks the data file (MustVerify).
func Run(t testing.TB, opts Options) *Switch {
	t.Helper()
	s := &Switch{t: t, opts: opts, Bank: opts.Bank}
	if s.Bank == nil {
		s.Bank = startBank(t, opts.Dialect, opts.Cards)
	}
	if s.opts.DataDir == "" {
		s.opts.DataDir = t.TempDir()
	}
	if opts.ThreeDS {
		ds := httptest.NewServer(acs.New(acs.Config{}, s.logger().With().Str("component", "acs").Logger()).Handler())
		t.Cleanup(ds.Close)
		s.ACSURL = ds.URL
		configure := opts.Configure
		s.opts.Configure = func(c *daemon.Config) {
			c.ThreeDS.DirectoryURL = ds.URL
			if configure != nil {
				configure(c)
			}
		}
	}
	s.cfg, s.Secrets = Config(t, s.opts, s.Bank.Addr())
	if s.cfg.Clock == nil {
		s.cfg.Clock = func() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }
	}
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

// StartBank starts a simulated bank with the default card book on a free
// loopback port; cleanup closes it.
func StartBank(t testing.TB, dialect string) *issuersim.Bank {
	t.Helper()
	return startBank(t, dialect, nil)
}

func startBank(t testing.TB, dialect string, cards []issuersim.CardConfig) *issuersim.Bank {
	t.Helper()
	if dialect == "" {
		dialect = "ascii"
	}
	cfg := issuersim.DefaultConfig()
	cfg.Name, cfg.Dialect, cfg.Listen, cfg.AcquirerID = BankName, dialect, "127.0.0.1:0", "400123"
	if cards != nil {
		cfg.Cards = cards
	}
	b, err := issuersim.New(cfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { b.Close() })
	return b
}

// Config is the switch's config for data directory opts.DataDir and a bank
// at bankAddr. The same arguments give the same config, so a killed
// switch's data can be reopened by another process; its keys are created
// in the data directory the first time.
func Config(t testing.TB, opts Options, bankAddr string) (daemon.Config, api.DemoSecrets) {
	t.Helper()
	dialect := opts.Dialect
	if dialect == "" {
		dialect = "ascii"
	}
	cfg := daemon.DefaultConfig()
	// Plain HTTP on loopback: tests of TLS set cfg.TLS themselves.
	cfg.PlainHTTP = true
	cfg.DataDir, cfg.Listen = opts.DataDir, "127.0.0.1:0"
	cfg.HSM.MasterKeyFile = filepath.Join(opts.DataDir, "master.key")
	cfg.HSM.KeyStore = filepath.Join(opts.DataDir, "keys.json")
	require.NoError(t, os.MkdirAll(opts.DataDir, 0o700))
	if os.Getenv(EnvHSM) == hsm.KindPKCS11 {
		cfg.HSM = tokenHSM(t, opts.DataDir)
	} else {
		require.NoError(t, hsm.InitKeyFiles(cfg.HSM))
	}
	l := links.DefaultConfig(BankName, dialect, bankAddr)
	l.AcquirerID, l.RequestTimeout = "400123", 5*time.Second
	l.Backoff = links.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	cfg.Links = []links.Config{l}
	cfg.Routing = routing.Config{Rules: []routing.RuleConfig{{Name: "all", Banks: []routing.BankConfig{{Name: BankName}}}}}
	// Generous: a loaded CI machine must not turn an answer into a timeout.
	cfg.Payments.ExchangeTimeout = 3 * time.Second
	cfg.Payments.Merchants = PaymentsConfig(BankName).Merchants
	cfg.SAF.RetryMin, cfg.SAF.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.JournalProbeInterval = 20 * time.Millisecond
	acfg, secrets, err := api.DemoCredentials(Merchant, "http://placeholder/pay")
	require.NoError(t, err)
	acfg.PaymentPageURL = "" // the daemon's own address, known once it listens
	cfg.API = acfg
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	return cfg, secrets
}

// logger writes to Options.Log, or nowhere.
func (s *Switch) logger() zerolog.Logger {
	if s.opts.Log == nil {
		return zerolog.Nop()
	}
	return zerolog.New(s.opts.Log).With().Timestamp().Logger()
}

func (s *Switch) start() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := daemon.Start(ctx, s.cfg, s.logger())
	require.NoError(s.t, err)
	s.D, s.stopped = d, false
	require.NoError(s.t, d.WaitReady(ctx), "the switch takes merchant requests")
}

// Stop shuts the switch down, then checks its data file (MustVerify): at
// rest, so no delivery or settlement can change the store between reading
// the journal and reading the store. Safe to call twice.
func (s *Switch) Stop() {
	s.t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(s.t, s.D.Shutdown(ctx))
	j, err := journal.Open(filepath.Join(s.opts.DataDir, journal.DataFile), journal.Options{})
	require.NoError(s.t, err)
	defer j.Close()
	MustVerify(s.t, j)
}

// Restart stops the switch and starts it again on the same data, as after
// a clean restart or, following a Child's kill, a crash.
func (s *Switch) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Advance moves the payment flows' clock forward by d, as if d had passed:
// orders past their lifetime expire.
func (s *Switch) Advance(d time.Duration) { s.offset.Add(int64(d)) }

// URL is the switch's base URL.
func (s *Switch) URL() string { return s.D.URL() }

// Eventually waits for cond with a deadline: store-and-forward and the
// settling of outcomes run on their own goroutines.
func (s *Switch) Eventually(cond func() bool, what string) {
	s.t.Helper()
	require.Eventually(s.t, cond, 20*time.Second, 5*time.Millisecond, what)
}

// Order reads an order from the store.
func (s *Switch) Order(id string) *order.Order {
	s.t.Helper()
	o, err := s.D.Payments().Store().Get(id)
	require.NoError(s.t, err)
	return o
}

// Account is the bank's view of a card's account.
func (s *Switch) Account(pan string) issuersim.AccountView {
	s.t.Helper()
	a, ok := s.Bank.Account(pan)
	require.True(s.t, ok, "card in the bank's book")
	return a
}

// RBS calls an RBS endpoint ("register", "paymentorder", ...) as a shop's
// plugin does, with the test merchant's credentials and an HTTP client
// that gives up after timeout (0: 30s). It returns the decoded answer, or
// the client's error (a timeout, when the shop hung up).
func (s *Switch) RBS(endpoint string, params url.Values, timeout time.Duration) (map[string]any, error) {
	return RBS(s.URL(), s.Secrets, endpoint, params, timeout)
}

// RBS is Switch.RBS against any switch URL.
func RBS(base string, sec api.DemoSecrets, endpoint string, params url.Values, timeout time.Duration) (map[string]any, error) {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	form := url.Values{"userName": {sec.UserName}, "password": {sec.Password}}
	for k, v := range params {
		form[k] = v
	}
	hc := &http.Client{Timeout: timeout}
	resp, err := hc.Post(base+"/payment/rest/"+endpoint+".do", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var ans map[string]any
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%s.do: HTTP %d, not JSON: %q", endpoint, resp.StatusCode, body)
	}
	return ans, nil
}

// Register registers an order through register.do (registerPreAuth.do
// when twoStage) and returns its id.
func (s *Switch) Register(number string, amount int64, twoStage bool) string {
	s.t.Helper()
	ep := "register"
	if twoStage {
		ep = "registerPreAuth"
	}
	ans, err := s.RBS(ep, url.Values{"orderNumber": {number}, "amount": {fmt.Sprint(amount)},
		"returnUrl": {"https://shop.example.kz/ok"}}, 0)
	require.NoError(s.t, err)
	id, _ := ans["orderId"].(string)
	require.NotEmpty(s.t, id, "register.do answered %v", ans)
	return id
}

// PayForm is paymentorder.do's form for a card.
func PayForm(orderID, pan string) url.Values {
	return url.Values{"MDORDER": {orderID}, "$PAN": {pan}, "$CVC": {CVV2}, "YYYY": {"20" + Expiry[:2]},
		"MM": {Expiry[2:]}, "TEXT": {"TEST BUYER"}}
}

// Pay pays an order with a card through paymentorder.do.
func (s *Switch) Pay(orderID, pan string) map[string]any {
	s.t.Helper()
	ans, err := s.RBS("paymentorder", PayForm(orderID, pan), 0)
	require.NoError(s.t, err)
	return ans
}

// Knobs sets the bank's behaviour rules.
func (s *Switch) Knobs(rules ...issuersim.Rule) {
	s.Bank.SetKnobs(issuersim.Knobs{Rules: rules})
}

// WaitReceived waits until the bank has received n requests of type mti.
func (s *Switch) WaitReceived(mti string, n int) {
	s.t.Helper()
	s.Eventually(func() bool { return s.Bank.Received(mti) >= n }, fmt.Sprintf("the bank received %d × %s", n, mti))
}

// SAFDrained waits until every store-and-forward queue is empty, dead
// letters included.
func (s *Switch) SAFDrained() {
	s.t.Helper()
	s.Eventually(func() bool {
		st, err := s.D.SAF().Stats()
		require.NoError(s.t, err)
		for _, q := range st {
			if q.Depth > 0 || q.DeadLetters > 0 {
				return false
			}
		}
		return true
	}, "store-and-forward drained")
}

// Books checks, once store-and-forward is quiet, that the switch's orders
// paid with pan account for exactly what the bank's book shows moving on
// its account since before: holds, captures and refunds; that no exchange
// of any order is left pending; and that the day reconciles.
func (s *Switch) Books(pan string, before issuersim.AccountView) {
	s.t.Helper()
	s.SAFDrained()
	masked := iso.MaskPAN(pan)
	var held, captured, refunded int64
	require.NoError(s.t, s.D.Payments().Store().All(func(o *order.Order) error {
		for _, op := range o.Ops {
			require.NotEqual(s.t, order.OpPending, op.Status, "order %s: %s left pending", o.ID, op.Type)
		}
		if o.Card == nil || o.Card.Masked != masked {
			return nil
		}
		switch o.Status {
		case order.StatusApproved:
			held += o.Approved
		case order.StatusDeposited, order.StatusRefunded:
			captured += o.Deposited
			refunded += o.Refunded
		}
		return nil
	}))
	after := s.Account(pan)
	require.Equal(s.t, held, after.Held-before.Held, "holds at the bank = approved orders")
	require.Equal(s.t, captured, after.Captured-before.Captured, "captures at the bank = deposited orders")
	require.Equal(s.t, refunded, after.Refunded-before.Refunded, "refunds at the bank = refunded amounts")
	s.Reconciled()
}

// Reconciled checks, as an auditor would at the end of the day, that the
// bank's settlement file and the switch's journal agree: `tulpar
// reconcile`'s engine over a snapshot of the data file finds no mismatch.
func (s *Switch) Reconciled() {
	s.t.Helper()
	s.SAFDrained()
	dir := s.t.TempDir()
	copyPath := filepath.Join(dir, "copy.db")
	require.NoError(s.t, s.D.Journal().CopyTo(copyPath))
	now := time.Now().UTC()
	var file strings.Builder
	require.NoError(s.t, s.Bank.WriteSettlement(&file, now))
	rows, err := audit.ParseSettlement(strings.NewReader(file.String()))
	require.NoError(s.t, err)
	// The archives are files that never change: the copy is read with them.
	data, err := audit.Open(copyPath, s.D.Journal().ArchiveDir(), time.Second)
	require.NoError(s.t, err)
	defer data.Close()
	res, err := audit.Reconcile(context.Background(), data, BankName, now.Format(time.DateOnly), time.UTC, rows, nil)
	require.NoError(s.t, err)
	var bad []string
	for _, l := range res.Lines {
		if l.Mismatch() {
			bad = append(bad, fmt.Sprintf("%s: %s", l.Result, l.Detail))
		}
	}
	require.Empty(s.t, bad, "reconciliation with the bank's file")
}
