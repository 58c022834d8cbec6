package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// TestRefundWholeAmount: a refund of 0 returns all that is left, after a
// partial refund too; a repeat with the same key is a replay.
func TestRefundWholeAmount(t *testing.T) {
	h := newHarness(t)
	before := h.Account(visa)
	o := h.pay(h.register(90000, false), visa, visaExp)
	ctx := context.Background()
	res, err := h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 20000})
	require.NoError(t, err)
	require.Equal(t, int64(20000), res.Op.Amount)
	res, err = h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, IdemKey: "all"})
	require.NoError(t, err)
	require.Equal(t, int64(70000), res.Op.Amount, "0: the 70000 left")
	require.Equal(t, order.StatusRefunded, res.Order.Status)
	again, err := h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, IdemKey: "all"})
	require.NoError(t, err)
	require.True(t, again.Replay)
	_, err = h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID})
	require.ErrorIs(t, err, order.ErrTransition, "nothing left: the order is refunded")
	require.Equal(t, before.Balance, h.Account(visa).Balance)
}

// TestAddParams: parameters join the order's, a name given again takes
// the new value, the same ones again write nothing, and another merchant's
// order does not exist.
func TestAddParams(t *testing.T) {
	h := newHarness(t)
	o, err := h.svc.Register(context.Background(), payments.RegisterRequest{
		Merchant: merchant, Number: "params-1", Amount: 100, ReturnURL: "https://shop.example.kz/ok",
		Params: map[string]string{"CMS": "OpenCart"},
	})
	require.NoError(t, err)
	id := o.Order.ID
	ctx := context.Background()
	res, err := h.svc.AddParams(ctx, payments.ParamsRequest{OrderID: id, Merchant: merchant, Params: map[string]string{"CMS": "OpenCart 3", "track": "T-1"}})
	require.NoError(t, err)
	require.False(t, res.Replay)
	require.Equal(t, map[string]string{"CMS": "OpenCart 3", "track": "T-1"}, h.Order(id).Params)
	version := h.Order(id).Version
	res, err = h.svc.AddParams(ctx, payments.ParamsRequest{OrderID: id, Params: map[string]string{"track": "T-1"}})
	require.NoError(t, err)
	require.True(t, res.Replay)
	require.Equal(t, version, h.Order(id).Version, "nothing written")
	_, err = h.svc.AddParams(ctx, payments.ParamsRequest{OrderID: id, Merchant: "other", Params: map[string]string{"a": "b"}})
	require.ErrorIs(t, err, order.ErrNotFound)
	_, err = h.svc.AddParams(ctx, payments.ParamsRequest{OrderID: id, Params: map[string]string{"a": "b"}, Max: 2})
	var in *order.InputError
	require.True(t, errors.As(err, &in))
	require.Equal(t, "params", in.Field)
	require.Equal(t, order.StatusRegistered, h.Order(id).Status, "parameters change nothing of the payment")
}
