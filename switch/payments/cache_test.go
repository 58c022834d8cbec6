package payments

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

func cacheStore(t *testing.T) (*bolt.DB, *Store) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "cache.db"), 0o600, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st, err := NewStore(db)
	require.NoError(t, err)
	return db, st
}

func cachedOrderOf(version uint64) *order.Order {
	t := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	return &order.Order{ID: "o-1", Merchant: "m", Number: "n-1", Amount: 100, Currency: "398", CreatedAt: t, UpdatedAt: t,
		Ops: []order.Operation{}, Version: version}
}

// put commits o as Service.commit does: stored, then cached.
func put(t *testing.T, db *bolt.DB, st *Store, o *order.Order, prev uint64) error {
	t.Helper()
	data, err := json.Marshal(o)
	require.NoError(t, err)
	err = db.Update(func(tx *bolt.Tx) error { return putOrder(tx, st.cache, o, data, prev) })
	if err == nil {
		st.cache.committed(o, data)
	}
	return err
}

// The cache serves an order only while the store holds the bytes it was
// cached with: a change it did not see (another writer, a commit whose
// outcome the journal could not tell) is read from the store, and its
// version is the one the next write is checked against.
func TestOrderCacheFollowsTheStore(t *testing.T) {
	db, st := cacheStore(t)
	o := cachedOrderOf(1)
	require.NoError(t, put(t, db, st, o, 0))
	o.Description = "changed after the commit" // the flow goes on with its copy
	got, err := st.Get("o-1")
	require.NoError(t, err)
	require.Empty(t, got.Description, "the order as committed")
	require.NotNil(t, got.Ops)
	got.Amount = 1 // a reader's copy is its own
	again, err := st.Get("o-1")
	require.NoError(t, err)
	require.Equal(t, int64(100), again.Amount)

	// Version 2 written behind the cache's back.
	behind := cachedOrderOf(2)
	behind.Description = "behind"
	data, err := json.Marshal(behind)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return putOrder(tx, nil, behind, data, 1) }))
	got, err = st.Get("o-1")
	require.NoError(t, err)
	require.Equal(t, "behind", got.Description)
	require.Equal(t, uint64(2), got.Version)

	// A write based on version 1, which the cache still holds, is a lost
	// update: the store says 2.
	err = put(t, db, st, cachedOrderOf(2), 1)
	require.True(t, errors.Is(err, ErrConflict), "%v", err)
	require.NoError(t, put(t, db, st, cachedOrderOf(3), 2))
	got, err = st.Get("o-1")
	require.NoError(t, err)
	require.Equal(t, uint64(3), got.Version)
}

// An order the cache cannot mirror (a time in another zone) is cached
// without its decoding: reads decode, the version is still known.
func TestOrderCacheWithoutCopy(t *testing.T) {
	db, st := cacheStore(t)
	o := cachedOrderOf(1)
	o.ExpiresAt = time.Date(2026, 12, 6, 15, 0, 0, 0, time.FixedZone("Asia/Almaty", 5*3600))
	require.NoError(t, put(t, db, st, o, 0))
	e := st.cache.m["o-1"]
	require.NotNil(t, e)
	require.Nil(t, e.o)
	got, err := st.Get("o-1")
	require.NoError(t, err)
	require.True(t, o.ExpiresAt.Equal(got.ExpiresAt))
	require.NoError(t, put(t, db, st, cachedOrderOf(2), 1))
}

// The cache holds at most orderCacheSize orders, the latest to come in;
// a change of an order it holds replaces it in place.
func TestOrderCacheBounded(t *testing.T) {
	c := newOrderCache()
	put := func(id string, version uint64) {
		o := cachedOrderOf(version)
		o.ID = id
		c.committed(o, []byte(fmt.Sprint(id, version)))
	}
	for i := range orderCacheSize + 10 {
		put(fmt.Sprintf("o-%d", i), 1)
	}
	held := func(id string) bool { _, ok := c.m[id]; return ok }
	require.Len(t, c.m, orderCacheSize)
	require.False(t, held("o-9"))
	require.True(t, held("o-10"))
	put("o-500", 2) // a change of a cached order: nothing evicted
	require.True(t, held("o-10"))
	require.Equal(t, uint64(2), c.m["o-500"].version)
	put("o-new", 1)
	require.False(t, held("o-10"), "the oldest goes")
	require.True(t, held("o-11"))
	require.Len(t, c.m, orderCacheSize)
}

// go test -run '^$' -bench StoreGet -benchmem ./switch/payments
func BenchmarkStoreGet(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "cache.db"), 0o600, &bolt.Options{NoSync: true})
	require.NoError(b, err)
	defer db.Close()
	st, err := NewStore(db)
	require.NoError(b, err)
	o := cachedOrderOf(1)
	o.Card = &order.Card{Masked: "400000******0002", Token: "tok_7f3a9c2e1b4d", Ciphertext: make([]byte, 44), Expiry: "3012", Holder: "LOAD TEST", Brand: "visa"}
	o.ThreeDS = &order.ThreeDSInfo{TransID: "o-1", Status: "Y", ECI: "05", Version: "2.2.0", DSTransID: "6f1c2b3a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"}
	o.Ops = []order.Operation{{ID: "op-1", Type: order.OpPurchase, Status: order.OpApproved, Amount: 100, Time: o.CreatedAt, Bank: "bank-a",
		MTI: "0200", STAN: "123456", RRN: "634009123456", DE7: "1206091403", ApprovalCode: "A1B2C3", ResponseCode: "00", TerminalID: "TERM0001", MerchantID: "MERCHANT0000001"}}
	data, err := json.Marshal(o)
	require.NoError(b, err)
	require.NoError(b, db.Update(func(tx *bolt.Tx) error { return putOrder(tx, nil, o, data, 0) }))
	check := checkCached
	checkCached = nil // the tests' check decodes: not what is timed
	defer func() { checkCached = check }()
	for _, cached := range []bool{false, true} {
		name := "decoded"
		if cached {
			name = "cached"
			st.cache.committed(o, data)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.Get("o-1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// go test -run '^$' -bench OrderCacheCommitted -benchmem ./switch/payments
func BenchmarkOrderCacheCommitted(b *testing.B) {
	c := newOrderCache()
	o := cachedOrderOf(1)
	data, err := json.Marshal(o)
	require.NoError(b, err)
	ids := make([]string, 4*orderCacheSize)
	for i := range ids {
		ids[i] = fmt.Sprintf("0193a4e7-7c1d-7b3a-9f3e-%012d", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		o.ID = ids[i%len(ids)] // a new order each time: the cache is full, one goes
		c.committed(o, data)
	}
}
