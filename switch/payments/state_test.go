package payments

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
	require.False(t, CheckExpire(o, o.ExpiresAt.Add(-time.Nanosecond)))
	require.True(t, CheckExpire(o, o.ExpiresAt))
	require.ErrorIs(t, CheckPay(o, o.ExpiresAt), ErrTransition)
	for _, st := range allStatuses {
		if st != StatusRegistered && st != Status3DS {
			require.False(t, CheckExpire(orderIn(st, false), o.ExpiresAt.Add(time.Hour)), "%s never expires", st)
		}
	}
	applyExpire(o)
	require.Equal(t, StatusDeclined, o.Status)
	require.Equal(t, ActionExpired, o.ActionCode)
}

func TestApplySequence(t *testing.T) {
	one := orderIn(StatusRegistered, false)
	applyPayment(one, true, 10000, "")
	require.Equal(t, StatusDeposited, one.Status, "one-stage approval captures")
	require.Equal(t, int64(10000), one.Deposited)

	two := orderIn(StatusRegistered, true)
	applyPayment(two, true, 10000, "")
	require.Equal(t, StatusApproved, two.Status, "two-stage approval holds")
	require.Zero(t, two.Deposited)
	applyCompletion(two, 7000)
	require.Equal(t, StatusDeposited, two.Status)
	applyRefund(two, 3000)
	require.Equal(t, StatusDeposited, two.Status, "partly refunded stays deposited")
	applyRefund(two, 4000)
	require.Equal(t, StatusRefunded, two.Status, "refunded in full")
	require.ErrorIs(t, CheckRefund(two, 1), ErrTransition)

	declined := orderIn(StatusRegistered, true)
	applyPayment(declined, false, 0, "declined")
	require.Equal(t, StatusDeclined, declined.Status)
	require.Equal(t, "declined", declined.DeclineReason)
}

func TestValidateCard(t *testing.T) {
	good := CardInput{PAN: "4111111111111111", Expiry: "2812", CVV2: "123"}
	require.NoError(t, ValidateCard(good, t0))
	cases := []struct {
		name string
		edit func(*CardInput)
		want string
	}{
		{"luhn", func(c *CardInput) { c.PAN = "4111111111111112" }, "pan: fails the Luhn check"},
		{"short", func(c *CardInput) { c.PAN = "411111" }, "pan: must be 13 to 19 digits"},
		{"letters", func(c *CardInput) { c.PAN = "4111x11111111111" }, "pan"},
		{"expiry format", func(c *CardInput) { c.Expiry = "12/28" }, "expiry: must be YYMM"},
		{"expiry month", func(c *CardInput) { c.Expiry = "2813" }, "expiry: month"},
		{"expired", func(c *CardInput) { c.Expiry = "2610" }, "expiry: the card has expired"},
		{"cvv", func(c *CardInput) { c.CVV2 = "12" }, "cvv2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := ValidateCard(c, t0)
			require.ErrorIs(t, err, ErrCard)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "4111111111111112")
		})
	}
	require.NoError(t, ValidateCard(CardInput{PAN: "4111111111111111", Expiry: "2611"}, t0), "valid through the end of its month")
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.Banks = []BankProfile{{Name: "a", AcquirerID: "400123"}}
		c.Merchants = []Merchant{{ID: "m", Name: "Shop", MCC: "5411", Terminals: map[string]Terminal{"a": {"TLP00001", "000000000001234"}}}}
		return c
	}
	c := good()
	require.NoError(t, c.Validate())
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"lifetime", func(c *Config) { c.OrderLifetime = 0 }, "order_lifetime"},
		{"bank name", func(c *Config) { c.Banks[0].Name = "" }, "banks[0].name"},
		{"acquirer", func(c *Config) { c.Banks[0].AcquirerID = "x" }, "banks[0].acquirer_id"},
		{"mcc", func(c *Config) { c.Merchants[0].MCC = "54" }, "merchants[0].mcc"},
		{"terminal bank", func(c *Config) { c.Merchants[0].Terminals["zz"] = Terminal{"TLP00002", "1"} }, "merchants[0].terminals.zz: unknown bank"},
		{"terminal id", func(c *Config) { c.Merchants[0].Terminals["a"] = Terminal{"T1", "1"} }, "terminal_id"},
		{"dup merchant", func(c *Config) { c.Merchants = append(c.Merchants, c.Merchants[0]) }, "merchants[1].id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}

func TestMerchantNameIsASCII(t *testing.T) {
	cases := []struct{ name, city, want string }{
		{"Demo Shop", "Almaty", "Demo Shop                Almaty       KZ"},
		{"Магазин Әлем", "Алматы", "Magazin Alem             Almaty       KZ"},
		{"Қазақ Шоп™", "Шымкент", "Qazaq Shop?              Shymkent     KZ"},
		{"A very long merchant name over twenty-five", "Nur-Sultan city", "A very long merchant nameNur-Sultan ciKZ"},
	}
	for _, tc := range cases {
		got := merchantName(&Merchant{Name: tc.name, City: tc.city})
		require.Len(t, got, 40)
		require.Equal(t, tc.want, got)
	}
}
