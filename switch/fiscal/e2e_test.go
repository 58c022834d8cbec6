package fiscal_test

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/fiscal/fiscalsim"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

const (
	simLogin    = "+77010000001"
	simPassword = "kassa-secret"
	simPos      = 4242
)

// startSim starts a fiscal service simulator on loopback for the test.
func startSim(t *testing.T, cfg fiscalsim.Config) *fiscalsim.Server {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = map[string]string{simLogin: simPassword}
	}
	sim, err := fiscalsim.Start("127.0.0.1:0", cfg, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	return sim
}

// withFiscal configures the test merchant's fiscalization at sim. The
// store-and-forward queue's own limit is raised to maxAttempts when lower:
// receipts obey both.
func withFiscal(simURL string, maxAttempts int, preauth bool) func(*daemon.Config) {
	rate := 12
	return func(c *daemon.Config) {
		if maxAttempts > cmp.Or(c.SAF.MaxAttempts, saf.DefaultMaxAttempts) {
			c.SAF.MaxAttempts = maxAttempts
		}
		c.Fiscal = fiscal.Config{MaxAttempts: maxAttempts, Timeout: 2 * time.Second, Merchants: map[string]fiscal.Merchant{
			switchtest.Merchant: {URL: simURL, Login: simLogin, Password: simPassword, PosID: simPos, SectionID: 1,
				TaxRate: &rate, Email: "receipts@shop.example.kz", FiscalizePreauth: preauth},
		}}
	}
}

// receiptsAt are the simulator's receipts by external id; it fails the
// test if any external id has two.
func receiptsAt(t *testing.T, sim *fiscalsim.Server) map[string]fiscalsim.Receipt {
	t.Helper()
	by := map[string]fiscalsim.Receipt{}
	for _, r := range sim.Receipts() {
		_, dup := by[r.ExternalID]
		require.False(t, dup, "two receipts with external id %s", r.ExternalID)
		by[r.ExternalID] = r
	}
	return by
}

// fiscalized waits until order id holds n fiscal receipts.
func fiscalized(s *switchtest.Switch, id string, n int) *order.Order {
	s.Eventually(func() bool { return len(s.Order(id).Fiscal) >= n }, fmt.Sprintf("order %s holds %d fiscal receipts", id, n))
	return s.Order(id)
}

func rbsOK(t *testing.T, s *switchtest.Switch, endpoint string, form url.Values) map[string]any {
	t.Helper()
	ans, err := s.RBS(endpoint, form, 0)
	require.NoError(t, err)
	require.Equal(t, "0", fmt.Sprint(ans["errorCode"]), "%s.do: %v", endpoint, ans)
	return ans
}

// A sale, a completion and a partial refund each make one receipt, with
// its fiscal sign kept with the order; then the fiscal service goes down,
// operations go on, the switch restarts in the middle, and once the
// service is back every operation has exactly one receipt: none lost,
// none twice, even for a sale whose answer was lost on the way.
func TestReceiptsSurviveOutageAndRestart(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	s := switchtest.Run(t, switchtest.Options{Configure: withFiscal(sim.URL(), 1000, false)})
	before := s.Account(switchtest.Visa)

	// A one-stage sale of 1500.50 KZT.
	sale := s.Register("fiscal-sale", 150050, false)
	require.Equal(t, "0", fmt.Sprint(s.Pay(sale, switchtest.Visa)["errorCode"]))
	o := fiscalized(s, sale, 1)
	f := o.Fiscal[0]
	require.Equal(t, order.FiscalSale, f.Kind)
	require.EqualValues(t, 150050, f.Amount)
	require.NotEmpty(t, f.FiscalSign)
	at := receiptsAt(t, sim)[f.ExternalID]
	require.Equal(t, f.FiscalSign, at.FiscalSign)
	require.Equal(t, fiscalsim.StatusSale, at.Status)
	require.Equal(t, "1500.50", at.Payment[0].Sum, "tenge with decimals")
	require.Equal(t, int64(simPos), at.PosID)
	sign, err := fiscalsim.ParseQR(f.QR)
	require.NoError(t, err)
	require.Equal(t, f.FiscalSign, sign, "the QR text names the receipt")

	// A hold is not a sale for this merchant; its completion is.
	hold := s.Register("fiscal-hold", 200000, true)
	require.Equal(t, "0", fmt.Sprint(s.Pay(hold, switchtest.Visa)["errorCode"]))
	rbsOK(t, s, "deposit", url.Values{"orderId": {hold}, "amount": {"180000"}})
	o = fiscalized(s, hold, 1)
	require.Equal(t, order.FiscalSale, o.Fiscal[0].Kind)
	require.EqualValues(t, 180000, o.Fiscal[0].Amount)

	// A partial refund of the sale is a return of what went back.
	rbsOK(t, s, "refund", url.Values{"orderId": {sale}, "amount": {"50025"}})
	o = fiscalized(s, sale, 2)
	require.Equal(t, order.FiscalReturn, o.Fiscal[1].Kind)
	require.EqualValues(t, 50025, o.Fiscal[1].Amount)
	require.Equal(t, fiscalsim.StatusReturn, receiptsAt(t, sim)[o.Fiscal[1].ExternalID].Status)

	// The status shows the receipts.
	st := rbsOK(t, s, "getOrderStatusExtended", url.Values{"orderId": {sale}})
	require.Len(t, st["fiscalReceipts"], 2)

	// The fiscal service goes down; payments go on.
	sim.SetDown(true)
	down := s.Register("fiscal-down", 99900, false)
	require.Equal(t, "0", fmt.Sprint(s.Pay(down, switchtest.Visa)["errorCode"]))
	rbsOK(t, s, "refund", url.Values{"orderId": {hold}, "amount": {"30000"}})
	s.Eventually(func() bool {
		st, err := s.D.SAF().Stats()
		require.NoError(t, err)
		for _, q := range st {
			if q.Queue == fiscal.QueueKey(switchtest.Merchant) && q.Depth == 2 && q.HeadAttempts > 0 {
				return true
			}
		}
		return false
	}, "both receipts queued and tried while the service is down")
	s.Restart()
	require.Empty(t, s.Order(down).Fiscal)

	// Back, but the first sale it takes loses its answer: the switch
	// cannot know it was issued, and must not issue it again.
	sim.LoseNext(1)
	sim.SetDown(false)
	fiscalized(s, down, 1)
	fiscalized(s, hold, 2)
	lost := s.Register("fiscal-lost", 70000, false)
	sim.LoseNext(1)
	require.Equal(t, "0", fmt.Sprint(s.Pay(lost, switchtest.Visa)["errorCode"]))
	fiscalized(s, lost, 1)

	// Exactly one receipt per operation, at the service and with the order.
	s.SAFDrained()
	want := map[string]order.FiscalReceipt{}
	for _, id := range []string{sale, hold, down, lost} {
		for _, f := range s.Order(id).Fiscal {
			want[f.ExternalID] = f
		}
	}
	at2 := receiptsAt(t, sim)
	require.Len(t, at2, 6, "sale, completion, refund, sale, refund, sale")
	require.Zero(t, sim.Duplicates(), "a retry looks the receipt up before sending it again")
	require.Len(t, want, 6)
	for ext, f := range want {
		r, ok := at2[ext]
		require.True(t, ok, "receipt %s at the service", ext)
		require.Equal(t, f.FiscalSign, r.FiscalSign)
		require.Equal(t, f.Amount, r.Sum)
	}
	s.Books(switchtest.Visa, before)
}

