package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

func TestReplayMatchesStore(t *testing.T) {
	f := newFixture(t)
	f.day()
	r, err := Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "%+v", r.Differences)
	require.Equal(t, 6, r.Orders)
	require.Equal(t, 6, r.Matched)
}

// TestReplayFindsAlteredOrder changes one order in the store behind the
// journal's back (as a direct database edit would) and expects replay to
// name exactly that order and the fields changed.
func TestReplayFindsAlteredOrder(t *testing.T) {
	f := newFixture(t)
	f.day()
	f.close()
	db, err := bolt.Open(f.path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(order.BucketOrders)
		var o map[string]any
		require.NoError(t, json.Unmarshal(b.Get([]byte("shop-1-1003")), &o))
		o["status"] = 2 // deposited, though never completed
		o["deposited"] = 930000
		data, _ := json.Marshal(o) // also re-encodes: key order differs, values do not
		return b.Put([]byte("shop-1-1003"), data)
	}))
	require.NoError(t, db.Close())

	r, err := Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.Len(t, r.Differences, 1)
	diff := r.Differences[0]
	require.Equal(t, "shop-1-1003", diff.OrderID)
	require.Equal(t, Differs, diff.Kind)
	require.Equal(t, []FieldDiff{
		{Path: "deposited", Journal: "0", Store: "930000"},
		{Path: "status", Journal: "1", Store: "2"},
	}, diff.Fields)
	require.Equal(t, 5, r.Matched)

	var out bytes.Buffer
	WriteReplay(&out, r)
	require.Contains(t, out.String(), "MISMATCH")
	require.Contains(t, out.String(), "order shop-1-1003: differs")
	require.Contains(t, out.String(), "status: journal 1, store 2")
}

func TestReplayFindsMissingOrders(t *testing.T) {
	f := newFixture(t)
	f.day()
	f.close()
	db, err := bolt.Open(f.path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(order.BucketOrders)
		if err := b.Delete([]byte("shop-1-1002")); err != nil {
			return err
		}
		return b.Put([]byte("planted"), []byte(`{"id":"planted","merchant":"shop-1","status":2,"card":{"ciphertext":"c2VjcmV0"}}`))
	}))
	require.NoError(t, db.Close())

	r, err := Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.Len(t, r.Differences, 2)
	require.Equal(t, Difference{OrderID: "planted", Kind: MissingInJournal}, r.Differences[0])
	require.Equal(t, "shop-1-1002", r.Differences[1].OrderID)
	require.Equal(t, MissingInStore, r.Differences[1].Kind)
}

func TestDiffHidesCardData(t *testing.T) {
	fields, err := diffJSON(
		[]byte(`{"card":{"masked":"440043******0019","ciphertext":"AAAA"},"note":"card 4111111111111111"}`),
		[]byte(`{"card":{"masked":"440043******0019","ciphertext":"BBBB"},"note":"card 4012888888881881"}`))
	require.NoError(t, err)
	require.Len(t, fields, 2)
	require.Equal(t, "card.ciphertext", fields[0].Path)
	require.NotContains(t, fields[0].Journal+fields[0].Store, "AAAA")
	require.Contains(t, fields[0].Journal, "hidden")
	require.Equal(t, `"card 411111******1111"`, fields[1].Journal)
}

// TestReplayChecksIndexes: the order store's query indexes, built as the
// switch builds them, are made again from the orders and compared; a key
// lost or planted behind the store's back is named.
func TestReplayChecksIndexes(t *testing.T) {
	f := newFixture(t)
	f.day()
	d := f.open()
	r, err := Replay(context.Background(), d, nil)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.False(t, r.Index.Built, "the fixture writes no indexes: nothing to compare")
	require.True(t, r.OK())

	db, err := bolt.Open(f.path, 0o600, nil)
	require.NoError(t, err)
	_, err = payments.NewStore(db) // builds them from the orders, as the switch does at start
	require.NoError(t, err)
	require.NoError(t, db.Close())
	d = f.open()
	r, err = Replay(context.Background(), d, nil)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.True(t, r.Index.Built)
	require.True(t, r.OK(), "%v", r.Index.Differences)
	require.Greater(t, r.Index.Keys, 3*6)
	var out bytes.Buffer
	WriteReplay(&out, r)
	require.Contains(t, out.String(), fmt.Sprintf("indexes: %d keys, as the orders make them", r.Index.Keys))

	db, err = bolt.Open(f.path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		o, err := order.Decode(tx.Bucket(order.BucketOrders).Get([]byte("shop-1-1003")))
		require.NoError(t, err)
		b := tx.Bucket(order.BucketByStatus)
		if err := b.Delete(order.StatusKey(o.Merchant, o.Status, o.CreatedAt, o.ID)); err != nil {
			return err
		}
		return b.Put(order.StatusKey(o.Merchant, order.StatusRefunded, o.CreatedAt, o.ID), nil)
	}))
	require.NoError(t, db.Close())
	r, err = Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.False(t, r.OK())
	require.Equal(t, 1, r.Index.Mismatches, "%v", r.Index.Differences)
	require.Contains(t, r.Index.Differences[0], "order shop-1-1003: missing from orders_by_status")
	out.Reset()
	WriteReplay(&out, r)
	require.Contains(t, out.String(), "indexes: 1 differences")
}

