package cnp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// registrationMembers is StoredRegistrationStatus in WSDL order: the
// members of InternalTransactionStatus, then its own.
var registrationMembers = []string{"additionalInformation", "amountAuthorised", "amountRefunded", "amountRequested", "amountSettled",
	"authCode", "bin", "eci", "goods", "lastDigitsPan", "merchantLocalDateTime", "merchantOnlineAddress", "orderId", "purchaserEmail",
	"purchaserIdAddress", "purchaserName", "purchaserPhone", "transactionCurrencyCode", "transactionStatus",
	"cardId", "maskedPan", "registrationStatus"}

// TestCardRegistration walks the WSDL's registration operations as the
// vendor's Java sample does: startRegistration, the buyer enters the card
// on the hosted page (a verification hold), getRegistrationStatus,
// completeRegistration(true) (the hold is released, the card gets its
// cardId); then a purchase with that cardId, whose page asks only for the
// CVV2. Another shop's cardId names nothing.
func TestCardRegistration(t *testing.T) {
	w := newWorld(t, withOtherShops)
	before := w.Account(switchtest.Visa)
	reg := func(d tx) reply {
		var b strings.Builder
		for _, name := range []string{"currencyCode", "customerReference", "languageCode", "merchantId", "merchantLocalDateTime",
			"purchaserEmail", "purchaserName", "purchaserPhone", "returnURL", "terminalID", "totalAmount"} {
			if v, ok := d[name]; ok {
				b.WriteString(bean(name, v))
			}
		}
		return w.call("startRegistration", "<ns1:registration>"+b.String()+"</ns1:registration>")
	}
	d := basic(100, w.shop+"/registered?ref=")
	r := reg(d)
	require.Equal(t, "true", r.value(t, "success"), r.body)
	ref, redirect := r.value(t, "customerReference"), r.value(t, "redirectURL")
	regStatus := func(ref string) reply {
		return w.call("getRegistrationStatus", el("merchantId", mid)+el("referenceNr", ref))
	}
	r = regStatus(ref)
	require.Equal(t, []string{"transactionStatus", "registrationStatus"}, r.ret().names(), r.body)
	require.Equal(t, "PENDING", r.value(t, "registrationStatus"))

	page := newBuyer(t).page(redirect)
	require.Contains(t, page, "Регистрация карты")
	newBuyer(t).pay(redirect, switchtest.Visa)
	r = regStatus(ref)
	inWSDLOrder(t, r.ret().names(), registrationMembers)
	require.Equal(t, "AUTHORISED", r.value(t, "transactionStatus"))
	require.Equal(t, "PENDING", r.value(t, "registrationStatus"))
	require.Equal(t, "411111", r.value(t, "bin"))
	require.Equal(t, "1111", r.value(t, "lastDigitsPan"))
	require.Equal(t, "411111******1111", r.value(t, "maskedPan"))
	require.Equal(t, "127.0.0.1", r.value(t, "purchaserIdAddress"))
	require.Nil(t, r.ret().find("cardId"), "no card id before the shop keeps the card")
	require.Equal(t, int64(100), w.Account(switchtest.Visa).Held-before.Held, "the verification hold")
	require.False(t, w.complete(ref, true, ""), "a verification hold is not settled")

	complete := func(ref, success string) string {
		r := w.call("completeRegistration", el("merchantId", mid)+el("referenceNr", ref)+success)
		require.Equal(t, http.StatusOK, r.status, r.body)
		return r.ret().Text
	}
	require.Equal(t, "false", complete(ref, ""), "registrationSuccess is required")
	require.Equal(t, "true", complete(ref, el("registrationSuccess", "true")))
	require.Equal(t, "true", complete(ref, el("registrationSuccess", "true")), "a replay")
	require.Equal(t, "false", complete(ref, el("registrationSuccess", "false")), "decided already")
	r = regStatus(ref)
	require.Equal(t, "REGISTERED", r.value(t, "registrationStatus"))
	require.Equal(t, "REVERSED", r.value(t, "transactionStatus"), "the hold is released")
	cardID := r.value(t, "cardId")
	require.Len(t, cardID, 36)
	require.Equal(t, before.Held, w.Account(switchtest.Visa).Held)
	require.NotContains(t, r.body, "4111111111111111")

	// A purchase with the card: the page shows it masked and asks for the
	// CVV2 alone.
	p := basic(2500, w.shop+"/result")
	p["cardId"] = cardID
	payRef, id, redirect := w.start(p)
	b := newBuyer(t)
	page = b.page(redirect)
	require.Contains(t, page, `<strong id="stored-card">411111******1111</strong>`)
	require.NotContains(t, page, `name="pan"`)
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(t, m)
	resp, err := b.hc.PostForm(redirect, url.Values{"csrf": {m[1]}, "cvv2": {"12"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "a CVV2 of two digits")
	resp, err = b.hc.PostForm(redirect, url.Values{"csrf": {m[1]}, "cvv2": {"123"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "AUTHORISED", w.statusOf(payRef))
	require.Equal(t, cardID, w.Order(id).StoredCard)
	require.True(t, w.complete(payRef, true, ""))
	w.SAFDrained()
	require.Equal(t, int64(2500), w.Account(switchtest.Visa).Captured-before.Captured)

	other := withMID(basic(2500, w.shop+"/result"), otherMID)
	other["cardId"] = cardID
	require.Equal(t, "cardId: no card is registered under this id", w.startFails(other), "the card id is the shop's own")

	// Dropped: CANCELLED, no card id.
	r = reg(basic(100, w.shop+"/registered"))
	ref2, redirect2 := r.value(t, "customerReference"), r.value(t, "redirectURL")
	newBuyer(t).pay(redirect2, switchtest.Visa)
	require.Equal(t, "true", complete(ref2, el("registrationSuccess", "false")))
	r = regStatus(ref2)
	require.Equal(t, "CANCELLED", r.value(t, "registrationStatus"))
	require.Nil(t, r.ret().find("cardId"))

	// A transaction is no registration, and the reverse.
	require.Equal(t, "NO_SUCH_TRANSACTION", regStatus(payRef).value(t, "transactionStatus"))
	require.Equal(t, "false", complete(payRef, el("registrationSuccess", "true")))
	w.Books(switchtest.Visa, before)
}
