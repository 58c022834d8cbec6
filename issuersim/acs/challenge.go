package acs

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

// challengeView is what a challenge page shows; built under s.mu, rendered
// after it is released.
type challengeView struct {
	TransID, ACSTransID string
	Merchant, Card      string
	Amount, Currency    string
	Code                string // the one-time code, or "" for the password page
	Password            string
	Wrong               bool
	TriesLeft           int
	Nonce               string
}

// notifyView is the page that sends the browser back to the switch.
type notifyView struct {
	URL    string
	Fields []field
	Nonce  string
}

type field struct{ Name, Value string }

// challenge serves the ACS page: opened with a creq (2.x) or PaReq (1.0.2),
// submitted with the transaction ids and the buyer's code or password.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, "Bad request / Неверный запрос")
		return
	}
	var id, acsID string
	submit := r.Method == http.MethodPost && r.PostForm.Get("acsTransID") != ""
	switch {
	case submit:
		id, acsID = r.PostForm.Get("threeDSServerTransID"), r.PostForm.Get("acsTransID")
	case r.Form.Get("creq") != "" || r.Form.Get("PaReq") != "":
		v := r.Form.Get("creq")
		if v == "" {
			v = r.Form.Get("PaReq")
		}
		cr, err := emv3ds.ParseCReq(v)
		if err != nil {
			s.log.Warn().Str("event", "creq_invalid").Err(err).Msg("challenge request rejected")
			s.message(w, http.StatusBadRequest, "Bad challenge request / Неверный запрос аутентификации")
			return
		}
		id, acsID = cr.ThreeDSServerTransID, cr.ACSTransID
	default:
		s.message(w, http.StatusBadRequest, "No challenge request / Нет запроса аутентификации")
		return
	}

	var (
		cv       challengeView
		nv       notifyView
		final    bool
		event    string
		attempts int
	)
	s.mu.Lock()
	t := s.lookup(id, s.cfg.Now())
	// acsTransID is random and travels only in the creq: it is what makes
	// the page the buyer's, not anyone's who knows the order id.
	if t == nil || subtle.ConstantTimeCompare([]byte(acsID), []byte(t.acsTransID)) != 1 {
		s.mu.Unlock()
		s.message(w, http.StatusNotFound, "Unknown or expired transaction / Операция не найдена или истекла")
		return
	}
	switch {
	case t.status != "C":
		event = "challenge_replayed"
	case !submit:
		event = "challenge_shown"
	case r.PostForm.Get("cancel") != "":
		t.status, t.reason = "N", "01"
		event = "challenge_cancelled"
	case s.check(t, r.PostForm.Get("code")):
		t.status, t.reason = "Y", ""
		event = "challenge_passed"
	default:
		t.attempts++
		event = "challenge_wrong"
		if t.attempts >= s.cfg.MaxAttempts {
			t.status, t.reason = "N", "01"
			event = "challenge_failed"
		}
	}
	attempts = t.attempts
	nonce := newNonce()
	if t.status != "C" {
		final = true
		nv = s.notification(t, nonce)
	} else {
		cv = challengeView{
			TransID: t.id, ACSTransID: t.acsTransID, Merchant: t.merchant, Card: t.masked,
			Amount: formatAmount(t.amount, t.exponent), Currency: t.currency,
			Code: t.code, Wrong: event == "challenge_wrong", TriesLeft: s.cfg.MaxAttempts - t.attempts, Nonce: nonce,
		}
		if t.code == "" {
			cv.Password = s.cfg.Password
		}
	}
	status, version := t.status, t.version
	s.mu.Unlock()

	s.log.Info().Str("event", event).Str("trans_id", id).Str("version", version).
		Int("attempts", attempts).Str("trans_status", status).Msg("challenge")
	if final {
		s.render(w, http.StatusOK, notifyPage, nv, nonce)
		return
	}
	s.render(w, http.StatusOK, challengePage, cv, nonce)
}

// check compares the buyer's answer in constant time.
func (s *Server) check(t *txn, got string) bool {
	want := t.code
	if want == "" {
		want = s.cfg.Password
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) == 1
}

