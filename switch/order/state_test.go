package order

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func orderIn(s Status, twoStage bool) *Order {
	o := &Order{Status: s, TwoStage: twoStage, Amount: 10000, ExpiresAt: t0.Add(20 * time.Minute)}
	switch s {
	case StatusApproved:
		o.Approved = 10000
	case StatusDeposited:
		o.Approved, o.Deposited, o.Refunded = 10000, 8000, 3000
	case StatusRefunded:
		o.Approved, o.Deposited, o.Refunded = 10000, 8000, 8000
	case StatusReversed:
		o.Approved = 10000
	}
	return o
}

var allStatuses = []Status{StatusRegistered, StatusApproved, StatusDeposited, StatusReversed, StatusRefunded, Status3DS, StatusDeclined}

// TestTransitions walks every operation from every status: what is not
// listed as allowed must be refused with ErrTransition.
func TestTransitions(t *testing.T) {
	type op struct {
		name    string
		check   func(*Order) error
		allowed map[Status]bool
	}
	ops := []op{
		{"pay", func(o *Order) error { return CheckPay(o, t0) }, map[Status]bool{StatusRegistered: true, Status3DS: true}},
		{"complete", func(o *Order) error { return CheckComplete(o, 5000) }, map[Status]bool{StatusApproved: true}},
		{"cancel", func(o *Order) error { return CheckCancel(o, 0) }, map[Status]bool{StatusApproved: true}},
		{"refund", func(o *Order) error { return CheckRefund(o, 1000) }, map[Status]bool{StatusDeposited: true}},
	}
	for _, op := range ops {
		for _, st := range allStatuses {
			t.Run(op.name+"/"+st.String(), func(t *testing.T) {
				err := op.check(orderIn(st, true))
				if op.allowed[st] {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, ErrTransition)
				var te *TransitionError
				require.True(t, errors.As(err, &te))
				require.Equal(t, st, te.From)
			})
		}
	}
}

func TestAmountLimits(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"complete zero", CheckComplete(orderIn(StatusApproved, true), 0)},
		{"complete negative", CheckComplete(orderIn(StatusApproved, true), -1)},
		{"complete above hold", CheckComplete(orderIn(StatusApproved, true), 10001)},
		{"refund above refundable", CheckRefund(orderIn(StatusDeposited, true), 5001)},
		{"refund zero", CheckRefund(orderIn(StatusDeposited, true), 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { require.ErrorIs(t, tc.err, ErrAmount) })
	}
	require.NoError(t, CheckComplete(orderIn(StatusApproved, true), 10000), "the whole hold")
	require.NoError(t, CheckRefund(orderIn(StatusDeposited, true), 5000), "exactly what is left")
}

func TestExpiry(t *testing.T) {
	o := orderIn(StatusRegistered, false)
	require.False(t, Expired(o, o.ExpiresAt.Add(-time.Nanosecond)))
	require.True(t, Expired(o, o.ExpiresAt))
	require.ErrorIs(t, CheckPay(o, o.ExpiresAt), ErrTransition)
	for _, st := range allStatuses {
		if st != StatusRegistered && st != Status3DS {
			require.False(t, Expired(orderIn(st, false), o.ExpiresAt.Add(time.Hour)), "%s never expires", st)
		}
	}
	ApplyExpire(o)
	require.Equal(t, StatusDeclined, o.Status)
	require.Equal(t, ActionExpired, o.ActionCode)
}

func TestApplySequence(t *testing.T) {
	one := orderIn(StatusRegistered, false)
	ApplyPayment(one, true, 10000, "")
	require.Equal(t, StatusDeposited, one.Status, "one-stage approval captures")
	require.Equal(t, int64(10000), one.Deposited)

	two := orderIn(StatusRegistered, true)
	ApplyPayment(two, true, 10000, "")
	require.Equal(t, StatusApproved, two.Status, "two-stage approval holds")
	require.Zero(t, two.Deposited)
	ApplyCompletion(two, 7000)
	require.Equal(t, StatusDeposited, two.Status)
	ApplyRefund(two, 3000)
	require.Equal(t, StatusDeposited, two.Status, "partly refunded stays deposited")
	ApplyRefund(two, 4000)
	require.Equal(t, StatusRefunded, two.Status, "refunded in full")
	require.ErrorIs(t, CheckRefund(two, 1), ErrTransition)

	declined := orderIn(StatusRegistered, true)
	ApplyPayment(declined, false, 0, "declined")
	require.Equal(t, StatusDeclined, declined.Status)
	require.Equal(t, "declined", declined.DeclineReason)
}