// TestReplayChecksPackedIndexKeys: the keys of an order with a UUID id hold
// it packed (order.AppendIDTail); replay finds them, and names the order
// when its orders_by_time key is found in layout 1's form instead (the id
// as text), as a rebuild that left the old key behind would leave it.
func TestReplayChecksPackedIndexKeys(t *testing.T) {
	const v7 = "0190c2a4-7b1e-7c3d-8e4f-a0b1c2d3e4f5"
	f := newFixture(t)
	f.day()
	o := &order.Order{ID: v7, Merchant: "shop-1", Number: "1006", Amount: 120000, Currency: "398", CreatedAt: f.tick(),
		Status: order.StatusDeposited, Approved: 120000, Deposited: 120000, Bank: "halyk", Card: &order.Card{Masked: "440043******0019"}}
	f.commit(o)
	f.close()
	db, err := bolt.Open(f.path, 0o600, nil)
	require.NoError(t, err)
	_, err = payments.NewStore(db)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	d := f.open()
	r, err := Replay(context.Background(), d, nil)
	require.NoError(t, err)
	require.NoError(t, d.Close()) // the file's lock, for the edit below
	require.True(t, r.Index.Built)
	require.True(t, r.OK(), "%v", r.Index.Differences)

	db, err = bolt.Open(f.path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(order.BucketByTime)
		tk := order.TimeKey(o.Merchant, o.CreatedAt, o.ID)
		row := b.Get(tk)
		require.NotNil(t, row)
		require.Len(t, tk, len("shop-1")+1+8+17, "packed")
		if err := b.Delete(tk); err != nil {
			return err
		}
		layout1 := append(append(append([]byte(nil), tk[:len("shop-1")+1+8]...), 0), v7...)
		return b.Put(layout1, row)
	}))
	require.NoError(t, db.Close())
	r, err = Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.False(t, r.OK())
	require.Equal(t, 1, r.Index.Mismatches, "%v", r.Index.Differences)
	require.Contains(t, r.Index.Differences[0], "order "+v7+": orders_by_time has row ,")
}

// link journals a payment link and stores it, in one transaction, as
// switch/paylinks does: the bucket holds the entry's very bytes.
func (f *fixture) link(l map[string]any) {
	f.tb.Helper()
	data, err := json.Marshal(l)
	require.NoError(f.tb, err)
	e := journal.Entry{Time: f.tick(), Direction: journal.Internal, Channel: order.ChannelPaymentLink, Payload: data}
	_, err = f.j.AppendTx(context.Background(), []journal.Entry{e}, func(tx *bolt.Tx, _ []uint64) error {
		b, err := tx.CreateBucketIfNotExists(order.BucketPaymentLinks)
		if err != nil {
			return err
		}
		return b.Put([]byte(l["code"].(string)), data)
	})
	require.NoError(f.tb, err)
}

