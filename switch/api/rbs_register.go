package api

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// The gateway's documented lengths of register.do's text parameters.
const (
	maxRBSDescription = 598 // the gateway passes the first 99 to the bank
	maxRBSURL         = 512 // returnUrl, failUrl, dynamicCallbackUrl
	maxRBSClientID    = 255
	maxRBSPageView    = 20
	// A jsonParams value may be a nested object kept as its JSON text
	// (OpenCart modules send some), hence more room than the JSON API's
	// metadata values.
	maxRBSParamValue = 1024
)

// parseRegister reads register.do's parameters into a registration, one
// rule at a time in the order RBS checks them; the first broken rule is
// the answer, and it names the parameter. It is lenient where nothing is
// lost (a phone number in any usual writing, kz for Kazakh, nested
// jsonParams values, the gateway's full description length) and strict
// where money or safety is: amounts, URLs, and a cart that must add up to
// the amount charged.
func parseRegister(form url.Values, m *MerchantConfig, twoStage bool, now time.Time) (payments.RegisterRequest, *rbsError) {
	r := payments.RegisterRequest{
		Number: form.Get("orderNumber"), Currency: form.Get("currency"), Description: form.Get("description"),
		Email: strings.TrimSpace(form.Get("email")), Customer: form.Get("clientId"),
		ReturnURL: form.Get("returnUrl"), FailURL: form.Get("failUrl"), TwoStage: twoStage,
		CallbackURL: form.Get("dynamicCallbackUrl"),
	}
	if r.Currency == "" {
		r.Currency = iso.CurrencyKZT
	}
	lang, langOK := normLanguage(form.Get("language"))
	r.Language = lang
	phone, phoneOK := normPhone(form.Get("phone"))
	r.Phone = phone
	rules := []struct {
		bad bool
		err *rbsError
	}{
		{r.Number == "", empty(rbsDuplicate, "orderNumber")},
		{!validOrderNumber(r.Number), invalid("orderNumber", l(rOrderNumber))},
		{form.Get("amount") == "", rbsErr(rbsMissing, tAmountEmpty)},
		{!knownCurrency(r.Currency), rbsErr(rbsCurrency, tCurrency)},
		{r.ReturnURL == "", empty(rbsMissing, "returnUrl")},
		{!validRBSURL(r.ReturnURL), invalid("returnUrl", l(rURL))},
		{r.FailURL != "" && !validRBSURL(r.FailURL), invalid("failUrl", l(rURL))},
		{r.CallbackURL != "" && !validRBSURL(r.CallbackURL), invalid("dynamicCallbackUrl", l(rURL))},
		{r.CallbackURL != "" && !m.callbacksEnabled(), invalid("dynamicCallbackUrl", l(rNoCallbacks))},
		{r.CallbackURL != "" && !m.hostAllowed(mustParse(r.CallbackURL)), invalid("dynamicCallbackUrl", l(rCallbackHost))},
		{!validDescription(r.Description), invalid("description", l(rMaxChars, maxRBSDescription))},
		{!langOK, invalid("language", l(rLanguage))},
		{r.Email != "" && !validEmail(r.Email), invalid("email", l(rEmail))},
		{!phoneOK, invalid("phone", l(rPhone))},
		{!validText(r.Customer, maxRBSClientID), invalid("clientId", l(rMaxChars, maxRBSClientID))},
		{!validText(form.Get("pageView"), maxRBSPageView), invalid("pageView", l(rMaxChars, maxRBSPageView))},
	}
	for _, rule := range rules {
		if rule.bad {
			return r, rule.err
		}
	}
	var err error
	if r.Amount, err = parseAmount(form.Get("amount"), false); err != nil {
		return r, rbsErr(rbsWrong, tAmountBad)
	}
	var e *rbsError
	if jp := form.Get("jsonParams"); jp != "" {
		if r.Params, e = parseJSONParams("jsonParams", []byte(jp)); e != nil {
			return r, e
		}
	}
	if ob := form.Get("orderBundle"); ob != "" {
		b, e := parseBundle(ob, r.Amount)
		if e != nil {
			return r, e
		}
		r.Cart = b.items
		if r.Email == "" {
			r.Email = b.email
		}
		if r.Phone == "" {
			r.Phone = b.phone
		}
	}
	if r.Lifetime, e = registerLifetime(form, now); e != nil {
		return r, e
	}
	return r, nil
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{}
	}
	return u
}

// validRBSURL: an absolute http(s) URL of the gateway's length.
func validRBSURL(s string) bool { return len(s) <= maxRBSURL && checkURL(s) == nil }

// validDescription is validText that also lets lines break: shops put
// their cart in the description, one item a line.
func validDescription(s string) bool {
	return validText(strings.NewReplacer("\r", " ", "\n", " ").Replace(s), maxRBSDescription)
}

// parseJSONParams reads a JSON object of merchant parameters. A string
// value is kept as it is; any other value (a nested object, an array, a
// number) is kept as its JSON text, so the merchant reads back what it
// sent. Refusals name param and the offending name.
func parseJSONParams(param string, raw []byte) (map[string]string, *rbsError) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, invalid(param, l(rJSONObject))
	}
	if len(m) > maxParams {
		return nil, invalid(param, l(rParamsCount, maxParams))
	}
	out := make(map[string]string, len(m))
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names) // the first bad name, the same every time
	for _, k := range names {
		v := m[k]
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return nil, invalid(param, l(rJSONObject))
			}
			s = b.String()
		}
		if k == "" || !validText(k, maxParamKey) {
			return nil, invalid(param, l(rParamName, k, maxParamKey))
		}
		if !validText(s, maxRBSParamValue) {
			return nil, invalid(param, l(rParamValue, k, maxRBSParamValue))
		}
		out[k] = s
	}
	return out, nil
}

// normPhone reads a phone number as people write it: "+7 (701) 123-45-67",
// "8 701 123 45 67", "87011234567", "7011234567", "+44 20 7946 0958". It
// answers E.164 ("+77011234567"); "" and true for "". A ten-digit number
// and an eleven-digit one starting with 8 are Kazakh (country code 7, the
// 8 the old trunk prefix).
func normPhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true
	}
	plus := strings.HasPrefix(s, "+")
	var d strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '\u00a0':
		default:
			return "", false
		}
	}
	n := d.String()
	switch {
	case plus:
	case strings.HasPrefix(n, "00"):
		n = n[2:]
	case len(n) == 11 && n[0] == '8':
		n = "7" + n[1:]
	case len(n) == 10:
		n = "7" + n
	}
	if len(n) < 8 || len(n) > 15 || n[0] == '0' {
		return "", false
	}
	return "+" + n, true
}

// registerLifetime is the order's lifetime from sessionTimeoutSecs and
// expirationDate (the sooner of the two), 0 for the configured default.
func registerLifetime(form url.Values, now time.Time) (time.Duration, *rbsError) {
	var lifetime time.Duration
	if v := form.Get("sessionTimeoutSecs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxLifetimeSecs {
			return 0, invalid("sessionTimeoutSecs", l(rSeconds))
		}
		lifetime = time.Duration(n) * time.Second
	}
	if v := form.Get("expirationDate"); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", v, almaty)
		life := t.Sub(now)
		if err != nil || life <= 0 || life > maxLifetimeSecs*time.Second {
			return 0, invalid("expirationDate", l(rExpiration))
		}
		if lifetime == 0 || life < lifetime {
			lifetime = life
		}
	}
	return lifetime, nil
}
