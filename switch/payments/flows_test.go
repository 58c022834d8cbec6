package payments_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

const (
	merchant = switchtest.Merchant
	visa     = switchtest.Visa
	visaExp  = switchtest.Expiry
)

// harness is the switch with one simulated bank over real TCP and a real
// bbolt file, without 3-D Secure so each flow is only ISO.
type harness struct {
	*switchtest.Switch
	t   *testing.T
	svc *payments.Service
	n   atomic.Int64
}

func newHarness(t *testing.T) *harness {
	s := switchtest.Run(t, switchtest.Options{})
	return &harness{Switch: s, t: t, svc: s.D.Payments()}
}

func (h *harness) register(amount int64, twoStage bool) *order.Order {
	h.t.Helper()
	o, err := h.svc.Register(context.Background(), payments.RegisterRequest{
		Merchant: merchant, Number: fmt.Sprintf("n-%d", h.n.Add(1)), Amount: amount, TwoStage: twoStage,
		ReturnURL: "https://shop.example.kz/ok",
	})
	require.NoError(h.t, err)
	return o.Order
}

func (h *harness) pay(o *order.Order, pan, exp string) *order.Order {
	h.t.Helper()
	res, err := h.svc.Pay(context.Background(), payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: pan, Expiry: exp, CVV2: "123"}})
	require.NoError(h.t, err)
	return res.Order
}

func (h *harness) opStatus(id string, t order.OpType) order.OpStatus {
	o, err := h.svc.Get(context.Background(), id)
	require.NoError(h.t, err)
	var st order.OpStatus
	for _, op := range o.Ops {
		if op.Type == t {
			st = op.Status
		}
	}
	return st
}

func TestOneStagePayment(t *testing.T) {
	h := newHarness(t)
	before := h.Account(visa)
	o := h.pay(h.register(150000, false), visa, visaExp)
	require.Equal(t, order.StatusDeposited, o.Status)
	require.Equal(t, int64(150000), o.Deposited)
	op := o.Ops[len(o.Ops)-1]
	require.Equal(t, "00", op.ResponseCode)
	require.Len(t, op.ApprovalCode, 6)
	require.Len(t, op.RRN, 12)
	require.Equal(t, "0200", op.MTI)
	require.Equal(t, "411111******1111", o.Card.Masked)
	require.Equal(t, before.Captured+150000, h.Account(visa).Captured)
}

func TestTwoStagePartialCompletionAndRefunds(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	before := h.Account(visa)
	o := h.pay(h.register(150000, true), visa, visaExp)
	require.Equal(t, order.StatusApproved, o.Status)
	require.Equal(t, before.Held+150000, h.Account(visa).Held, "0100 placed a hold")

	fu, err := h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 100000, IdemKey: "cap-1"})
	require.NoError(t, err)
	o = fu.Order
	op := fu.Op
	require.Equal(t, order.StatusDeposited, o.Status)
	require.Equal(t, order.OpQueued, op.Status, "completion goes as an advice through SAF")
	h.Eventually(func() bool { return h.opStatus(o.ID, order.OpCompletion) == order.OpApproved }, "0220 delivered")
	acc := h.Account(visa)
	require.Equal(t, before.Held, acc.Held, "the rest of the hold is released")
	require.Equal(t, before.Captured+100000, acc.Captured)

	// The same completion asked again answers the first answer.
	fu, err = h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 100000, IdemKey: "cap-1"})
	require.NoError(t, err)
	again := fu.Op
	require.Equal(t, op.ID, again.ID)

	for i, amount := range []int64{30000, 50000} {
		fu, err := h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: amount, IdemKey: fmt.Sprintf("r-%d", i)})
		require.NoError(t, err)
		r := fu.Op
		require.Equal(t, order.OpApproved, r.Status, "refund %d", i)
	}
	_, err = h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 20001, IdemKey: "r-3"})
	require.ErrorIs(t, err, order.ErrAmount, "a third refund beyond the capture is refused")
	o, err = h.svc.Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, int64(80000), o.Refunded)
	require.Equal(t, order.StatusDeposited, o.Status)
	require.Equal(t, before.Refunded+80000, h.Account(visa).Refunded)

	// A retried refund with the same key is answered, not sent again.
	fu, err = h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 30000, IdemKey: "r-0"})
	require.NoError(t, err)
	dup := fu.Op
	require.Equal(t, int64(30000), dup.Amount)
	require.Equal(t, before.Refunded+80000, h.Account(visa).Refunded, "the duplicate refund reached no bank")

	_, err = h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 20000, IdemKey: "r-4"})
	require.NoError(t, err)
	o, _ = h.svc.Get(ctx, o.ID)
	require.Equal(t, order.StatusRefunded, o.Status, "refunded in full")
}

