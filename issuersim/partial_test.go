package issuersim

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

// Tests of approve_amount: a bank that approves less than asked (10) or
// another amount (00), over TCP as the switch sees it.

func TestPartialApprovalOfAuthorization(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Rules: []Rule{{PAN: visa, MTI: iso.MTIAuthorization, ResponseCode: "10", ApproveAmount: 6_000}}})
		before := MustAccount(t, b, visa)

		auth := c.auth(visa, 10_000)
		resp := c.mustSend(auth)
		require.Equal(t, "10", resp.ResponseCode)
		require.True(t, resp.HasAmount)
		assert.EqualValues(t, 6_000, resp.Amount, "DE4 is the amount approved")
		assert.Equal(t, "0057398D000000010000", resp.AdditionalAmounts, "DE54: the amount asked for")
		assert.Len(t, resp.ApprovalCode, 6)
		assert.Equal(t, auth.RRN, resp.RRN)
		a := MustAccount(t, b, visa)
		assert.Equal(t, before.Held+6_000, a.Held, "only the amount approved is held")
		assert.Equal(t, before.Holds+1, a.Holds)

		// Follow-ups work against the 6 000 approved.
		assert.Equal(t, iso.RCInvalidAmount, c.mustSend(c.completionOf(auth, resp.ApprovalCode, 6_001)).ResponseCode, "completion above the amount approved")
		assert.Equal(t, a, MustAccount(t, b, visa))
		cr := c.mustSend(c.completionOf(auth, resp.ApprovalCode, 6_000))
		require.Equal(t, iso.RCApproved, cr.ResponseCode)
		assert.Equal(t, resp.ApprovalCode, cr.ApprovalCode)
		a = MustAccount(t, b, visa)
		assert.Equal(t, before.Held, a.Held)
		assert.Equal(t, before.Captured+6_000, a.Captured)
		assert.Equal(t, before.Balance-6_000, a.Balance)

		// A reversal releases what was approved; DE95 above it is 13.
		auth2 := c.auth(visa, 10_000)
		require.Equal(t, "10", c.mustSend(auth2).ResponseCode)
		assert.Equal(t, a.Held+6_000, MustAccount(t, b, visa).Held)
		above := int64(6_001)
		assert.Equal(t, iso.RCInvalidAmount, c.mustSend(c.reversalOf(auth2, false, &above)).ResponseCode)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(auth2, false, nil)).ResponseCode)
		assert.Equal(t, a, MustAccount(t, b, visa), "hold of 6 000 released")

		// Asked for no more than the rule would approve: answered normally.
		auth3 := c.auth(visa, 5_000)
		r3 := c.mustSend(auth3)
		assert.Equal(t, iso.RCApproved, r3.ResponseCode)
		assert.EqualValues(t, 5_000, r3.Amount)
		assert.Empty(t, r3.AdditionalAmounts)
		assert.Equal(t, a.Held+5_000, MustAccount(t, b, visa).Held)
	})
}

func TestPartialApprovalOfPurchase(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Rules: []Rule{{MTI: iso.MTIFinancial, AmountSuffix: "000", ResponseCode: "10", ApproveAmount: 4_000}}})
		before := MustAccount(t, b, mastercard)

		p := c.purchase(mastercard, 10_000)
		resp := c.mustSend(p)
		require.Equal(t, "10", resp.ResponseCode)
		assert.EqualValues(t, 4_000, resp.Amount)
		assert.Equal(t, "0057398D000000010000", resp.AdditionalAmounts)
		a := MustAccount(t, b, mastercard)
		assert.Equal(t, before.Balance-4_000, a.Balance, "only the amount approved is captured")
		assert.Equal(t, before.Captured+4_000, a.Captured)
		assert.Equal(t, before.Held, a.Held)

		// A retransmission gets the stored partial approval, not applied again.
		assert.Equal(t, resp, c.mustSend(p))
		assert.Equal(t, a, MustAccount(t, b, mastercard))

		// Refunds add up to at most what was captured. (The refunds match
		// the rule's MTI and suffix: approve_amount leaves them alone.)
		assert.Equal(t, iso.RCExceedsCapture, c.mustSend(c.refundOf(p, 5_000)).ResponseCode)
		rr := c.mustSend(c.refundOf(p, 4_000))
		assert.Equal(t, iso.RCApproved, rr.ResponseCode)
		assert.EqualValues(t, 4_000, rr.Amount)
		assert.Empty(t, rr.AdditionalAmounts)
		assert.Equal(t, before.Balance, MustAccount(t, b, mastercard).Balance)
	})
}