// TestReplayComparesPaymentLinks: payment links are rebuilt from their
// journal entries too (the last one of each), and a link changed in the
// store behind the journal's back, or stored with no entry, is named.
func TestReplayComparesPaymentLinks(t *testing.T) {
	f := newFixture(t)
	f.day()
	created := day0.Format(time.RFC3339)
	f.link(map[string]any{"code": "AAAAAAAAAA", "merchant": "shop-1", "amount": 150000, "currency": "398", "created_at": created})
	f.link(map[string]any{"code": "BBBBBBBBBB", "merchant": "shop-1", "amount": 5000, "currency": "398", "one_time": true, "created_at": created})
	f.link(map[string]any{"code": "AAAAAAAAAA", "merchant": "shop-1", "amount": 150000, "currency": "398", "created_at": created, "order_count": 1})
	d := f.open()
	r, err := Replay(context.Background(), d, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "%+v", r.Differences)
	require.Equal(t, 2, r.Links)
	require.Equal(t, 2, r.LinksMatched)
	require.NoError(t, d.Close()) // the file's shared lock, before the edit takes it

	require.NoError(t, f.editStore(func(tx *bolt.Tx) error {
		b := tx.Bucket(order.BucketPaymentLinks)
		var l map[string]any
		require.NoError(t, json.Unmarshal(b.Get([]byte("BBBBBBBBBB")), &l))
		l["amount"] = 500 // an invoice cut to a tenth behind the journal's back
		data, _ := json.Marshal(l)
		if err := b.Put([]byte("BBBBBBBBBB"), data); err != nil {
			return err
		}
		return b.Put([]byte("CCCCCCCCCC"), []byte(`{"code":"CCCCCCCCCC","merchant":"shop-1","amount":1,"created_at":"`+created+`"}`))
	}))
	r, err = Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.False(t, r.OK())
	require.Equal(t, []Difference{
		{Link: "BBBBBBBBBB", Kind: Differs, Seq: r.Differences[0].Seq, Fields: []FieldDiff{{Path: "amount", Journal: "5000", Store: "500"}}},
		{Link: "CCCCCCCCCC", Kind: MissingInJournal},
	}, r.Differences)
	require.Equal(t, 6, r.Matched, "the orders still match")
	var out bytes.Buffer
	WriteReplay(&out, r)
	require.Contains(t, out.String(), "payment links: 2 rebuilt from the journal; the store holds 3; 1 match\n")
	require.Contains(t, out.String(), "payment link BBBBBBBBBB: differs from journal entry")
	require.Contains(t, out.String(), "  amount: journal 5000, store 500\n")
	require.Contains(t, out.String(), "payment link CCCCCCCCCC: in the store, no entry in the journal\n")
	require.Contains(t, out.String(), "6 match, 0 differ")
}

// editStore changes the closed data file directly, as a database edit
// behind the switch's back would.
func (f *fixture) editStore(fn func(tx *bolt.Tx) error) error {
	f.tb.Helper()
	f.close()
	db, err := bolt.Open(f.path, 0o600, nil)
	require.NoError(f.tb, err)
	defer db.Close()
	return db.Update(fn)
}

// TestReplayPrunedPaymentLink: a link whose every entry went with archives
// past retention is counted as pruned, not as missing from the journal;
// one changed since is still compared.
func TestReplayPrunedPaymentLink(t *testing.T) {
	f := newFixture(t)
	created := day0.Format(time.RFC3339)
	quiet := map[string]any{"code": "QQQQQQQQQQ", "merchant": "shop-1", "amount": 700, "currency": "398", "created_at": created}
	busy := map[string]any{"code": "BBBBBBBBBB", "merchant": "shop-1", "amount": 900, "currency": "398", "created_at": created}
	f.link(quiet)
	f.link(busy)
	nextDay := day0.Add(24 * time.Hour)
	_, err := f.j.Archive(nextDay, "2026-03-10")
	require.NoError(t, err)
	pruned, err := f.j.Prune(nextDay)
	require.NoError(t, err)
	require.Len(t, pruned, 1)
	f.now = nextDay
	busy["order_count"] = 1
	f.link(busy) // paid through on the next day: its entry is kept

	r, err := Replay(context.Background(), f.open(), nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "%+v", r.Differences)
	require.Equal(t, 1, r.Links)
	require.Equal(t, 2, r.StoreLinks)
	require.Equal(t, 1, r.LinksMatched)
	require.Equal(t, 1, r.LinksPruned, "the quiet link's entries are past retention")
	var out bytes.Buffer
	WriteReplay(&out, r)
	require.Contains(t, out.String(), "payment links: 1 rebuilt from the journal; the store holds 2; 1 match; 1 with no entry since the oldest kept")
}