func TestCancelReleasesHold(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	before := h.Account(visa)
	o := h.pay(h.register(70000, true), visa, visaExp)
	fu, err := h.svc.Cancel(ctx, payments.FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	o = fu.Order
	op := fu.Op
	require.Equal(t, order.StatusReversed, o.Status)
	require.Equal(t, order.OpApproved, op.Status)
	require.Equal(t, "0400", op.MTI)
	require.Equal(t, before.Held, h.Account(visa).Held)
	again, err := h.svc.Cancel(ctx, payments.FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	require.True(t, again.Replay, "reversed once: the same cancel again is its answer")
	require.Equal(t, op.ID, again.Op.ID)
	_, err = h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 1})
	require.ErrorIs(t, err, order.ErrTransition)
}

func TestForbiddenTransitionsSendNothing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	held := h.pay(h.register(50000, true), visa, visaExp)
	_, err := h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: held.ID, Amount: 100})
	require.ErrorIs(t, err, order.ErrTransition, "refund of a held order")
	_, err = h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: held.ID, Amount: 50001})
	require.ErrorIs(t, err, order.ErrAmount)
	again, err := h.svc.Pay(ctx, payments.PayRequest{OrderID: held.ID, Card: payments.CardInput{PAN: visa, Expiry: visaExp}})
	require.NoError(t, err, "paid twice: the recorded outcome is the answer")
	require.True(t, again.Replay)
	require.Equal(t, order.StatusApproved, again.Order.Status)
	o, err := h.svc.Get(ctx, held.ID)
	require.NoError(t, err)
	require.Len(t, o.Ops, 1, "nothing was sent")
}

func TestDeclineInsufficientFunds(t *testing.T) {
	h := newHarness(t)
	h.Bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{AmountSuffix: "51", ResponseCode: "51"}}})
	o := h.pay(h.register(10051, false), visa, visaExp)
	require.Equal(t, order.StatusDeclined, o.Status)
	require.Equal(t, order.ActionFunds, o.ActionCode)
	require.Equal(t, "51", o.Ops[len(o.Ops)-1].ResponseCode)
	require.Equal(t, "Insufficient funds", order.ActionText(o.ActionCode, "en"))
}

// A bank that never replies: the payment is declined, never approved; an
// 0420 is queued and reaches the bank once it answers again, and the
// bank's books end with no hold and no debit.
func TestNoReplyDeclinesAndReverses(t *testing.T) {
	h := newHarness(t)
	before := h.Account(visa)
	h.Bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{Action: "no_reply"}}})
	o := h.pay(h.register(40000, true), visa, visaExp)
	require.Equal(t, order.StatusDeclined, o.Status)
	require.Equal(t, "timeout", o.DeclineReason)
	require.Equal(t, order.ActionNoIssuer, o.ActionCode)
	var auto *order.Operation
	for i := range o.Ops {
		if o.Ops[i].Type == order.OpAutoReversal {
			auto = &o.Ops[i]
		}
	}
	require.NotNil(t, auto, "a reversal is queued")
	require.Equal(t, "0420", auto.MTI)
	require.Equal(t, before.Held+40000, h.Account(visa).Held, "the bank applied the hold it never answered")

	h.Bank.SetKnobs(issuersim.Knobs{})
	h.Eventually(func() bool { return h.opStatus(o.ID, order.OpAutoReversal) == order.OpApproved }, "0420/0421 delivered")
	require.Equal(t, before.Held, h.Account(visa).Held, "hold reversed")
	require.Equal(t, before.Captured, h.Account(visa).Captured)
}

