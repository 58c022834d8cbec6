package daemon_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// A buyer may try again after a decline until the merchant's attempts run
// out (RBS allows several): each attempt is in the order's history, a
// declined one leaves the order waiting for another card, and once the
// order is decided a further attempt is answered from the record.
func TestSeveralAttemptsPerOrder(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.Payments.Merchants[0].MaxAttempts = 3
	}})
	status := func(id string) map[string]any {
		ans, err := s.RBS("getOrderStatusExtended", url.Values{"orderId": {id}}, 0)
		require.NoError(t, err)
		return ans
	}

	id := s.Register("attempts-ok", 150000, true)
	low := s.Pay(id, "4000001111111118") // 1 000.00 on the account: 51
	require.Contains(t, low["redirect"], "orderId="+id)
	st := status(id)
	require.EqualValues(t, 0, st["orderStatus"], "waiting for another attempt")
	require.EqualValues(t, order.ActionFunds, st["actionCode"])
	require.NotEmpty(t, st["actionCodeDescription"])
	// The hosted page offers another attempt and says the bank declined,
	// never why (card schemes forbid telling the buyer the issuer's reason).
	resp, err := http.Get(s.URL() + "/pay/" + id + "?lang=en")
	require.NoError(t, err)
	page := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `id="declined"`)
	require.Contains(t, page, "The bank declined the payment. Try another card or contact your bank.")
	require.Contains(t, page, `id="payform"`)
	require.NotContains(t, page, order.ActionText(order.ActionFunds, "en"))
	s.Pay(id, "4000000000000044") // lost card: 41
	require.EqualValues(t, 0, status(id)["orderStatus"])
	ok := s.Pay(id, switchtest.Visa)
	require.Equal(t, "0", errorCode(ok))
	require.EqualValues(t, 1, status(id)["orderStatus"], "the third attempt is approved")
	o := s.Order(id)
	require.Equal(t, 3, o.Attempts)
	var statuses []order.OpStatus
	for _, op := range o.Ops {
		if op.Type == order.OpAuthorization {
			statuses = append(statuses, op.Status)
		}
	}
	require.Equal(t, []order.OpStatus{order.OpDeclined, order.OpDeclined, order.OpApproved}, statuses, "each attempt in the history")
	require.Equal(t, 3, s.Bank.Received("0100"))
	s.Pay(id, switchtest.Visa)
	require.Equal(t, 3, s.Bank.Received("0100"), "a decided order sends nothing more")

	id = s.Register("attempts-out", 150000, true)
	for range 3 {
		s.Pay(id, "4000000000000044")
	}
	require.EqualValues(t, 6, status(id)["orderStatus"], "declined for good after the third decline")
	s.Pay(id, switchtest.Visa)
	require.Equal(t, 6, s.Bank.Received("0100"), "no fourth attempt reaches the bank")
}
