package cnp_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// The test shop, as the vendor's samples name a merchant.
const (
	mid      = "000000000000015"
	otherMID = "000000000000016" // another shop of the same switch
	nsOps    = "http://kz.processing.cnp.merchant_ws/xsd"
	nsBeans  = "http://beans.common.cnp.processing.kz/xsd"
	service  = "/CNPMerchantWebServices/services/CNPMerchantWebService"
)

// world is a switch with the test shop as a Processing.kz merchant, and
// the shop's web server (on loopback) that the switch calls returnURLs on.
type world struct {
	*switchtest.Switch
	t    *testing.T
	shop string // the shop's base URL
}

// shopConfig is the test shop's cnp entry: loopback callers only, refunds
// on, return URLs on loopback allowed (the test's shop listens there).
func shopConfig() cnp.MerchantConfig {
	return cnp.MerchantConfig{MerchantID: mid, Merchant: switchtest.Merchant, AllowedIPs: []string{"127.0.0.1", "::1"},
		Refunds: true, ReturnHosts: []string{"127.0.0.1", "shop.example.kz"}, ReferencePrefix: "TS"}
}

func newWorld(t *testing.T, configure ...func(*daemon.Config)) *world {
	t.Helper()
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(shop.Close)
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.CNP.Merchants = []cnp.MerchantConfig{shopConfig()}
		for _, f := range configure {
			f(c)
		}
	}})
	return &world{s, t, shop.URL}
}

const disabledMID = "000000000000017"

// withOtherShops adds two Processing.kz shops with payments merchants of
// their own: otherMID (open to loopback) and disabledMID (disabled).
func withOtherShops(c *daemon.Config) {
	base := c.Payments.Merchants[0]
	for _, id := range []string{"shop2", "shop3"} {
		m := base
		m.ID, m.Name = id, "Shop "+id
		c.Payments.Merchants = append(c.Payments.Merchants, m)
	}
	other := shopConfig()
	other.MerchantID, other.Merchant = otherMID, "shop2"
	disabled := shopConfig()
	disabled.MerchantID, disabled.Merchant, disabled.Disabled = disabledMID, "shop3", true
	c.CNP.Merchants = append(c.CNP.Merchants, other, disabled)
}

func withMID(d tx, id string) tx {
	d["merchantId"] = id
	return d
}

// reply is a SOAP answer, its document read into a tree.
type reply struct {
	status int
	header http.Header
	body   string
	root   *elem
}

// elem is an element of an answer.
type elem struct {
	Name  xml.Name
	Attrs []xml.Attr
	Text  string
	Kids  []*elem
}

func parseTree(t testing.TB, b []byte) *elem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []*elem
	var root *elem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "answer is XML: %s", b)
		switch v := tok.(type) {
		case xml.StartElement:
			e := &elem{Name: v.Name, Attrs: v.Copy().Attr}
			if len(stack) > 0 {
				stack[len(stack)-1].Kids = append(stack[len(stack)-1].Kids, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(v)
			}
		}
	}
	return root
}

// find follows local names down from e; nil when absent.
func (e *elem) find(path ...string) *elem {
	cur := e
	for _, p := range path {
		var next *elem
		if cur == nil {
			return nil
		}
		for _, k := range cur.Kids {
			if k.Name.Local == p {
				next = k
				break
			}
		}
		cur = next
	}
	return cur
}

