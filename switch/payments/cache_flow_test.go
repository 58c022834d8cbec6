package payments_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Readers of an order while its payment and refund commit (with -race):
// each reads a state the store held, never an older one than it read
// before, and the last is the refunded order. The package's tests check
// every order the cache serves against the decoding of its stored bytes.
func TestOrderReadsDuringCommits(t *testing.T) {
	var sent []string
	svc := switchtest.NewService(t, switchtest.PaymentsConfig("a", "b"), payments.Deps{Banks: coreBanks(&sent), Router: bothBanks})
	o := registerCore(t, svc, "cache-readers")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := svc.Store().Get(o.ID)
				if !assertNoError(t, err) {
					return
				}
				if got.Version < last {
					t.Errorf("read version %d after %d", got.Version, last)
					return
				}
				last = got.Version
			}
		})
	}
	_, err := payCore(svc, o)
	require.NoError(t, err)
	_, err = svc.Refund(context.Background(), payments.FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	close(done)
	wg.Wait()
	got, err := svc.Store().Get(o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusRefunded, got.Status)
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