func TestCheckDecline(t *testing.T) {
	for st, allowed := range map[Status]bool{
		StatusRegistered: true, Status3DS: true, StatusApproved: false, StatusDeposited: false,
		StatusReversed: false, StatusRefunded: false, StatusDeclined: false,
	} {
		err := CheckDecline(&Order{Status: st})
		if allowed {
			require.NoError(t, err, st.String())
			continue
		}
		require.True(t, errors.Is(err, ErrTransition), st.String())
	}
	require.Equal(t, "Order declined by the merchant", ActionText(ActionMerchantDeclined, "en"))
}

// TestCloneCopiesMerchantData: a flow prepares its change on a clone; the
// merchant's own data must not be shared with what readers see.
func TestCloneCopiesMerchantData(t *testing.T) {
	o := &Order{Cart: []CartItem{{Name: "a", Quantity: 1, Price: 1, Code: "A-1", Currency: "840"}},
		Shop: &MerchantData{OrderID: "42", Info: []Info{{Key: "k", Value: "v"}}}}
	c := o.Clone()
	c.Shop.OrderID, c.Shop.Info[0].Value, c.Cart[0].Code = "43", "changed", "B-2"
	require.Equal(t, "42", o.Shop.OrderID)
	require.Equal(t, "v", o.Shop.Info[0].Value)
	require.Equal(t, "A-1", o.Cart[0].Code)
	require.Nil(t, (&Order{}).Clone().Shop)
}

// A card registration's verification hold is released, never captured.
func TestRegistrationIsNeverCaptured(t *testing.T) {
	o := orderIn(StatusApproved, true)
	o.Registration = &Registration{}
	require.ErrorIs(t, CheckComplete(o, 100), ErrTransition)
	require.NoError(t, CheckCancel(o, 0))
	c := o.Clone()
	c.Registration.Status = RegistrationKept
	require.Empty(t, o.Registration.Status, "a clone does not share the registration")
}

// TestStoredCard: a stored card pays while enabled and within its expiry,
// the merchant's later expiry counting; a clone does not share it.
func TestStoredCard(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)
	o := &Order{Card: &Card{Masked: "411111******1111", Expiry: "2612"}, Stored: &StoredCard{ID: "c-1", ClientID: "17"}}
	require.NoError(t, CheckStoredCard(o, "bindingId", now), "good through the last day of its month")
	require.ErrorIs(t, CheckStoredCard(o, "bindingId", now.Add(time.Hour)), ErrCardExpired)
	o.Stored.Expiry = "2701"
	require.Equal(t, "2701", o.StoredExpiry())
	require.NoError(t, CheckStoredCard(o, "bindingId", now.Add(time.Hour)), "the merchant's expiry, not the card's")
	o.Stored.Unbound = true
	err := CheckStoredCard(o, "bindingId", now)
	require.ErrorIs(t, err, ErrCardUnbound)
	var in *InputError
	require.ErrorAs(t, err, &in)
	require.Equal(t, "bindingId", in.Field)
	require.ErrorIs(t, CheckStoredCard(&Order{Card: o.Card}, "cardId", now), ErrNoCard)
	c := o.Clone()
	c.Stored.Unbound = false
	require.True(t, o.Stored.Unbound, "a clone does not share the stored card")
	for _, bad := range []string{"", "26", "2613", "26a1"} {
		require.True(t, CardExpired(bad, now), bad)
	}
}

// TestDecodeKeepsEarlierRegistrations: an order written before stored
// cards had a record of their own kept a kept registration's card id in
// the registration; it is read as the order's stored card.
func TestDecodeKeepsEarlierRegistrations(t *testing.T) {
	o, err := Decode([]byte(`{"id":"o-1","merchant":"m","registration":{"status":"kept","card_id":"c-9"},"card":{"masked":"411111******1111","token":"t","ciphertext":null,"expiry":"3012"},"ops":[],"version":4}`))
	require.NoError(t, err)
	require.Equal(t, &Registration{Status: RegistrationKept}, o.Registration)
	require.Equal(t, &StoredCard{ID: "c-9"}, o.Stored)
	require.Equal(t, uint64(4), o.Version)
	b, err := json.Marshal(o)
	require.NoError(t, err)
	require.NotContains(t, string(b), "card_id", "written back in today's form")
	again, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, o, again)
	plain, err := Decode([]byte(`{"id":"o-2","registration":{}}`))
	require.NoError(t, err)
	require.Nil(t, plain.Stored, "an undecided registration stored nothing")
}
