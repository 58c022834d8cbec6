package paylinks

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/qrcode"
)

// Prefix is where the daemon mounts the links' pages on the merchants'
// port; a link's short address is Prefix + code.
const Prefix = "/l/"

//go:embed page.html paylink.css
var files embed.FS

var page = template.Must(template.ParseFS(files, "page.html"))

// pageCSP: the page's own stylesheet, the form posting to itself and
// nothing else (the QR code is inline SVG markup, no script anywhere).
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Handler serves the links' pages and QR codes.
func (s *Service) Handler() http.Handler {
	css, _ := files.ReadFile("paylink.css")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"paylink.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(css)
	})
	mux.HandleFunc("GET "+Prefix+"{code}", s.show)
	// A form another site posts would make orders in a buyer's name: the
	// browser's Sec-Fetch-Site / Origin must say the post came from here.
	mux.Handle("POST "+Prefix+"{code}", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.submit)))
	mux.HandleFunc("GET "+Prefix+"{code}/qr.svg", s.qr)
	mux.HandleFunc("GET "+Prefix+"{code}/qr.png", s.qr)
	return mux
}

// cartLine is a cart's line as the page shows it.
type cartLine struct {
	Name, Price, Total string
	Quantity           int64
}

// fieldInput is a custom field on the form, with what the buyer typed.
type fieldInput struct {
	Field
	Value string
}

type pageData struct {
	Lang                       string
	T                          text
	Shop                       Shop
	Notice, Error              string
	Description, Amount, Range string
	PayBy                      string
	AskEmail, AskName          bool
	Action                     string
	Form                       struct{ Amount, Email, Name string }
	Fields                     []fieldInput
	Cart                       []cartLine
	QR                         template.HTML
}

func (s *Service) show(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, "", nil)
}

// serve answers with the link's page: its state's notice, or the form
// (with problem and what the buyer typed after a refused post).
func (s *Service) serve(w http.ResponseWriter, r *http.Request, problem string, form *pageData) {
	s.serveProblem(w, r, http.StatusUnprocessableEntity, problem, form)
}

// serveProblem is serve with the status a problem is answered with.
func (s *Service) serveProblem(w http.ResponseWriter, r *http.Request, problemStatus int, problem string, form *pageData) {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = r.PostFormValue("lang")
	}
	l, err := s.Get("", r.PathValue("code"))
	if errors.Is(err, ErrNotFound) {
		lang = language(lang)
		s.render(w, http.StatusNotFound, &pageData{Lang: lang, T: texts[lang], Notice: texts[lang].NotFound})
		return
	}
	if err != nil {
		s.unavailable(w, err)
		return
	}
	if lang == "" {
		lang = l.Language
	}
	lang = language(lang)
	t := texts[lang]
	d := &pageData{Lang: lang, T: t, Action: Prefix + l.Code}
	if form != nil {
		d.Form = form.Form
	}
	for _, f := range l.Fields {
		d.Fields = append(d.Fields, fieldInput{Field: f, Value: r.PostFormValue("c_" + f.Name)})
	}
	d.Shop, _ = s.d.Shops(l.Merchant)
	st, err := s.State(r.Context(), l)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	switch st {
	case Expired:
		d.Notice = t.Expired
	case Disabled:
		d.Notice = t.Disabled
	case Paid:
		d.Notice = t.Paid
	}
	if d.Notice != "" {
		status := http.StatusGone
		if st == Paid {
			status = http.StatusOK
		}
		s.render(w, status, d)
		return
	}
	d.Description, d.AskEmail, d.AskName, d.Error = l.Description, l.AskEmail, l.AskName, problem
	for _, it := range l.Cart {
		d.Cart = append(d.Cart, cartLine{Name: it.Name, Quantity: it.Quantity, Price: formatAmount(it.Price, l.Currency),
			Total: formatAmount(it.Quantity*it.Price, l.Currency)})
	}
	if l.Amount > 0 {
		d.Amount = formatAmount(l.Amount, l.Currency)
	} else {
		d.Range = fmtRange(t, l)
	}
	if !l.ExpiresAt.IsZero() && l.OneTime {
		d.PayBy = l.ExpiresAt.In(almaty).Format("02.01.2006 15:04")
	}
	if svg, err := qrcode.SVG(s.URL(l.Code)); err == nil {
		d.QR = template.HTML(svg) // our own SVG, made of numbers only
	}
	status := http.StatusOK
	if problem != "" {
		status = problemStatus
	}
	s.render(w, status, d)
}