// notification builds the auto-POST back to the switch. Callers hold s.mu.
func (s *Server) notification(t *txn, nonce string) notifyView {
	cres := emv3ds.CRes{
		ThreeDSServerTransID: t.id, ACSTransID: t.acsTransID, MessageVersion: t.version,
		TransStatus: t.status, ChallengeCompletionInd: "Y",
	}
	fields := []field{{"threeDSServerTransID", t.id}, {"transStatus", t.status}}
	if t.version == emv3ds.Version102 {
		cres.MessageType = emv3ds.MessageTypePaRes
		fields = append(fields, field{"PaRes", cres.FormValue()}, field{"MD", t.id})
	} else {
		cres.MessageType = emv3ds.MessageTypeCRes
		fields = append(fields, field{"cres", cres.FormValue()})
	}
	return notifyView{URL: t.notificationURL, Fields: fields, Nonce: nonce}
}

func (s *Server) message(w http.ResponseWriter, status int, text string) {
	nonce := newNonce()
	s.render(w, status, messagePage, struct{ Text, Nonce string }{text, nonce}, nonce)
}

func (s *Server) render(w http.ResponseWriter, status int, tmpl *template.Template, data any, nonce string) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		s.log.Error().Err(err).Str("template", tmpl.Name()).Msg("render failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+nonce+"'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// formatAmount writes minor units as a decimal amount: 123456 with exponent
// 2 is "1234.56".
func formatAmount(minor int64, exp int) string {
	s := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return s
	}
	for len(s) <= exp {
		s = "0" + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}

const style = `<style>
body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;padding:2rem}
main{max-width:28rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem;box-shadow:0 1px 4px #0002}
.sim{background:#fff7d6;padding:.5rem;border-radius:4px;font-size:.9rem}
.error{color:#b00020;font-weight:bold}
dt{font-weight:bold}dd{margin:0 0 .5rem 0}
input{font-size:1.2rem;padding:.3rem;width:10rem}button{font-size:1rem;padding:.4rem 1rem;margin-top:.8rem}
</style>`

var challengePage = template.Must(template.New("challenge").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>3-D Secure: simulated ACS</title>` + style + `</head>
<body><main>
<h1>3-D Secure</h1>
<p class="sim">Simulated issuer ACS: no bank is involved. / Имитатор ACS банка-эмитента.</p>
<dl>
<dt>Merchant / Магазин</dt><dd>{{.Merchant}}</dd>
<dt>Amount / Сумма</dt><dd>{{.Amount}} ({{.Currency}})</dd>
<dt>Card / Карта</dt><dd>{{.Card}}</dd>
</dl>
{{if .Code}}<p>Your one-time code is <strong id="otp">{{.Code}}</strong><br>Ваш одноразовый код: <strong>{{.Code}}</strong></p>
{{else}}<p>3-D Secure 1.0.2 password page. The password is <strong id="password">{{.Password}}</strong><br>Пароль: <strong>{{.Password}}</strong></p>
{{end}}{{if .Wrong}}<p class="error" role="alert">Wrong {{if .Code}}code{{else}}password{{end}}. Tries left: {{.TriesLeft}}. / Неверно. Осталось попыток: {{.TriesLeft}}.</p>
{{end}}<form method="post" action="challenge">
<input type="hidden" name="threeDSServerTransID" value="{{.TransID}}">
<input type="hidden" name="acsTransID" value="{{.ACSTransID}}">
{{if .Code}}<label>One-time code / Одноразовый код<br><input name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required autofocus></label>
{{else}}<label>Password / Пароль<br><input name="code" type="password" autocomplete="off" required autofocus></label>
{{end}}<br><button type="submit">Submit / Подтвердить</button>
<button type="submit" name="cancel" value="1" formnovalidate>Cancel / Отмена</button>
</form>
</main></body></html>
`))

var notifyPage = template.Must(template.New("notify").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure: returning to the merchant</title></head>
<body>
<form method="post" action="{{.URL}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Authentication finished. / Аутентификация завершена.</p><button type="submit">Continue / Продолжить</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.forms[0].submit();</script>
</body></html>
`))

var messagePage = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure: simulated ACS</title>` + style + `</head>
<body><main><h1>3-D Secure</h1><p class="error">{{.Text}}</p></main></body></html>
`))
