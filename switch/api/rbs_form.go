package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/clientip"
)

// rbsBegin reads the form, records the request as it will be journaled
// (no credentials, no card data), settles the answer's language and
// authenticates. On false the answer has been sent.
func (c *call) rbsBegin() (url.Values, bool) {
	c.lang = queryLanguage(c.r)
	form, e := readForm(c.r)
	if e != nil {
		// No form to journal: the endpoint alone.
		c.reqPayload, _ = json.Marshal(map[string]string{"endpoint": c.endpoint})
		c.rbsAnswer(e)
		return nil, false
	}
	c.reqPayload = journalForm(c.endpoint, form)
	if lang, ok := normLanguage(form.Get("language")); ok && lang != "" {
		c.lang = lang
	}
	for k, v := range form {
		if len(v) > 1 {
			c.rbsAnswer(rbsErr(rbsWrong, tRepeated, k))
			return nil, false
		}
	}
	var err error
	if tok := form.Get("token"); tok != "" {
		c.merchant, err = c.s.auth.secret(tok, false, clientip.Host(c.r))
	} else {
		switch {
		case form.Get("userName") == "":
			c.rbsAnswer(empty(rbsMissing, "userName"))
			return nil, false
		case form.Get("password") == "":
			c.rbsAnswer(empty(rbsMissing, "password"))
			return nil, false
		}
		c.merchant, err = c.s.auth.password(c.r.Context(), form.Get("userName"), form.Get("password"), clientip.Host(c.r))
	}
	var locked *errLocked
	switch {
	case errors.As(err, &locked):
		secs := int(locked.retryAfter.Seconds() + 0.999)
		c.w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.rbsAnswer(rbsErr(rbsWrong, tLocked, secs))
		return nil, false
	case err != nil:
		// Busy: every password check slot is taken. Nothing was tried.
		c.w.Header().Set("Retry-After", "1")
		c.rbsAnswer(rbsErr(rbsSystemError, tUnavailable))
		return nil, false
	case c.merchant == nil, c.certRefused():
		c.rbsAnswer(rbsErr(rbsWrong, tAccess))
		return nil, false
	}
	return form, true
}

// readForm is the request's parameters, query and body, as text. Shops on
// older CMS installations still send windows-1251: a body whose
// Content-Type says so is decoded from it, and so is any parameter that is
// not valid UTF-8 (a cp1251 Cyrillic letter never is), so that a
// description in Russian reads as Russian instead of being refused.
func readForm(r *http.Request) (url.Values, *rbsError) {
	cp1251Body := false
	if ct := r.Header.Get("Content-Type"); ct != "" && r.Method != http.MethodGet {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, rbsErr(rbsWrong, tContentType)
		}
		switch cs := strings.ToLower(params["charset"]); cs {
		case "", "utf-8", "utf8", "us-ascii":
		case "windows-1251", "cp1251", "windows1251", "x-cp1251":
			cp1251Body = true
		default:
			return nil, rbsErr(rbsWrong, tCharset, cs)
		}
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, rbsErr(rbsWrong, tTooLarge)
		}
		return nil, rbsErr(rbsWrong, tMalformed)
	}
	form := make(url.Values, len(r.Form))
	add := func(vs url.Values, cp1251 bool) {
		for k, v := range vs {
			k = fromCP1251(k, cp1251)
			for _, s := range v {
				form[k] = append(form[k], fromCP1251(s, cp1251))
			}
		}
	}
	add(r.PostForm, cp1251Body)
	add(r.URL.Query(), false)
	return form, nil
}

// fromCP1251 decodes s from windows-1251 when told to or when s is not
// UTF-8. Decoding cannot fail: a byte the code page leaves undefined
// becomes U+FFFD, which the parameter's own checks then refuse.
func fromCP1251(s string, always bool) string {
	if !always && utf8.ValidString(s) {
		return s
	}
	d, err := charmap.Windows1251.NewDecoder().String(s)
	if err != nil {
		return s
	}
	return d
}

// journalForm is the request as the journal keeps it: credentials left
// out, the PAN masked (paymentorder.do's $PAN, getBindingsByCardOrId.do's
// pan), the CVC2 dropped ($CVC, paymentOrderBinding.do's cvc).
func journalForm(endpoint string, form url.Values) []byte {
	p := make(map[string]string, len(form))
	for k, v := range form {
		switch k {
		case "password", "token", "$CVC", "cvc":
			continue
		case "$PAN", "pan":
			p[k] = iso.MaskPAN(strings.Join(v, ""))
			continue
		}
		p[k] = strings.Join(v, ",")
	}
	b, _ := json.Marshal(struct {
		Endpoint string            `json:"endpoint"`
		Params   map[string]string `json:"params"`
	}{endpoint, p})
	return b
}