// TestPartialApprovalSettlement: the settlement file has what the bank
// approved, not what was asked.
func TestPartialApprovalSettlement(t *testing.T) {
	b := MustStartBank(t, "ascii", func(c *Config) { c.Now = func() time.Time { return testNow } })
	c := MustDial(t, b)
	b.SetKnobs(Knobs{Rules: []Rule{{ResponseCode: "10", ApproveAmount: 4_000}}})
	p := c.purchase(visa, 10_000)
	require.Equal(t, "10", c.mustSend(p).ResponseCode)
	auth := c.auth(visa, 10_000)
	require.Equal(t, "10", c.mustSend(auth).ResponseCode)

	var buf bytes.Buffer
	require.NoError(t, b.WriteSettlement(&buf, testNow))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, []string{"purchase", p.STAN}, []string{rows[1][2], rows[1][4]})
	assert.Equal(t, []string{"authorization", auth.STAN}, []string{rows[2][2], rows[2][4]})
	for _, row := range rows[1:] {
		assert.Equal(t, []string{"4000", "4000"}, row[10:12], "amount, final_amount")
	}
}

func TestApprovalOfAnotherAmount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Rules: []Rule{
			{MTI: iso.MTIAuthorization, ResponseCode: iso.RCApproved, ApproveAmount: 12_000},
			{MTI: iso.MTIFinancial, ResponseCode: iso.RCApproved, ApproveAmount: 7_000},
		}})
		before := MustAccount(t, b, visa)

		// More than asked, on a hold.
		auth := c.auth(visa, 10_000)
		resp := c.mustSend(auth)
		require.Equal(t, iso.RCApproved, resp.ResponseCode)
		assert.EqualValues(t, 12_000, resp.Amount, "the misbehaving bank's DE4")
		assert.Empty(t, resp.AdditionalAmounts, "and no word of it in DE54")
		assert.Len(t, resp.ApprovalCode, 6)
		assert.Equal(t, before.Held+12_000, MustAccount(t, b, visa).Held)
		// The switch reverses it (as an advice): the books are clean.
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(auth, true, nil)).ResponseCode)
		assert.Equal(t, before, MustAccount(t, b, visa))

		// Less than asked, captured.
		p := c.purchase(visa, 10_000)
		pr := c.mustSend(p)
		require.Equal(t, iso.RCApproved, pr.ResponseCode)
		assert.EqualValues(t, 7_000, pr.Amount)
		a := MustAccount(t, b, visa)
		assert.Equal(t, before.Balance-7_000, a.Balance)
		assert.Equal(t, before.Captured+7_000, a.Captured)
		assert.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(p, false, nil)).ResponseCode)
		assert.Equal(t, before, MustAccount(t, b, visa))

		// Asked for exactly the amount: an ordinary approval.
		p2 := c.purchase(visa, 7_000)
		assert.EqualValues(t, 7_000, c.mustSend(p2).Amount)
		assert.Equal(t, before.Balance-7_000, MustAccount(t, b, visa).Balance)
	})
}

