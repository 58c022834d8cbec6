package cnp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// refundWithID is refundTransaction's body with externalRefundId items
// (none, one or more) in additionalInformation.
func refundWithID(ref, amount string, ids ...string) string {
	b := el("merchantId", mid) + `<ns1:password xsi:nil="true"/>` + el("referenceNr", ref) + el("refundAmount", amount) +
		el("description", "returned goods")
	for _, id := range ids {
		b += `<ns1:additionalInformation>` + bean("key", "externalRefundId") + bean("value", id) + `</ns1:additionalInformation>`
	}
	return b
}

// TestRefundID: a refund the shop names with externalRefundId is sent to
// the bank once. The shop hangs up while the bank is still deciding; the
// switch finishes the refund, and the shop's retry under the same id
// answers that outcome without a second refund message. The same id with
// another amount is refused; RBS refund.do under the same id on the same
// order is the same refund.
func TestRefundID(t *testing.T) {
	w := newWorld(t, func(c *daemon.Config) { c.CNP.Merchants[0].AutoSettlement = true })
	before := w.Account(switchtest.Visa)
	ref, id, redirect := w.start(basic(10000, w.shop+"/result"))
	newBuyer(t).pay(redirect, switchtest.Visa)
	require.Equal(t, "PAID", w.statusOf(ref))
	sent := w.Bank.Received(iso.MTIFinancial) // the purchase

	// The bank takes its time over this refund, and the shop gives up
	// once the refund is at the bank.
	w.Knobs(issuersim.Rule{MTI: iso.MTIFinancial, AmountSuffix: "3777", Action: issuersim.ActionLate, Delay: time.Second})
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL()+service,
		strings.NewReader(envelope11("refundTransaction", refundWithID(ref, "3777", "r-1"))))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:refundTransaction"`)
	lost := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		lost <- err
	}()
	w.WaitReceived(iso.MTIFinancial, sent+1)
	hangUp()
	require.Error(t, <-lost, "the shop hung up before the answer")
	w.Eventually(func() bool {
		for _, op := range w.Order(id).Ops {
			if op.Type == order.OpRefund && op.Status == order.OpApproved {
				return true
			}
		}
		return false
	}, "the switch finishes the refund the shop hung up on")

	require.True(t, w.call("refundTransaction", refundWithID(ref, "3777", "r-1")).ret().Text == "true",
		"the retry answers the refund's outcome")
	require.Equal(t, sent+1, w.Bank.Received(iso.MTIFinancial), "one refund message for r-1")
	require.False(t, w.call("refundTransaction", refundWithID(ref, "1000", "r-1")).ret().Text == "true",
		"the same id for another amount")
	require.Equal(t, sent+1, w.Bank.Received(iso.MTIFinancial))
	require.Equal(t, int64(3777), w.Account(switchtest.Visa).Refunded-before.Refunded)

	// Another id is another refund; the RBS facade knows it by the same
	// id, and its refund.do under that id is a replay too.
	require.True(t, w.call("refundTransaction", refundWithID(ref, "1000", "r-2")).ret().Text == "true")
	ans, err := w.RBS("refund", url.Values{"orderId": {id}, "amount": {"1000"}, "externalRefundId": {"r-2"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", ans["errorCode"], "%v", ans)
	st, err := w.RBS("getOrderStatusExtended", url.Values{"orderId": {id}}, 0)
	require.NoError(t, err)
	var ids []any
	for _, r := range st["refunds"].([]any) {
		ids = append(ids, r.(map[string]any)["externalRefundId"])
	}
	require.Equal(t, []any{"r-1", "r-2"}, ids)
	require.Equal(t, sent+2, w.Bank.Received(iso.MTIFinancial), "one refund message for r-2")

	// An id given twice, or too long, is refused before the bank.
	require.False(t, w.call("refundTransaction", refundWithID(ref, "100", "r-3", "r-4")).ret().Text == "true")
	require.False(t, w.call("refundTransaction", refundWithID(ref, "100", strings.Repeat("x", 65))).ret().Text == "true")
	require.Equal(t, sent+2, w.Bank.Received(iso.MTIFinancial))
	require.Equal(t, "4777", w.status(mid, ref).value(t, "amountRefunded"))
	w.Books(switchtest.Visa, before)
}
