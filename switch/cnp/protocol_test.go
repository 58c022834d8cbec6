package cnp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// TestWSDL: the vendor's WSDL, unchanged but for its three port addresses,
// which point at this switch, served where the vendor's clients look for
// it, at the vendor's paths.
func TestWSDL(t *testing.T) {
	w := newWorld(t)
	vendor := cnp.WSDL("https://test.processing.kz")
	require.Equal(t, 3, bytes.Count(vendor, []byte("https://test.processing.kz/CNPMerchantWebServices/services/CNPMerchantWebService.CNPMerchantWebServiceHttps")),
		"WSDL(vendor host) is the vendor's file")
	for _, path := range []string{
		service + "?wsdl", service + "?WSDL",
		service + ".CNPMerchantWebServiceHttpsSoap11Endpoint/?wsdl",
		service + ".CNPMerchantWebServiceHttpsSoap12Endpoint/?wsdl",
		"/CNPMerchantWebServices/CNPMerchantWebService.wsdl",
	} {
		resp, err := http.Get(w.URL() + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), "text/xml")
		served := string(body)
		for _, port := range []string{"Soap11Endpoint", "Soap12Endpoint", "Endpoint"} {
			require.Contains(t, served, `location="`+w.URL()+service+`.CNPMerchantWebServiceHttps`+port+`/"`, path)
		}
		require.NotContains(t, served, "test.processing.kz")
		require.Equal(t, string(vendor), strings.ReplaceAll(served, w.URL()+"/", "https://test.processing.kz/"), "nothing else changed")
	}
}

