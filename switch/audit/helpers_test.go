package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// fixture is a data file written the way switch/payments writes it: every
// order change journaled as a "state" entry in the transaction that puts
// the order into the "orders" bucket, each ISO message as an entry with a
// payments.ISORecord payload.
type fixture struct {
	tb    testing.TB
	path  string
	db    *bolt.DB
	j     *journal.Journal
	codec *iso.Codec
	stan  int
	now   time.Time
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), journal.DataFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	require.NoError(tb, err)
	require.NoError(tb, db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(order.BucketOrders)
		return err
	}))
	j, err := journal.New(db, journal.Options{MaxBatchEntries: 1 << 16})
	require.NoError(tb, err)
	codec, err := iso.LoadCodec("ascii")
	require.NoError(tb, err)
	f := &fixture{tb: tb, path: path, db: db, j: j, codec: codec, now: day0}
	tb.Cleanup(func() { f.close() })
	return f
}

// day0 is the fixtures' business day, 09:00 UTC.
var day0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// close ends writing; the file can then be opened read-only with Open.
func (f *fixture) close() {
	if f.j == nil {
		return
	}
	require.NoError(f.tb, f.j.Close())
	require.NoError(f.tb, f.db.Close())
	f.j, f.db = nil, nil
}

// open closes the writer and opens the file as an auditor does.
func (f *fixture) open() *Data {
	f.tb.Helper()
	f.close()
	d, err := Open(f.path, "", 0)
	require.NoError(f.tb, err)
	f.tb.Cleanup(func() { d.Close() })
	return d
}

func (f *fixture) tick() time.Time {
	f.now = f.now.Add(7 * time.Minute)
	return f.now
}

// commit journals entries and the order's new state, and stores the order,
// in one transaction, as payments.Service.commit does.
func (f *fixture) commit(o *order.Order, entries ...journal.Entry) {
	f.tb.Helper()
	o.Version++
	o.UpdatedAt = f.now
	data, err := json.Marshal(o)
	require.NoError(f.tb, err)
	for i := range entries {
		entries[i].OrderID = o.ID
		if entries[i].Time.IsZero() {
			entries[i].Time = f.now
		}
	}
	entries = append(entries, journal.Entry{Time: f.now, Direction: journal.Internal, Channel: order.ChannelState, OrderID: o.ID, Payload: data})
	_, err = f.j.AppendTx(context.Background(), entries, func(tx *bolt.Tx, _ []uint64) error {
		return tx.Bucket(order.BucketOrders).Put([]byte(o.ID), data)
	})
	require.NoError(f.tb, err)
}

// isoEntry journals m as payments does: packed without card data.
func (f *fixture) isoEntry(bank string, dir journal.Direction, m *iso.Message) journal.Entry {
	f.tb.Helper()
	rec := order.ISORecord{Bank: bank, Dialect: "ascii", PAN: []byte("ciphertext")}
	wire, err := f.codec.Pack(order.Sanitize(m))
	require.NoError(f.tb, err)
	rec.Wire = wire
	payload, err := json.Marshal(rec)
	require.NoError(f.tb, err)
	return journal.Entry{Time: f.now, Direction: dir, Channel: bank, MTI: m.MTI, STAN: m.STAN, RRN: m.RRN, Payload: payload}
}

// newOrder registers an order.
func (f *fixture) newOrder(merchant, number string, amount int64, twoStage bool) *order.Order {
	f.tick()
	o := &order.Order{
		ID: fmt.Sprintf("%s-%s", merchant, number), Merchant: merchant, Number: number, Amount: amount,
		Currency: "398", CreatedAt: f.now, TwoStage: twoStage, Bank: "halyk",
		Card: &order.Card{Masked: "440043******0019", Token: "tok", Ciphertext: []byte("ciphertext"), Expiry: "2812"},
	}
	f.commit(o, journal.Entry{Direction: journal.In, Channel: order.ChannelAPI,
		Payload: []byte(fmt.Sprintf(`{"op":"register","orderNumber":%q,"amount":%d,"pan":"4400430000000019","cvv2":"123"}`, number, amount))})
	return o
}

