package daemon_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Every follow-up carries what its original carried that the bank finds
// and settles it by, checked field by field on the bytes the switch
// journaled: DE18, DE32, DE41, DE42, DE43, DE49, DE37 (a refund has its
// own), a full DE90 naming the original, a reason in a reversal's DE39, and
// DE12/DE13 in the merchant's time (Almaty), DE7 in GMT.
func TestFollowUpsCarryTheOriginalsFields(t *testing.T) {
	for _, dialect := range []string{"ascii", "binary"} {
		t.Run(dialect, func(t *testing.T) {
			s := switchtest.Run(t, switchtest.Options{Dialect: dialect})
			id := s.Register("fields-"+dialect, 60000, true)
			require.Equal(t, "0", errorCode(s.Pay(id, visa)))
			for _, call := range []struct {
				endpoint string
				form     url.Values
			}{
				{"reverse", url.Values{"orderId": {id}, "amount": {"10000"}}},
				{"deposit", url.Values{"orderId": {id}, "amount": {"0"}}},
				{"refund", url.Values{"orderId": {id}, "amount": {"500"}}},
			} {
				s.SAFDrained()
				ans, err := s.RBS(call.endpoint, call.form, 0)
				require.NoError(t, err)
				require.Equal(t, "0", errorCode(ans), "%s: %v", call.endpoint, ans)
			}
			s.SAFDrained()

			codec, err := iso.LoadCodec(dialect)
			require.NoError(t, err)
			entries, err := s.D.Journal().ByOrder(id)
			require.NoError(t, err)
			sent := map[string]*iso.Message{}
			for _, e := range entries {
				if e.Channel != switchtest.BankName || e.Direction != journal.Out {
					continue
				}
				var rec order.ISORecord
				require.NoError(t, json.Unmarshal(e.Payload, &rec))
				m, err := codec.Unpack(rec.Wire)
				require.NoError(t, err)
				key := m.MTI
				if iso.IsRefund(m.ProcessingCode) {
					key = "refund"
				}
				sent[key] = m
			}
			auth := sent["0100"]
			require.NotNil(t, auth)
			require.Len(t, auth.RRN, 12)
			require.Regexp(t, `^\d{12}$`, auth.RRN, "12 digits")
			de7, err := time.Parse("0102150405", auth.TransmissionTime)
			require.NoError(t, err)
			require.Equal(t, de7.Add(5*time.Hour).Format("150405"), auth.LocalTime, "DE12 is Almaty time (UTC+5), DE7 GMT")

			for _, key := range []string{"0400", "0220", "refund"} {
				m := sent[key]
				require.NotNil(t, m, "%s sent", key)
				require.Equal(t, auth.MCC, m.MCC, "%s DE18", key)
				require.Equal(t, auth.AcquirerID, m.AcquirerID, "%s DE32", key)
				require.Equal(t, auth.TerminalID, m.TerminalID, "%s DE41", key)
				require.Equal(t, auth.MerchantID, m.MerchantID, "%s DE42", key)
				require.Equal(t, auth.MerchantName, m.MerchantName, "%s DE43", key)
				require.Equal(t, auth.Currency, m.Currency, "%s DE49", key)
				require.NotNil(t, m.Original, "%s DE90", key)
				require.Equal(t, auth.AcquirerID, m.Original.AcquirerID, "%s DE90 acquirer", key)
				if key == "refund" {
					require.NotEqual(t, auth.RRN, m.RRN, "a refund has its own RRN")
					require.Equal(t, "0220", m.Original.MTI, "a refund names the capture")
					continue
				}
				require.Equal(t, auth.RRN, m.RRN, "%s DE37", key)
				require.Equal(t, iso.OriginalData{MTI: "0100", STAN: auth.STAN, TransmissionTime: auth.TransmissionTime,
					AcquirerID: auth.AcquirerID}, *m.Original, "%s DE90 names the 0100", key)
			}
			require.Equal(t, "32", sent["0400"].ResponseCode, "a partial reversal says so in DE39 (ISO 8583:1987: completed partially)")
			require.NotNil(t, sent["0400"].ActualAmount)
			require.EqualValues(t, 50000, *sent["0400"].ActualAmount, "DE95: what stays held")
		})
	}
}