var almaty = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Almaty"); err == nil {
		return l
	}
	return time.FixedZone("UTC+5", 5*3600)
}()

func fmtRange(t text, l *Link) string {
	return fmt.Sprintf(t.AmountRange, formatAmount(l.MinAmount, l.Currency), formatAmount(l.MaxAmount, l.Currency))
}

// submit registers the order and sends the buyer to the hosted payment
// page; a refused field shows the form again with the reason.
func (s *Service) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var form pageData
	form.Form.Amount, form.Form.Email, form.Form.Name = r.PostFormValue("amount"), r.PostFormValue("email"), r.PostFormValue("name")
	b := Buyer{Email: form.Form.Email, Name: form.Form.Name, Fields: map[string]string{}}
	if c, err := r.Cookie(buyerCookie(r.PathValue("code"))); err == nil {
		b.Order = c.Value
	}
	for k, v := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "c_"); ok && len(v) > 0 {
			b.Fields[name] = v[0]
		}
	}
	lang := language(r.PostFormValue("lang"))
	if form.Form.Amount != "" {
		a, ok := parseAmount(form.Form.Amount)
		if !ok {
			s.serve(w, r, texts[lang].Amount+": "+texts[lang].Check, &form)
			return
		}
		b.Amount = a
	}
	b.Address = clientip.Host(r)
	o, err := s.Pay(r.Context(), r.PathValue("code"), b)
	var fe *FieldError
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		secs := int(te.RetryAfter.Seconds() + 0.999)
		s.d.Log.Warn().Str("link", r.PathValue("code")).Str("remote", clientip.Host(r)).Msg("too many orders through payment links from one network")
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.serveProblem(w, r, http.StatusTooManyRequests, fmt.Sprintf(texts[lang].TooMany, secs), &form)
		return
	case errors.As(err, &fe):
		label := fieldLabel(lang, fe.Field)
		if l, lerr := s.Get("", r.PathValue("code")); lerr == nil {
			for _, f := range l.Fields {
				if f.Name == fe.Field {
					label = f.Label
				}
			}
		}
		s.serve(w, r, label+": "+texts[lang].Check, &form)
		return
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNotPayable):
		s.serve(w, r, "", nil) // the page says why
		return
	case errors.Is(err, ErrBeingPaid):
		s.serve(w, r, texts[lang].BeingPaid, &form)
		return
	case err != nil:
		s.unavailable(w, err)
		return
	}
	// The browser remembers its order, so that its buyer may correct
	// their details (a one-time link: Buyer.Order).
	http.SetCookie(w, &http.Cookie{Name: buyerCookie(r.PathValue("code")), Value: o.ID, Path: Prefix + r.PathValue("code"),
		MaxAge: int(orderLifetime / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/pay/"+o.ID, http.StatusSeeOther)
}

// buyerCookie names the cookie holding the order a link sent the browser
// to.
func buyerCookie(code string) string { return "tulpar_link_" + code }

// fieldLabel is the form's label of a field, for an error line.
func fieldLabel(lang, field string) string {
	t := texts[lang]
	switch field {
	case "amount":
		return t.Amount
	case "email":
		return t.Email
	case "name":
		return t.Name
	}
	return field
}

// qr is the QR code of the link's address, as SVG or PNG.
func (s *Service) qr(w http.ResponseWriter, r *http.Request) {
	l, err := s.Get("", r.PathValue("code"))
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.unavailable(w, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path[len(r.URL.Path)-3:] == "svg" {
		svg, err := qrcode.SVG(s.URL(l.Code))
		if err != nil {
			s.unavailable(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		_, _ = w.Write([]byte(svg))
		return
	}
	png, err := qrcode.PNG(s.URL(l.Code))
	if err != nil {
		s.unavailable(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

func (s *Service) unavailable(w http.ResponseWriter, err error) {
	s.d.Log.Error().Err(err).Msg("payment link")
	http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
}

func (s *Service) render(w http.ResponseWriter, status int, d *pageData) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		s.unavailable(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
