package order

import (
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
	c.Registration.CardID = "x"
	require.Empty(t, o.Registration.CardID, "a clone does not share the registration")
}