// all returns the children of e named local.
func (e *elem) all(local string) []*elem {
	var out []*elem
	for _, k := range e.Kids {
		if k.Name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// names lists e's children's local names in order.
func (e *elem) names() []string {
	var out []string
	for _, k := range e.Kids {
		out = append(out, k.Name.Local)
	}
	return out
}

func (e *elem) isNil() bool {
	for _, a := range e.Attrs {
		if a.Name.Local == "nil" && a.Value == "true" {
			return true
		}
	}
	return false
}

// ret is the answer's return element (Envelope/Body/xResponse/return).
func (r reply) ret() *elem {
	body := r.root.find("Body")
	if body == nil || len(body.Kids) == 0 {
		return nil
	}
	return body.Kids[0].find("return")
}

// value is the text of the return's member name.
func (r reply) value(t testing.TB, name string) string {
	t.Helper()
	e := r.ret().find(name)
	require.NotNil(t, e, "%s in %s", name, r.body)
	return e.Text
}

func (r reply) fault() string {
	f := r.root.find("Body", "Fault")
	if f == nil {
		return ""
	}
	if s := f.find("faultstring"); s != nil {
		return s.Text
	}
	if s := f.find("Reason", "Text"); s != nil {
		return s.Text
	}
	return "?"
}

// post sends a raw request.
func (w *world) post(path, contentType, soapAction, body string, mods ...func(*http.Request)) reply {
	w.t.Helper()
	return w.postWith(&http.Client{Timeout: 30 * time.Second}, path, contentType, soapAction, body, mods...)
}

// from is an HTTP client whose connections come from local, a loopback
// address other than 127.0.0.1: another machine, as the switch sees it.
func from(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func (w *world) postWith(hc *http.Client, path, contentType, soapAction, body string, mods ...func(*http.Request)) reply {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.URL()+path, strings.NewReader(body))
	require.NoError(w.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if soapAction != "-" {
		req.Header.Set("SOAPAction", soapAction)
	}
	for _, m := range mods {
		m(req)
	}
	resp, err := hc.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		r.root = parseTree(w.t, b)
	}
	return r
}

// envelope11 wraps an operation element in a SOAP 1.1 envelope, as PHP's
// SoapClient writes one (prefix ns1 for the operations' namespace, ns2 for
// the beans').
func envelope11(op, inner string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="` + nsOps +
		`" xmlns:ns2="` + nsBeans + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><SOAP-ENV:Body><ns1:` + op + `>` +
		inner + `</ns1:` + op + `></SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

// call is a SOAP 1.1 call of op with the operation element's content.
func (w *world) call(op, inner string, mods ...func(*http.Request)) reply {
	w.t.Helper()
	return w.post(service, "text/xml; charset=utf-8", `"urn:`+op+`"`, envelope11(op, inner), mods...)
}

// callWith is call through hc.
func (w *world) callWith(hc *http.Client, op, inner string, mods ...func(*http.Request)) reply {
	w.t.Helper()
	return w.postWith(hc, service, "text/xml; charset=utf-8", `"urn:`+op+`"`, envelope11(op, inner), mods...)
}

// el writes <ns1:name>value</ns1:name> (ns2 with beans true).
func el(name, value string) string {
	return "<ns1:" + name + ">" + xmlEscape(value) + "</ns1:" + name + ">"
}

func bean(name, value string) string {
	return "<ns2:" + name + ">" + xmlEscape(value) + "</ns2:" + name + ">"
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// tx is a startTransaction's TransactionDetails, by member.
type tx map[string]string

// details writes the members of a TransactionDetails in WSDL order, with
// one goods item unless tx has "goods" (raw XML) set.
func details(d tx) string {
	var b strings.Builder
	for _, name := range []string{"billingAddress", "cardId", "currencyCode", "customerReference", "description",
		"goodsList", "languageCode", "merchantAdditionalInformationList", "merchantId", "merchantLocalDateTime", "orderId",
		"paymentType", "purchaserEmail", "purchaserName", "purchaserPhone", "returnURL", "terminalID", "totalAmount"} {
		v, ok := d[name]
		switch {
		case name == "goodsList" && !ok:
			b.WriteString(goods("Book", "BK-1", d["totalAmount"], "398"))
		case name == "goodsList" || name == "merchantAdditionalInformationList" || name == "billingAddress":
			b.WriteString(v) // raw
		case ok:
			b.WriteString(bean(name, v))
		}
	}
	return b.String()
}

func goods(name, id, amount, currency string) string {
	return "<ns2:goodsList>" + bean("amount", amount) + bean("currencyCode", currency) + bean("merchantsGoodsID", id) +
		bean("nameOfGoods", name) + "</ns2:goodsList>"
}

// basic is a valid transaction of amount tiyn for the test shop.
func basic(amount int64, ret string) tx {
	return tx{"currencyCode": "398", "description": "Test purchase", "languageCode": "ru", "merchantId": mid,
		"merchantLocalDateTime": time.Now().Format("02.01.2006 15:04:05"), "orderId": "42",
		"purchaserEmail": "buyer@example.kz", "purchaserName": "IVANOV IVAN", "purchaserPhone": "+7 701 000 0000",
		"returnURL": ret, "totalAmount": fmt.Sprint(amount)}
}

// start calls startTransaction and requires success; it returns the
// reference and the order id (the redirect URL's last segment).
func (w *world) start(d tx) (ref, orderID, redirect string) {
	w.t.Helper()
	r := w.call("startTransaction", "<ns1:transaction>"+details(d)+"</ns1:transaction>")
	require.Equal(w.t, http.StatusOK, r.status, r.body)
	require.Equal(w.t, "true", r.value(w.t, "success"), r.body)
	ref, redirect = r.value(w.t, "customerReference"), r.value(w.t, "redirectURL")
	return ref, redirect[strings.LastIndex(redirect, "/")+1:], redirect
}

// startFails calls startTransaction and returns its errorDescription,
// requiring success=false.
func (w *world) startFails(d tx) string {
	w.t.Helper()
	r := w.call("startTransaction", "<ns1:transaction>"+details(d)+"</ns1:transaction>")
	require.Equal(w.t, http.StatusOK, r.status, r.body)
	require.Equal(w.t, "false", r.value(w.t, "success"), r.body)
	require.True(w.t, r.ret().find("redirectURL").isNil(), r.body)
	desc := r.value(w.t, "errorDescription")
	require.Regexp(w.t, `^[A-Za-z0-9 .,:()\-_/]+$`, desc, "errorDescription stays URL-safe ASCII")
	return desc
}

// status calls getTransactionStatus.
func (w *world) status(merchantID, ref string) reply {
	w.t.Helper()
	r := w.call("getTransactionStatus", el("merchantId", merchantID)+el("referenceNr", ref))
	require.Equal(w.t, http.StatusOK, r.status, r.body)
	return r
}

func (w *world) statusOf(ref string) string {
	w.t.Helper()
	return w.status(mid, ref).value(w.t, "transactionStatus")
}

// complete calls completeTransaction; override "" sends xsi:nil, as PHP
// does for NULL.
func (w *world) complete(ref string, success bool, override string) bool {
	w.t.Helper()
	o := `<ns1:overrideAmount xsi:nil="true"/>`
	if override != "" {
		o = el("overrideAmount", override)
	}
	r := w.call("completeTransaction", el("merchantId", mid)+el("referenceNr", ref)+el("transactionSuccess", fmt.Sprint(success))+o)
	require.Equal(w.t, http.StatusOK, r.status, r.body)
	return r.ret().Text == "true"
}

func (w *world) refund(ref, amount string) bool {
	w.t.Helper()
	r := w.call("refundTransaction", el("merchantId", mid)+`<ns1:password xsi:nil="true"/>`+el("referenceNr", ref)+
		el("refundAmount", amount)+el("description", "returned goods"))
	require.Equal(w.t, http.StatusOK, r.status, r.body)
	return r.ret().Text == "true"
}

// buyer is a browser without JavaScript on the hosted page.
type buyer struct {
	t  *testing.T
	hc *http.Client
}

func newBuyer(t *testing.T) *buyer {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &buyer{t, &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page fetches a page of the hosted page.
func (b *buyer) page(u string) string {
	b.t.Helper()
	resp, err := b.hc.Get(u)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	require.Equal(b.t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// pay opens the redirect URL and pays with pan; it returns where the page
// sends the browser.
func (b *buyer) pay(redirect, pan string) string {
	b.t.Helper()
	m := csrfRe.FindStringSubmatch(b.page(redirect))
	require.NotNil(b.t, m, "the card form")
	resp, err := b.hc.PostForm(redirect, url.Values{"csrf": {m[1]}, "pan": {pan}, "expiry": {"12/30"}, "cvv2": {"123"},
		"holder": {"TEST BUYER"}, "email": {"buyer@example.kz"}})
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(b.t, http.StatusSeeOther, resp.StatusCode, string(body))
	return resp.Header.Get("Location")
}
