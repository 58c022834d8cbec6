package payments

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Orders are keyed by time-ordered ids (UUIDv7) and indexed by creation
// time, so new keys land at the right end of those buckets and an order
// changes mostly in the seconds after it was made. At bbolt's default fill
// every split there left a half-empty page behind: the orders bucket of a
// bench run used 46% of its pages. The buckets appended at their end are
// split 90% full: what an order's change adds still fits.
func TestOrderBucketsFilled(t *testing.T) {
	db, st := cacheStore(t)
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	const n = 3000
	for i := range n {
		created := start.Add(time.Duration(i) * time.Millisecond)
		o := &order.Order{ID: fmt.Sprintf("%016x-%04d", created.UnixNano(), i), Merchant: "m", Number: fmt.Sprint("n-", i),
			Amount: 100, Currency: "398", CreatedAt: created, UpdatedAt: created, Status: order.StatusRegistered,
			Ops: []order.Operation{}, Version: 1}
		require.NoError(t, putStored(t, db, o, 0))
		// Paid a moment later, while the next orders come in.
		if i >= 10 {
			p, err := st.Get(fmt.Sprintf("%016x-%04d", start.Add(time.Duration(i-10)*time.Millisecond).UnixNano(), i-10))
			require.NoError(t, err)
			p.Status, p.Version = order.StatusDeposited, 2
			p.Ops = append(p.Ops, order.Operation{ID: "op-" + p.ID, Type: order.OpPurchase, Status: order.OpApproved, Amount: 100,
				Time: created, Bank: "bank-a", MTI: "0200", STAN: "123456", RRN: "634009123456", ApprovalCode: "A1B2C3", ResponseCode: "00"})
			require.NoError(t, putStored(t, db, p, 1))
		}
	}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketOrders, bucketByTime, bucketByStatus} {
			s := tx.Bucket(name).Stats()
			fill := float64(s.LeafInuse) / float64(s.LeafPageN*db.Info().PageSize)
			require.Greater(t, fill, 0.8, "%s: %d leaves, %.0f%% used", name, s.LeafPageN, 100*fill)
		}
		return nil
	}))
}

func putStored(t *testing.T, db *bolt.DB, o *order.Order, prev uint64) error {
	data, err := json.Marshal(o)
	require.NoError(t, err)
	return db.Update(func(tx *bolt.Tx) error { return putOrder(tx, nil, o, order.StoreValue(data), prev) })
}