func TestRebuildMatchesStore(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	o := h.pay(h.register(20000, true), visa, visaExp)
	_, err := h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	h.pay(h.register(30000, false), visa, visaExp)
	h.Eventually(func() bool { return h.opStatus(o.ID, order.OpCompletion) == order.OpApproved }, "0220 delivered")
	rebuilt, err := payments.Rebuild(h.D.Journal())
	require.NoError(t, err)
	require.Len(t, rebuilt, 2)
	diffs, err := payments.Diff(rebuilt, h.svc.Store())
	require.NoError(t, err)
	require.Empty(t, diffs)
}

func TestUnknownOrder(t *testing.T) {
	h := newHarness(t)
	_, err := h.svc.Get(context.Background(), "no-such-order")
	require.True(t, errors.Is(err, order.ErrNotFound))
	_, err = h.svc.Register(context.Background(), payments.RegisterRequest{Merchant: merchant, Number: "n-1", Amount: 0})
	var ie *order.InputError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "amount", ie.Field)
}

// An order paid after its lifetime is declined with -2007, and the card
// reaches no bank.
func TestPayExpiredOrder(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	reg, err := h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "late", Amount: 100,
		ReturnURL: "https://shop.example.kz/ok", Lifetime: time.Nanosecond})
	require.NoError(t, err)
	o := reg.Order
	_, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: visa, Expiry: visaExp}})
	require.ErrorIs(t, err, order.ErrTransition)
	o, err = h.svc.Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, o.Status)
	require.Equal(t, order.ActionExpired, o.ActionCode)
	require.Nil(t, o.Card, "no card data kept for an order that was never paid")
	// The order is not locked forever: it can be read and declined again.
	_, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: visa, Expiry: visaExp}})
	require.ErrorIs(t, err, order.ErrTransition)
}

// A caller's answer commits with the flow's final change only: not with
// the write-ahead of an exchange, and not on a replay; the request commits
// with the first change.
func TestAnswerCommitsWithTheFinalChange(t *testing.T) {
	h := newHarness(t)
	reply := func(tag string) payments.Reply {
		return payments.Reply{Request: []byte(tag + "-request"), Answer: func(o *order.Order, _ *threeds.Outcome) []byte {
			return []byte(tag + ":" + o.Status.String())
		}}
	}
	reg, err := h.svc.Register(context.Background(), payments.RegisterRequest{Merchant: merchant, Number: "ans-1", Amount: 100,
		ReturnURL: "https://x.kz/", Reply: reply("register")})
	require.NoError(t, err)
	require.True(t, reg.Answered)
	o := reg.Order

	res, err := h.svc.Pay(context.Background(), payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: visa, Expiry: visaExp},
		Reply: reply("pay")})
	require.NoError(t, err)
	require.True(t, res.Answered)
	entries, err := h.D.Journal().ByOrder(o.ID)
	require.NoError(t, err)
	var api []string
	for _, e := range entries {
		if e.Channel == order.ChannelAPI {
			api = append(api, string(e.Payload))
		}
	}
	require.Equal(t, []string{"register-request", "register:registered", "pay-request", "pay:" + res.Order.Status.String()}, api,
		"each request and answer once, the answer built from the order as finally committed")
	last := entries[len(entries)-1]
	require.Equal(t, order.ChannelAPI, last.Channel, "the answer is the last entry, after the bank's response")

	// A repeated payment commits nothing: the caller answers the recorded
	// outcome itself.
	again, err := h.svc.Pay(context.Background(), payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: visa, Expiry: visaExp},
		Reply: reply("again")})
	require.NoError(t, err)
	require.True(t, again.Replay)
	require.False(t, again.Answered)
	require.False(t, again.RequestJournaled)
}