// exchange runs one operation with the bank: request out, response in,
// the order's new state. rc "" means no answer (timeout).
func (f *fixture) exchange(o *order.Order, typ order.OpType, mti, proc string, amount int64, rc, of string) *order.Operation {
	f.tb.Helper()
	f.tick()
	f.stan++
	stan := fmt.Sprintf("%06d", f.stan)
	rrn := fmt.Sprintf("6069%08d", f.stan)
	if of != "" && typ != order.OpRefund {
		rrn = o.Op(of).RRN // follow-ups carry the original's RRN
	}
	req := &iso.Message{MTI: mti, PAN: "4400430000000019", ProcessingCode: proc, STAN: stan, RRN: rrn,
		TerminalID: "TRM00001", MerchantID: "MERCHANT0000001", Currency: "398", CVV2: "123", Expiry: "2812",
		TransmissionTime: f.now.Format("0102150405")}
	req.SetAmount(amount)
	op := order.Operation{ID: fmt.Sprintf("op%d", len(o.Ops)+1), Type: typ, Status: order.OpPending, Amount: amount,
		Time: f.now, Bank: "halyk", MTI: mti, STAN: stan, RRN: rrn, TerminalID: "TRM00001", MerchantID: "MERCHANT0000001", Of: of}
	o.Ops = append(o.Ops, op)
	f.commit(o, f.isoEntry("halyk", journal.Out, req))
	p := &o.Ops[len(o.Ops)-1]
	switch rc {
	case "":
		p.Status = order.OpTimeout
		f.commit(o)
		return p
	case "00":
		p.Status = order.OpApproved
		p.ApprovalCode = fmt.Sprintf("A%05d", f.stan)
	default:
		p.Status = order.OpDeclined
	}
	p.ResponseCode = rc
	resp := iso.Respond(req, rc)
	resp.ApprovalCode = p.ApprovalCode
	f.commit(o, f.isoEntry("halyk", journal.In, resp))
	return p
}

// day writes the fixtures' business day: every kind of report line.
func (f *fixture) day() {
	f.tb.Helper()
	// Two-stage, completed: A then F.
	o := f.newOrder("shop-1", "1001", 500000, true)
	a := f.exchange(o, order.OpAuthorization, "0100", "000000", 500000, "00", "")
	o.Status, o.Approved = order.StatusApproved, 500000
	f.exchange(o, order.OpCompletion, "0220", "000000", 500000, "00", a.ID)
	o.Status, o.Deposited = order.StatusDeposited, 500000
	f.commit(o)
	// Two-stage, cancelled: A then R.
	o = f.newOrder("shop-1", "1002", 750000, true)
	a = f.exchange(o, order.OpAuthorization, "0100", "000000", 750000, "00", "")
	f.exchange(o, order.OpReversal, "0400", "000000", 750000, "00", a.ID)
	o.Status = order.StatusReversed
	f.commit(o)
	// Held and left open.
	o = f.newOrder("shop-1", "1003", 930000, true)
	f.exchange(o, order.OpAuthorization, "0100", "000000", 930000, "00", "")
	o.Status, o.Approved = order.StatusApproved, 930000
	f.commit(o)
	// Declined.
	o = f.newOrder("shop-1", "1004", 1580000, true)
	f.exchange(o, order.OpAuthorization, "0100", "000000", 1580000, "51", "")
	o.Status = order.StatusDeclined
	f.commit(o)
	// One-stage, partly refunded: F then C.
	o = f.newOrder("shop-1", "1005", 200000, false)
	p := f.exchange(o, order.OpPurchase, "0200", "000000", 200000, "00", "")
	f.exchange(o, order.OpRefund, "0200", "200000", 50000, "00", p.ID)
	o.Status, o.Deposited, o.Refunded = order.StatusDeposited, 200000, 50000
	f.commit(o)
	// Another merchant.
	o = f.newOrder("shop-2", "77", 100000, false)
	f.exchange(o, order.OpPurchase, "0200", "000000", 100000, "00", "")
	o.Status, o.Deposited = order.StatusDeposited, 100000
	f.commit(o)
}
