package daemon_test

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestCrashRecovery kills a switch with SIGKILL in the middle of a stream
// of payments, restarts it on the same data, and checks that nothing is
// lost, charged twice, or left in an unknown state.
func TestCrashRecovery(t *testing.T) {
	const pan = "5168494895055780" // its own account: nothing else touches it
	bank := switchtest.StartBank(t, "binary")
	// Answers come back after a random wait, so the kill finds exchanges
	// in flight.
	bank.SetKnobs(issuersim.Knobs{Latency: time.Millisecond, Jitter: 5 * time.Millisecond})
	start, ok := bank.Account(pan)
	require.True(t, ok)
	opts := switchtest.Options{Dialect: "binary", DataDir: t.TempDir(), Bank: bank}
	cfg, sec := switchtest.Config(t, opts, bank.Addr())
	child := switchtest.StartChild(t, "TestFaultChild", cfg)

	// A stream of payments from 8 buyers at once, until the kill: one-stage
	// purchases, and holds of which every other one is completed in part.
	var paid atomic.Int64
	var wg sync.WaitGroup
	rbs := func(endpoint string, form url.Values) map[string]any {
		ans, _ := switchtest.RBS(child.URL, sec, endpoint, form, 0)
		return ans
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; paid.Load() < 150; i++ {
				two := i%2 == 1
				reg := rbs(map[bool]string{false: "register", true: "registerPreAuth"}[two], url.Values{
					"orderNumber": {fmt.Sprintf("w%d-%d", w, i)}, "amount": {fmt.Sprint(1000 + i)}, "returnUrl": {"https://x.kz/"}})
				id, _ := reg["orderId"].(string)
				if id == "" {
					continue
				}
				if ans := rbs("paymentorder", switchtest.PayForm(id, pan)); two && i%4 == 1 && errorCode(ans) == "0" {
					rbs("deposit", url.Values{"orderId": {id}, "amount": {"500"}})
				}
				paid.Add(1)
			}
		}()
	}
	require.Eventually(t, func() bool { return paid.Load() >= 150 }, 60*time.Second, time.Millisecond, "the stream made payments")
	child.Kill()
	wg.Wait()

	s := switchtest.Run(t, opts) // the restart, on the killed process's data
	// Every hold and capture at the bank is an order's, no more: nothing
	// charged twice, nothing pending; at cleanup the chain verifies and
	// rebuilds the store.
	s.Books(pan, start)
	orders := 0
	require.NoError(t, s.D.Payments().Store().All(func(o *order.Order) error {
		orders++
		require.Contains(t, []order.Status{order.StatusRegistered, order.StatusApproved, order.StatusDeposited, order.StatusDeclined},
			o.Status, "order %s", o.ID)
		return nil
	}))
	require.GreaterOrEqual(t, int64(orders), paid.Load())
}