// A refund asked right after a completion waits for the bank to
// acknowledge the completion advice: sent before it, the bank would find
// nothing captured and decline.
func TestRefundRightAfterCompletion(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	before := h.Account(visa)
	o := h.pay(h.register(60000, true), visa, visaExp)
	h.Bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{MTI: "0220", Action: "late", Delay: 200 * time.Millisecond}}})
	_, err := h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 50000})
	require.NoError(t, err)
	fu, err := h.svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 20000})
	require.NoError(t, err)
	r := fu.Op
	require.Equal(t, order.OpApproved, r.Status, "the bank had the capture when the refund came")
	acc := h.Account(visa)
	require.Equal(t, before.Captured+50000, acc.Captured)
	require.Equal(t, before.Refunded+20000, acc.Refunded)
}

// TestCompletionReplacesTheCart: a completion that names goods (the
// Processing.kz completeTransactionEx) makes them the order's cart; one
// that names none leaves the cart; the merchant's data stays as sent.
func TestCompletionReplacesTheCart(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sold := []order.CartItem{{Name: "Kettle", Quantity: 1, Price: 9000, Code: "K-1"}, {Name: "Cup", Quantity: 1, Price: 1000}}
	res, err := h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "cart-1", Amount: 10000, TwoStage: true,
		ReturnURL: "https://shop.example.kz/ok", Cart: sold,
		Shop: &order.MerchantData{OrderID: "42", LocalTime: "01.02.2012 18:34:58", Info: []order.Info{{Key: "k", Value: "v"}}}})
	require.NoError(t, err)
	o := h.pay(res.Order, visa, visaExp)
	require.Equal(t, order.StatusApproved, o.Status)
	shipped := []order.CartItem{{Name: "Kettle", Quantity: 1, Price: 9000, Code: "K-1"}}
	done, err := h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 9000, Cart: shipped})
	require.NoError(t, err)
	require.Equal(t, shipped, done.Order.Cart)
	require.Equal(t, "42", done.Order.Shop.OrderID)
	stored, err := h.svc.Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, shipped, stored.Cart)
	require.Equal(t, []order.Info{{Key: "k", Value: "v"}}, stored.Shop.Info)

	res, err = h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "cart-2", Amount: 10000, TwoStage: true,
		ReturnURL: "https://shop.example.kz/ok", Cart: sold})
	require.NoError(t, err)
	o = h.pay(res.Order, visa, visaExp)
	done, err = h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	require.Equal(t, sold, done.Order.Cart, "no goods named: the cart stays")
}