// TestProtocolFaults: what cannot be understood as a call of one of the
// service's operations is a SOAP fault, in the request's SOAP version,
// naming what is wrong; it leaves nothing behind.
func TestProtocolFaults(t *testing.T) {
	w := newWorld(t)
	okTx := "<ns1:transaction>" + details(basic(1000, w.shop+"/r")) + "</ns1:transaction>"
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>&lol2;</SOAP-ENV:Body></SOAP-ENV:Envelope>`
	deep := envelope11("getTransactionStatus", strings.Repeat("<a>", 100)+strings.Repeat("</a>", 100))
	for _, tc := range []struct {
		name, contentType, action, body string
		status                          int
		want                            string
	}{
		{"malformed XML", "text/xml", "", envelope11("startTransaction", "<ns1:transaction>"), 500, "malformed XML"},
		{"not XML", "text/xml", "", "merchantId=000000000000015", 500, "malformed XML"},
		{"XML bomb", "text/xml", "", bomb, 500, "DTD"},
		{"too deep", "text/xml", "", deep, 500, "nested deeper"},
		{"huge body", "text/xml", "", envelope11("startTransaction", strings.Repeat("<!-- padding -->", 20000)), 413, "larger than"},
		{"latin-1", "text/xml", "", `<?xml version="1.0" encoding="ISO-8859-1"?>` + envelope11("getVersion", "")[39:], 500, "only UTF-8"},
		{"wrong namespace", "text/xml", "", strings.ReplaceAll(envelope11("startTransaction", okTx), nsOps, "http://example.com/x"), 500, "unknown operation"},
		{"unknown operation", "text/xml", "", envelope11("deleteTransaction", ""), 500, "unknown operation"},
		{"unknown member", "text/xml", "", envelope11("getTransactionStatus", el("merchantId", mid)+el("customerReference", "X")), 500, "unexpected element"},
		{"member in the beans' namespace", "text/xml", "", envelope11("getTransactionStatus", bean("merchantId", mid)), 500, "unexpected element"},
		{"terminalId spelled as PHP's class does", "text/xml", "", envelope11("startTransaction",
			"<ns1:transaction>"+bean("terminalId", "T1")+"</ns1:transaction>"), 500, "unexpected element"},
		{"member given twice", "text/xml", "", envelope11("getTransactionStatus", el("merchantId", mid)+el("merchantId", mid)), 500, "more than once"},
		{"structure where a value belongs", "text/xml", "", envelope11("getTransactionStatus", "<ns1:merchantId><x/></ns1:merchantId>"), 500, "where a value belongs"},
		{"not a boolean", "text/xml", "", envelope11("completeTransaction", el("merchantId", mid)+el("transactionSuccess", "yes")), 500, "xs:boolean"},
		{"not an int", "text/xml", "", envelope11("startTransaction", "<ns1:transaction>"+bean("currencyCode", "KZT")+"</ns1:transaction>"), 500, "xs:int"},
		{"SOAPAction disagrees with the body", "text/xml", `"urn:getVersion"`, envelope11("startTransaction", okTx), 500, "which one is meant"},
		{"empty body, no SOAPAction", "text/xml", "", envelope11("x", "")[:0] + emptyBody11, 500, "no SOAPAction"},
		{"empty body, an operation that takes a request", "text/xml", `"urn:startTransaction"`, emptyBody11, 500, "takes a"},
		{"SOAPAction names nothing", "text/xml", `"urn:nothing"`, emptyBody11, 500, "names no operation"},
		{"SOAP 1.2 envelope as text/xml", "text/xml", "", strings.ReplaceAll(envelope11("getVersion", ""), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"), 500, "VersionMismatch"},
		{"not an envelope", "text/xml", "", `<ns1:getVersion xmlns:ns1="` + nsOps + `"/>`, 500, "not a SOAP Envelope"},
		{"form post", "application/x-www-form-urlencoded", "", "a=b", 415, "Content-Type"},
		{"mustUnderstand header", "text/xml", "", strings.Replace(emptyBody11, "<SOAP-ENV:Body/>",
			`<SOAP-ENV:Header><x:Sec xmlns:x="urn:x" SOAP-ENV:mustUnderstand="1"/></SOAP-ENV:Header><SOAP-ENV:Body/>`, 1), 500, "MustUnderstand"},
		{"unresolved href", "text/xml", "", envelope11("startTransaction", `<ns1:transaction><ns2:goodsList href="#ref9"/></ns1:transaction>`), 500, "names no element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countOrders(t, w)
			r := w.post(service, tc.contentType, tc.action, tc.body)
			require.Equal(t, tc.status, r.status, r.body)
			require.NotNil(t, r.root, "a fault is XML: %s", r.body)
			require.Contains(t, r.fault()+r.body, tc.want)
			require.Equal(t, before, countOrders(t, w), "nothing left behind")
		})
	}
}

const emptyBody11 = `<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body/></SOAP-ENV:Envelope>`

func countOrders(t *testing.T, w *world) int {
	n := 0
	require.NoError(t, w.D.Payments().Store().All(func(*order.Order) error { n++; return nil }))
	return n
}

// TestGetVersionAndSOAP12: getVersion comes with an empty Body, named by
// SOAPAction (as PHP's SoapClient sends it) or SOAP 1.2's action; SOAP 1.2
// requests are answered in SOAP 1.2, faults too; the Axis2 port addresses
// and the WSDL's HTTP binding answer as the service address does.
func TestGetVersionAndSOAP12(t *testing.T) {
	w := newWorld(t)
	r := w.post(service, "text/xml; charset=utf-8", `"urn:getVersion"`, emptyBody11)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, cnp.Version, r.ret().Text)
	require.Equal(t, "http://schemas.xmlsoap.org/soap/envelope/", r.root.Name.Space)

	env12 := `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>%s</env:Body></env:Envelope>`
	r = w.post(service+".CNPMerchantWebServiceHttpsSoap12Endpoint/", `application/soap+xml; charset=utf-8; action="urn:getVersion"`, "-",
		strings.Replace(env12, "%s", "", 1))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, cnp.Version, r.ret().Text)
	require.Equal(t, "http://www.w3.org/2003/05/soap-envelope", r.root.Name.Space)
	require.Contains(t, r.header.Get("Content-Type"), "application/soap+xml")

	ref, _, _ := w.start(basic(1000, w.shop+"/r"))
	st := `<ns1:getTransactionStatus xmlns:ns1="` + nsOps + `">` + el("merchantId", mid) + el("referenceNr", ref) + `</ns1:getTransactionStatus>`
	r = w.post(service+".CNPMerchantWebServiceHttpsSoap12Endpoint/", `application/soap+xml; charset=utf-8`, "-", strings.Replace(env12, "%s", st, 1))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "PENDING_CUSTOMER_INPUT", r.value(t, "transactionStatus"))

	r = w.post(service, `application/soap+xml`, "-", strings.Replace(env12, "%s", `<x:nothing xmlns:x="urn:x"/>`, 1))
	require.Equal(t, http.StatusBadRequest, r.status, "SOAP 1.2: a Sender fault is 400")
	require.Equal(t, "soapenv:Sender", r.root.find("Body", "Fault", "Code", "Value").Text)

	r = w.post(service+".CNPMerchantWebServiceHttpsSoap11Endpoint/", "text/xml", "", envelope11("getTransactionStatus", el("merchantId", mid)+el("referenceNr", ref)))
	require.Equal(t, "PENDING_CUSTOMER_INPUT", r.value(t, "transactionStatus"), "the SOAP 1.1 port address")

	r = w.post(service+".CNPMerchantWebServiceHttpsEndpoint/getTransactionStatus", "text/xml", "-", st)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "getTransactionStatusResponse", r.root.Name.Local, "the HTTP binding answers the bare response element")
	require.Equal(t, "PENDING_CUSTOMER_INPUT", r.root.find("return", "transactionStatus").Text)

	resp, err := http.Get(w.URL() + service)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestAccessControl: a merchantId alone lets nobody in. A shop is let in
// from its allowed addresses only, with its Basic credentials when it has
// some; a refusal is a fault (nothing done) and a log line.
func TestAccessControl(t *testing.T) {
	const (
		farMID   = "000000000000018"
		basicMID = "000000000000019"
		user     = "shop-basic"
		password = "0123456789abcdef0123456789abcdef"
	)
	w := newWorld(t, func(c *daemon.Config) {
		m := c.Payments.Merchants[0]
		for _, id := range []string{"shop4", "shop5"} {
			m.ID = id
			c.Payments.Merchants = append(c.Payments.Merchants, m)
		}
		far := shopConfig()
		far.MerchantID, far.Merchant, far.AllowedIPs = farMID, "shop4", []string{"10.0.0.0/8"}
		b := shopConfig()
		b.MerchantID, b.Merchant, b.AllowedIPs = basicMID, "shop5", nil
		b.BasicAuth = cnp.BasicAuth{UserName: user, PasswordSHA256: sha256Hex(password)}
		c.CNP.Merchants = append(c.CNP.Merchants, far, b)
	})
	before := countOrders(t, w)
	r := w.call("startTransaction", "<ns1:transaction>"+details(withMID(basic(1000, w.shop+"/r"), farMID))+"</ns1:transaction>")
	require.Equal(t, http.StatusForbidden, r.status, r.body)
	require.Contains(t, r.fault(), "access denied for merchantId "+farMID)
	r = w.status(mid, "X") // the loopback shop is still fine
	require.Equal(t, "NO_SUCH_TRANSACTION", r.value(t, "transactionStatus"))
	r = w.call("getTransactionStatus", el("merchantId", farMID)+el("referenceNr", "X"))
	require.Equal(t, http.StatusForbidden, r.status, "queries too")

	txBasic := "<ns1:transaction>" + details(withMID(basic(1000, w.shop+"/r"), basicMID)) + "</ns1:transaction>"
	r = w.call("startTransaction", txBasic)
	require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	require.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
	r = w.call("startTransaction", txBasic, func(q *http.Request) { q.SetBasicAuth(user, "wrong") })
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = w.call("startTransaction", txBasic, func(q *http.Request) { q.SetBasicAuth("other", password) })
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, before, countOrders(t, w), "refused requests did nothing")
	r = w.call("startTransaction", txBasic, func(q *http.Request) { q.SetBasicAuth(user, password) })
	require.Equal(t, "true", r.value(t, "success"), r.body)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestBasicAuthGuessingLocksOut: wrong HTTP Basic passwords lock the
// merchantId (three here) before any check, the right one included, with
// HTTP 429, Retry-After and the wait in the fault, everywhere but at the
// address the shop signed in from before; the lock ends by itself.
func TestBasicAuthGuessingLocksOut(t *testing.T) {
	const (
		basicMID = "000000000000019"
		user     = "shop-basic"
		password = "0123456789abcdef0123456789abcdef"
	)
	w := newWorld(t, func(c *daemon.Config) {
		m := c.Payments.Merchants[0]
		m.ID = "shop5"
		c.Payments.Merchants = append(c.Payments.Merchants, m)
		b := shopConfig()
		b.MerchantID, b.Merchant, b.AllowedIPs = basicMID, "shop5", nil
		b.BasicAuth = cnp.BasicAuth{UserName: user, PasswordSHA256: sha256Hex(password)}
		c.CNP.Merchants = append(c.CNP.Merchants, b)
		c.CNP.Guard.MaxFailures, c.CNP.Guard.LockFor = 3, 10*time.Minute
	})
	status := el("merchantId", basicMID) + el("referenceNr", "X")
	as := func(pw string) func(*http.Request) { return func(q *http.Request) { q.SetBasicAuth(user, pw) } }
	shop, guesser, elsewhere := from("127.0.0.1"), from("127.0.0.2"), from("127.0.0.3")
	require.Equal(t, "NO_SUCH_TRANSACTION", w.callWith(shop, "getTransactionStatus", status, as(password)).value(t, "transactionStatus"))
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, w.callWith(guesser, "getTransactionStatus", status, as("guess")).status)
	}
	for _, hc := range []*http.Client{guesser, elsewhere} {
		r := w.callWith(hc, "getTransactionStatus", status, as(password))
		require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
		require.Equal(t, "600", r.header.Get("Retry-After"))
		require.Contains(t, r.fault(), "access denied for merchantId "+basicMID+": too many failed sign-ins; retry in 600 s")
	}
	require.Equal(t, "NO_SUCH_TRANSACTION", w.callWith(shop, "getTransactionStatus", status, as(password)).value(t, "transactionStatus"),
		"the shop's own address, where it signed in before, is not locked out by the guesser")
	r := w.call("getTransactionStatus", el("merchantId", mid)+el("referenceNr", "X"))
	require.Equal(t, "NO_SUCH_TRANSACTION", r.value(t, "transactionStatus"), "other shops go on")

	w.Advance(10 * time.Minute)
	require.Equal(t, "NO_SUCH_TRANSACTION", w.callWith(elsewhere, "getTransactionStatus", status, as(password)).value(t, "transactionStatus"), "the lock ended")
}