// TestApproveAmountStillChecks: the card checks run first, and funds are
// checked against the amount approved.
func TestApproveAmountStillChecks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *Bank, c *client) {
		b.SetKnobs(Knobs{Rules: []Rule{
			{AmountSuffix: "1", ResponseCode: "10", ApproveAmount: 100_001},
			{ResponseCode: "10", ApproveAmount: 60_000},
		}})
		low := MustAccount(t, b, lowBalance) // 100 000 available

		assert.Equal(t, iso.RCLostCard, c.mustSend(c.auth(lostCard, 200_000)).ResponseCode)
		wrongCVV := c.auth(visa, 200_000)
		wrongCVV.CVV2 = "999"
		assert.Equal(t, "N7", c.mustSend(wrongCVV).ResponseCode)
		// Network management is not a financial request: answered as ever.
		assert.Equal(t, iso.RCApproved, c.mustSend(c.network(iso.NetEcho)).ResponseCode)
		assert.Equal(t, iso.RCInsufficientFunds, c.mustSend(c.auth(lowBalance, 200_001)).ResponseCode, "100 001 approved is more than available")
		assert.Equal(t, low, MustAccount(t, b, lowBalance))

		// The realistic case: the bank approves what the card can pay.
		resp := c.mustSend(c.purchase(lowBalance, 200_000))
		require.Equal(t, "10", resp.ResponseCode)
		assert.EqualValues(t, 60_000, resp.Amount)
		assert.Equal(t, low.Balance-60_000, MustAccount(t, b, lowBalance).Balance)
	})
}

func TestApproveAmountValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		want string // "" valid
	}{
		{"partial", Rule{ResponseCode: "10", ApproveAmount: 500}, ""},
		{"partial with action respond", Rule{Action: ActionRespond, ResponseCode: "10", ApproveAmount: 500}, ""},
		{"another amount", Rule{ResponseCode: "00", ApproveAmount: 500}, ""},
		{"largest DE4", Rule{ResponseCode: "00", ApproveAmount: 999_999_999_999}, ""},
		{"negative", Rule{ResponseCode: "10", ApproveAmount: -1}, "rules[0].approve_amount: must be positive"},
		{"too big", Rule{ResponseCode: "10", ApproveAmount: 1_000_000_000_000}, "rules[0].approve_amount: must be at most 12 digits"},
		{"with a decline", Rule{ResponseCode: "51", ApproveAmount: 500}, "rules[0].approve_amount: only with response_code 10 (partial approval) or 00"},
		{"without response_code", Rule{ApproveAmount: 500}, "rules[0].approve_amount: only with response_code 10"},
		{"another approval code", Rule{ResponseCode: "08", ApproveAmount: 500}, "rules[0].approve_amount: only with response_code 10"},
		{"10 without approve_amount", Rule{ResponseCode: "10"}, "rules[0].response_code: only declines can be forced (10 and 00 with approve_amount)"},
		{"00 without approve_amount", Rule{ResponseCode: "00"}, "rules[0].response_code: only declines can be forced"},
		{"with no_reply", Rule{Action: ActionNoReply, ResponseCode: "10", ApproveAmount: 500}, "rules[0].response_code: only for action respond"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Knobs{Rules: []Rule{tc.rule}}.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOverrideApproval(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         override
		requested int64
		amount    int64
		rc        string
		changed   bool
	}{
		{"none", override{}, 1_000, 1_000, iso.RCApproved, false},
		{"decline only", override{code: "51"}, 1_000, 1_000, iso.RCApproved, false},
		{"partial", override{code: "10", approve: 400}, 1_000, 400, "10", true},
		{"partial of as much", override{code: "10", approve: 1_000}, 1_000, 1_000, iso.RCApproved, false},
		{"partial of more", override{code: "10", approve: 1_001}, 1_000, 1_000, iso.RCApproved, false},
		{"00 less", override{code: "00", approve: 400}, 1_000, 400, iso.RCApproved, true},
		{"00 more", override{code: "00", approve: 1_400}, 1_000, 1_400, iso.RCApproved, true},
		{"00 same", override{code: "00", approve: 1_000}, 1_000, 1_000, iso.RCApproved, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			amount, rc, changed := tc.o.approval(tc.requested)
			assert.Equal(t, tc.amount, amount)
			assert.Equal(t, tc.rc, rc)
			assert.Equal(t, tc.changed, changed)
		})
	}
	assert.Equal(t, "0057398D000001000000", originalAmountDE54("398", 1_000_000))
}
