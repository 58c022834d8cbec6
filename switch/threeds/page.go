package threeds

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

// maxNotification bounds the notification POST the ACS sends through the
// browser.
const maxNotification = 64 << 10

type formField struct{ Name, Value string }

var redirectPage = template.Must(template.New("redirect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure</title></head>
<body>
<form method="post" action="{{.URL}}" data-autosubmit>
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Your bank will now confirm the payment. / Сейчас банк подтвердит платёж.</p><button type="submit">Continue / Продолжить</button></noscript>
</form>
<script src="{{.Script}}"></script>
</body></html>
`))

// ChallengePage writes a page that sends the browser to the ACS: a form
// POSTing o.ChallengeForm to o.ChallengeURL, marked data-autosubmit and
// submitted by the script at scriptURL (same origin: the page allows no
// inline script and no other origin's), with a button for browsers
// without JavaScript. The hosted payment page answers
// with it when Begin returns ChallengeRequired. It writes nothing and
// returns an error unless o is a challenge with an http(s) URL.
func ChallengePage(w http.ResponseWriter, o Outcome, scriptURL string) error {
	if o.Status != ChallengeRequired {
		return fmt.Errorf("threeds: challenge page: status is %s, not challenge-required", o.Status)
	}
	if !emv3ds.ValidURL(o.ChallengeURL) {
		return errors.New("threeds: challenge page: challenge URL is not an absolute http(s) URL")
	}
	names := make([]string, 0, len(o.ChallengeForm))
	for k := range o.ChallengeForm {
		names = append(names, k)
	}
	sort.Strings(names)
	fields := make([]formField, len(names))
	for i, k := range names {
		fields[i] = formField{k, o.ChallengeForm[k]}
	}
	var b bytes.Buffer
	if err := redirectPage.Execute(&b, struct {
		URL    string
		Fields []formField
		Script string
	}{o.ChallengeURL, fields, scriptURL}); err != nil {
		return fmt.Errorf("threeds: challenge page: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; base-uri 'none'")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("threeds: challenge page: %w", err)
	}
	return nil
}

// Notification is what the ACS sent back through the browser. It only says
// which transaction to ask Result about: the browser could have forged it.
type Notification struct {
	TransID string
	// ClaimedStatus is the transStatus the browser brought; never act on
	// it (it is useful in the journal, beside what Result says).
	ClaimedStatus Status
}

// ParseNotification reads the ACS's POST to the notification URL: the
// threeDSServerTransID field, else the id inside cres (2.x), else MD
// (1.0.2). When several are present they must agree.
func ParseNotification(r *http.Request) (Notification, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxNotification)
	if err := r.ParseForm(); err != nil {
		return Notification{}, fmt.Errorf("threeds: notification: %w", err)
	}
	return parseNotificationForm(r.PostForm.Get("threeDSServerTransID"), r.PostForm.Get("cres"),
		r.PostForm.Get("MD"), r.PostForm.Get("transStatus"))
}

func parseNotificationForm(field, cres, md, status string) (Notification, error) {
	var n Notification
	ids := make([]string, 0, 3)
	if field != "" {
		ids = append(ids, field)
	}
	if cres != "" {
		cr, err := emv3ds.ParseCRes(cres)
		if err != nil {
			return n, fmt.Errorf("threeds: notification: cres: %w", err)
		}
		ids = append(ids, cr.ThreeDSServerTransID)
		if status == "" {
			status = cr.TransStatus
		}
	}
	if md != "" {
		ids = append(ids, md)
	}
	if len(ids) == 0 {
		return n, errors.New("threeds: notification: no threeDSServerTransID, cres or MD")
	}
	for _, id := range ids {
		if !emv3ds.ValidTransID(id) {
			return n, errors.New("threeds: notification: transaction id malformed")
		}
		if id != ids[0] {
			return n, errors.New("threeds: notification: transaction ids disagree")
		}
	}
	n.TransID = ids[0]
	switch s := Status(status); s {
	case Authenticated, Attempted, Failed, NotEnrolled, Rejected, ChallengeRequired:
		n.ClaimedStatus = s
	}
	return n, nil
}