// TestCardRegistration: a registration is a verification hold the buyer
// pays; the merchant keeps the card (the hold is released, the card gets
// an id) and pays a later order with it, the buyer giving the CVV2 alone;
// the card id is the merchant's own; a kept card is never a clear PAN.
func TestCardRegistration(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	before := h.Account(visa)
	res, err := h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "reg-1", Amount: 100, Registration: true,
		ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	reg := h.pay(res.Order, visa, visaExp)
	require.True(t, reg.TwoStage, "a registration is a hold")
	require.Equal(t, order.StatusApproved, reg.Status)
	_, err = h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: reg.ID})
	require.ErrorIs(t, err, order.ErrTransition, "a verification hold is never captured")

	// A reversal the bank declines decides nothing.
	h.Bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{MTI: "0400", ResponseCode: "96"}}})
	_, err = h.svc.CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: reg.ID}, true)
	require.ErrorIs(t, err, payments.ErrBankRefused)
	o, err := h.svc.Get(ctx, reg.ID)
	require.NoError(t, err)
	require.Empty(t, o.Registration.Status)
	require.Empty(t, o.Registration.Deciding, "nor leaves one going ahead")
	require.Nil(t, o.Stored)
	h.Bank.SetKnobs(issuersim.Knobs{})

	done, err := h.svc.CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: reg.ID, Merchant: merchant}, true)
	require.NoError(t, err)
	require.Equal(t, order.StatusReversed, done.Order.Status, "the verification hold is released")
	require.Equal(t, order.RegistrationKept, done.Order.Registration.Status)
	require.NotNil(t, done.Order.Stored, "the kept card is the order's stored card")
	cardID := done.Order.Stored.ID
	require.Len(t, cardID, 36)
	again, err := h.svc.CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: reg.ID}, true)
	require.NoError(t, err)
	require.True(t, again.Replay)
	_, err = h.svc.CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: reg.ID}, false)
	require.ErrorIs(t, err, order.ErrTransition, "decided already")
	require.Equal(t, before.Held, h.Account(visa).Held)

	// A later order paid with the card: CVV2 only.
	res, err = h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "pay-1", Amount: 5000, CardID: cardID,
		ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	require.Equal(t, cardID, res.Order.StoredCard)
	require.Equal(t, "411111******1111", res.Order.Card.Masked)
	paid, err := h.svc.Pay(ctx, payments.PayRequest{OrderID: res.Order.ID, Card: payments.CardInput{CVV2: "123"}})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, paid.Order.Status, "action code %d", paid.Order.ActionCode)
	require.Equal(t, int64(5000), h.Account(visa).Captured-before.Captured)

	_, err = h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "pay-2", Amount: 5000, CardID: "nope",
		ReturnURL: "https://shop.example.kz/ok"})
	var in *order.InputError
	require.ErrorAs(t, err, &in)
	require.Equal(t, "cardId", in.Field)
	_, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: reg.ID, Card: payments.CardInput{CVV2: "123"}})
	require.ErrorIs(t, err, payments.ErrCard, "an order without a registered card needs a PAN")

	// Dropped: the hold is released, no card id.
	res, err = h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "reg-2", Amount: 100, Registration: true,
		ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	h.pay(res.Order, visa, visaExp)
	done, err = h.svc.CompleteRegistration(ctx, payments.FollowUpRequest{OrderID: res.Order.ID}, false)
	require.NoError(t, err)
	require.Equal(t, order.RegistrationDropped, done.Order.Registration.Status)
	require.Nil(t, done.Order.Stored)
}

// TestOrderStoredAsJSON: a data file from before the store compressed
// orders holds their JSON; such an order reads, changes (its version
// checked against the old value) and is written back compressed. And an
// order stored compressed changes after a restart, when no cache knows
// its version.
func TestOrderStoredAsJSON(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	o := h.pay(h.register(20000, true), visa, visaExp)
	o2 := h.pay(h.register(30000, true), visa, visaExp)
	h.Restart()
	h.svc = h.D.Payments()
	fu, err := h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o2.ID})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, fu.Order.Status)

	db := h.D.Journal().DB()
	var plain []byte
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(order.BucketOrders)
		v := b.Get([]byte(o.ID))
		require.NotEqual(t, byte('{'), v[0], "stored compressed")
		js, err := order.StoredJSON(v)
		require.NoError(t, err)
		require.Less(t, len(v), len(js)/2)
		plain = append([]byte(nil), js...)
		return b.Put([]byte(o.ID), plain)
	}))
	got, err := h.svc.Get(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusApproved, got.Status)
	fu, err = h.svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, fu.Order.Status)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(order.BucketOrders).Get([]byte(o.ID))
		require.NotEqual(t, byte('{'), v[0], "written back compressed")
		return nil
	}))
	for _, id := range []string{o.ID, o2.ID} {
		h.Eventually(func() bool { return h.opStatus(id, order.OpCompletion) == order.OpApproved }, "0220 delivered")
	}
	rebuilt, err := payments.Rebuild(h.D.Journal())
	require.NoError(t, err)
	diffs, err := payments.Diff(rebuilt, h.svc.Store())
	require.NoError(t, err)
	require.Empty(t, diffs)
}