// A merchant that fiscalizes pre-authorizations sells at the hold; what a
// completion leaves, and what a reversal releases, goes back on a return.
func TestPreauthIsTheSale(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	s := switchtest.Run(t, switchtest.Options{Configure: withFiscal(sim.URL(), 100, true)})

	hold := s.Register("preauth-complete", 100000, true)
	require.Equal(t, "0", fmt.Sprint(s.Pay(hold, switchtest.Visa)["errorCode"]))
	o := fiscalized(s, hold, 1)
	require.Equal(t, order.FiscalSale, o.Fiscal[0].Kind)
	require.EqualValues(t, 100000, o.Fiscal[0].Amount)
	rbsOK(t, s, "deposit", url.Values{"orderId": {hold}, "amount": {"80000"}})
	o = fiscalized(s, hold, 2)
	require.Equal(t, order.FiscalReturn, o.Fiscal[1].Kind)
	require.EqualValues(t, 20000, o.Fiscal[1].Amount, "what the completion did not capture")

	whole := s.Register("preauth-whole", 50000, true)
	require.Equal(t, "0", fmt.Sprint(s.Pay(whole, switchtest.Visa)["errorCode"]))
	fiscalized(s, whole, 1)
	rbsOK(t, s, "deposit", url.Values{"orderId": {whole}, "amount": {"0"}})

	released := s.Register("preauth-reversed", 40000, true)
	require.Equal(t, "0", fmt.Sprint(s.Pay(released, switchtest.Visa)["errorCode"]))
	fiscalized(s, released, 1)
	rbsOK(t, s, "reverse", url.Values{"orderId": {released}})
	o = fiscalized(s, released, 2)
	require.Equal(t, order.FiscalReturn, o.Fiscal[1].Kind)
	require.EqualValues(t, 40000, o.Fiscal[1].Amount)

	s.SAFDrained()
	require.Len(t, s.Order(whole).Fiscal, 1, "a completion of the whole hold sells nothing more")
	require.Len(t, receiptsAt(t, sim), 5)
}

// A fiscal service that stays down: after max_attempts the receipt goes
// to the dead letters with a warning, where the merchant's dead fiscal
// jobs are listed; an operator's retry, once the service is back, issues
// it, once.
func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	sim.SetDown(true)
	var log switchtest.LogBuffer
	s := switchtest.Run(t, switchtest.Options{Configure: withFiscal(sim.URL(), 3, false), Log: &log})

	id := s.Register("fiscal-dead", 12300, false)
	require.Equal(t, "0", fmt.Sprint(s.Pay(id, switchtest.Visa)["errorCode"]))
	var dead []saf.Item
	s.Eventually(func() bool {
		var err error
		dead, err = s.D.FiscalDeadLetters(switchtest.Merchant)
		require.NoError(t, err)
		return len(dead) == 1
	}, "the receipt in the dead letters")
	require.Equal(t, 3, dead[0].Attempts)
	require.Equal(t, id, dead[0].OrderID)
	require.Contains(t, dead[0].LastError, "HTTP 500")
	require.Contains(t, log.String(), `"dead_letter":"fiscal receipt not issued; an operator must look"`)
	require.NotContains(t, log.String(), switchtest.Visa, "no PAN in the log")
	require.NotContains(t, log.String(), simPassword, "no password in the log")
	require.Empty(t, s.Order(id).Fiscal)
	other, err := s.D.FiscalDeadLetters("another-shop")
	require.NoError(t, err)
	require.Empty(t, other)

	sim.SetDown(false)
	require.NoError(t, s.D.SAF().Retry(context.Background(), dead[0].ID))
	fiscalized(s, id, 1)
	s.SAFDrained()
	require.Len(t, sim.Receipts(), 1)
}
