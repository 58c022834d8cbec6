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
// what idempotency.go does that needs no bank.
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
	return &Service{cfg: DefaultConfig(), d: Deps{Journal: j, Now: time.Now}, store: st, merchants: map[string]*Merchant{"m": {ID: "m"}}}
}

func TestIdempotencyRecords(t *testing.T) {
	s := minimalService(t)
	ctx := context.Background()
	rec, err := s.IdempotencyLookup("m", "k1")
	require.NoError(t, err)
	require.Nil(t, rec)

	answer := journal.Entry{Direction: journal.Out, Channel: order.ChannelAPI, Payload: []byte(`{"status":201}`)}
	require.NoError(t, s.IdempotencyFinish(ctx, "m", "k1", IdemRecord{RequestHash: []byte{1, 2}, Status: 201, Body: []byte(`{"id":"x"}`), OrderID: "x"}, answer))
	rec, err = s.IdempotencyLookup("m", "k1")
	require.NoError(t, err)
	require.Equal(t, 201, rec.Status)
	require.Equal(t, []byte(`{"id":"x"}`), rec.Body)
	require.Equal(t, []byte{1, 2}, rec.RequestHash)
	other, err := s.IdempotencyLookup("other", "k1")
	require.NoError(t, err)
	require.Nil(t, other, "keys are per merchant")

	// The answer's entry committed with the record.
	n, err := s.d.Journal.Count()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.NoError(t, s.JournalAPI(ctx, "x", journal.In, []byte(`{}`)))
	n, _ = s.d.Journal.Count()
	require.EqualValues(t, 2, n)
}

func TestDecline(t *testing.T) {
	s := minimalService(t)
	ctx := context.Background()
	o, err := s.Register(ctx, RegisterRequest{Merchant: "m", Number: "n1", Amount: 100, ReturnURL: "https://m.kz/"})
	require.NoError(t, err)
	d, err := s.Decline(ctx, o.ID, nil)
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, d.Status)
	require.Equal(t, order.ActionMerchantDeclined, d.ActionCode)
	require.Equal(t, order.OpDecline, d.Ops[len(d.Ops)-1].Type)
	_, err = s.Decline(ctx, o.ID, nil)
	require.ErrorIs(t, err, order.ErrTransition)

	// A lapsed order is expired first: the record says it expired.
	o2, err := s.Register(ctx, RegisterRequest{Merchant: "m", Number: "n2", Amount: 100, ReturnURL: "https://m.kz/"})
	require.NoError(t, err)
	s.d.Now = func() time.Time { return o2.ExpiresAt.Add(time.Second) }
	got, err := s.Decline(ctx, o2.ID, nil)
	require.ErrorIs(t, err, order.ErrTransition)
	require.Equal(t, order.ActionExpired, got.ActionCode)
}

// The idempotency record of a registration commits with the order: once
// Register returns, a retry finds the record (there is no moment where the
// order exists and the key does not).
func TestIdempotentAnswerCommitsWithTheOrder(t *testing.T) {
	s := minimalService(t)
	ctx, answered := s.WithIdempotentAnswer(context.Background(), "m", "key-1",
		func(o *order.Order, _ *threeds.Outcome) (IdemRecord, []journal.Entry) {
			return IdemRecord{RequestHash: []byte("h"), Status: 201, Body: []byte(o.ID), OrderID: o.ID},
				[]journal.Entry{{Direction: journal.Out, Channel: order.ChannelAPI, Payload: []byte("answer")}}
		})
	o, err := s.Register(ctx, RegisterRequest{Merchant: "m", Number: "idem-1", Amount: 100, ReturnURL: "https://m.kz/"})
	require.NoError(t, err)
	require.True(t, answered())
	rec, err := s.IdempotencyLookup("m", "key-1")
	require.NoError(t, err)
	require.NotNil(t, rec)
	require.Equal(t, o.ID, rec.OrderID)
	require.Equal(t, []byte(o.ID), rec.Body)

	// A refused registration stores no record.
	ctx, answered = s.WithIdempotentAnswer(context.Background(), "m", "key-2",
		func(o *order.Order, _ *threeds.Outcome) (IdemRecord, []journal.Entry) {
			return IdemRecord{Status: 201}, nil
		})
	_, err = s.Register(ctx, RegisterRequest{Merchant: "m", Number: "idem-1", Amount: 100, ReturnURL: "https://m.kz/"})
	require.ErrorIs(t, err, order.ErrDuplicateNumber)
	require.False(t, answered())
	rec, err = s.IdempotencyLookup("m", "key-2")
	require.NoError(t, err)
	require.Nil(t, rec)
}
