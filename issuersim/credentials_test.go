package issuersim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
)

// TestStoredCredentialMarks: in both dialects the bank reads how a payment
// uses a stored card, refuses 30 what contradicts itself before touching
// the books, and keeps what it approved or declined for tests and GET
// /credentials to see.
func TestStoredCredentialMarks(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			b := MustStartBank(t, dialect, nil)
			c := MustDial(t, b)
			cof := b.codec.Dialect().CredentialOnFile.POSEntryMode
			mark := func(m *iso.Message, use, de22 string, cvv bool) *iso.Message {
				m.StoredCredential, m.POSEntryMode = use, de22
				if !cvv {
					m.CVV2 = ""
				}
				return m
			}

			stored := c.mustSend(mark(c.purchase(visa, 1000), specs.StoredInitial, iso.POSEntryEcommerce, true))
			require.Equal(t, iso.RCApproved, stored.ResponseCode)
			byHolder := c.mustSend(mark(c.purchase(visa, 2000), specs.StoredCardholder, cof, true))
			require.Equal(t, iso.RCApproved, byHolder.ResponseCode)
			byMerchant := c.mustSend(mark(c.auth(visa, 3000), specs.StoredMerchant, cof, false))
			require.Equal(t, iso.RCApproved, byMerchant.ResponseCode)
			plain := c.mustSend(c.purchase(visa, 4000))
			require.Equal(t, iso.RCApproved, plain.ResponseCode, "a typed card says nothing of stored credentials")

			before := MustAccount(t, b, visa)
			for name, m := range map[string]*iso.Message{
				"later use typed as e-commerce":  mark(c.purchase(visa, 5000), specs.StoredCardholder, iso.POSEntryEcommerce, true),
				"credential on file, no use":     mark(c.purchase(visa, 5000), "", cof, true),
				"storing a card already on file": mark(c.purchase(visa, 5000), specs.StoredInitial, cof, true),
				"merchant alone with a CVV2":     mark(c.purchase(visa, 5000), specs.StoredMerchant, cof, true),
			} {
				require.Equal(t, iso.RCFormatError, c.mustSend(m).ResponseCode, name)
			}
			require.Equal(t, before, MustAccount(t, b, visa), "a refused mark applies nothing")

			uses := b.CredentialUses()
			require.Len(t, uses, 3, "the plain payment and the refused marks are not stored-credential uses")
			require.Equal(t, []string{specs.StoredInitial, specs.StoredCardholder, specs.StoredMerchant}, []string{uses[0].Use, uses[1].Use, uses[2].Use})
			require.Equal(t, iso.POSEntryEcommerce, uses[0].POSEntryMode)
			require.Equal(t, cof, uses[2].POSEntryMode)
			require.Equal(t, iso.MaskPAN(visa), uses[1].PAN)
			require.Equal(t, merchant, uses[1].MerchantID)
			require.True(t, uses[1].CVV2)
			require.False(t, uses[2].CVV2)
			require.Equal(t, iso.MTIAuthorization, uses[2].MTI)

			rec := httptest.NewRecorder()
			b.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/credentials", nil))
			require.Equal(t, http.StatusOK, rec.Code)
			require.NotContains(t, rec.Body.String(), visa)
			var served []CredentialUse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &served))
			require.Len(t, served, 3)
			require.Equal(t, specs.StoredMerchant, served[2].Use)
		})
	}
}
