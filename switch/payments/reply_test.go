package payments

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// minimalService is a Service with only a store and a journal: enough for
// what needs no bank.
func minimalService(t *testing.T) *Service {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "p.db"), journal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, j.Verify(context.Background()))
		require.NoError(t, j.Close())
	})
	st, err := NewStore(j.DB())
	require.NoError(t, err)
	return &Service{cfg: DefaultConfig(), d: Deps{Journal: j, Now: time.Now}, store: st, merchants: map[string]*Merchant{"m": {ID: "m"}},
		limbo: map[string]*unrecorded{}, changed: map[string]chan struct{}{}}
}

func TestReceipts(t *testing.T) {
	s := minimalService(t)
	ctx := context.Background()
	rec, err := s.Receipt("m", "k1")
	require.NoError(t, err)
	require.Nil(t, rec)

	k := ReceiptKey{Merchant: "m", Key: "k1", RequestHash: []byte{1, 2}}
	require.NoError(t, s.RecordReceipt(ctx, k, "x", []byte(`{"req":1}`), []byte(`{"status":201}`)))
	rec, err = s.Receipt("m", "k1")
	require.NoError(t, err)
	require.Equal(t, []byte(`{"status":201}`), rec.Answer)
	require.Equal(t, []byte{1, 2}, rec.RequestHash)
	require.Equal(t, "x", rec.OrderID)
	other, err := s.Receipt("other", "k1")
	require.NoError(t, err)
	require.Nil(t, other, "keys are per merchant")

	// The request and answer committed with the receipt.
	n, err := s.d.Journal.Count()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.NoError(t, s.RecordAPI(ctx, "x", nil, []byte(`{}`)))
	n, _ = s.d.Journal.Count()
	require.EqualValues(t, 3, n)
}

func TestDecline(t *testing.T) {
	s := minimalService(t)
	ctx := context.Background()
	reg, err := s.Register(ctx, RegisterRequest{Merchant: "m", Number: "n1", Amount: 100, ReturnURL: "https://m.kz/"})
	require.NoError(t, err)
	o := reg.Order
	d, err := s.Decline(ctx, FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, d.Order.Status)
	require.Equal(t, order.ActionMerchantDeclined, d.Order.ActionCode)
	require.Equal(t, order.OpDecline, d.Op.Type)
	again, err := s.Decline(ctx, FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	require.True(t, again.Replay, "declined already: the same answer")
	_, err = s.Decline(ctx, FollowUpRequest{OrderID: o.ID, Merchant: "other"})
	require.ErrorIs(t, err, order.ErrNotFound, "another merchant's order does not exist")

	// A lapsed order is expired first: the record says it expired.
	reg, err = s.Register(ctx, RegisterRequest{Merchant: "m", Number: "n2", Amount: 100, ReturnURL: "https://m.kz/"})
	require.NoError(t, err)
	s.d.Now = func() time.Time { return reg.Order.ExpiresAt.Add(time.Second) }
	_, err = s.Decline(ctx, FollowUpRequest{OrderID: reg.Order.ID})
	require.ErrorIs(t, err, order.ErrTransition)
	got, err := s.store.Get(reg.Order.ID)
	require.NoError(t, err)
	require.Equal(t, order.ActionExpired, got.ActionCode)
}

// The receipt of a registration commits with the order and its answer:
// once Register returns, a retry finds the receipt (there is no moment
// where the order exists and the key does not), and the request and the
// answer are journaled around the order's state.
func TestReplyCommitsWithTheOrder(t *testing.T) {
	s := minimalService(t)
	ctx := context.Background()
	reply := Reply{Request: []byte("request"), Receipt: &ReceiptKey{Merchant: "m", Key: "key-1", RequestHash: []byte("h")},
		Answer: func(o *order.Order, _ *threeds.Outcome) []byte { return []byte("answer " + o.ID) }}
	res, err := s.Register(ctx, RegisterRequest{Merchant: "m", Number: "idem-1", Amount: 100, ReturnURL: "https://m.kz/", Reply: reply})
	require.NoError(t, err)
	require.True(t, res.Answered)
	require.True(t, res.RequestJournaled)
	rec, err := s.Receipt("m", "key-1")
	require.NoError(t, err)
	require.NotNil(t, rec)
	require.Equal(t, res.Order.ID, rec.OrderID)
	require.Equal(t, []byte("answer "+res.Order.ID), rec.Answer)
	var channels []string
	require.NoError(t, s.d.Journal.Iterate(1, func(e journal.Entry) error {
		channels = append(channels, e.Channel+":"+e.Direction.String())
		return nil
	}))
	require.Equal(t, []string{"api:in", "state:internal", "api:out"}, channels, "request, change, answer: one commit")

	// A refused registration keeps no receipt and answers nothing.
	reply.Receipt = &ReceiptKey{Merchant: "m", Key: "key-2"}
	res, err = s.Register(ctx, RegisterRequest{Merchant: "m", Number: "idem-1", Amount: 100, ReturnURL: "https://m.kz/", Reply: reply})
	require.ErrorIs(t, err, order.ErrDuplicateNumber)
	require.Nil(t, res)
	rec, err = s.Receipt("m", "key-2")
	require.NoError(t, err)
	require.Nil(t, rec)

	// The same registration again, when the caller asks for it, is the
	// first order, replayed.
	res, err = s.Register(ctx, RegisterRequest{Merchant: "m", Number: "idem-1", Amount: 100, ReturnURL: "https://m.kz/", SameAgain: true})
	require.NoError(t, err)
	require.True(t, res.Replay)
	require.Equal(t, rec0(t, s), res.Order.ID)
}

func rec0(t *testing.T, s *Service) string {
	t.Helper()
	o, err := s.store.ByNumber("m", "idem-1")
	require.NoError(t, err)
	return o.ID
}
