package hpp

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// view is what the templates show. Card data never enters it: the form
// keeps only the holder's name and the e-mail.
type view struct {
	Lang, Title, Heading, Assets, Version string
	MetaURL                               string // meta refresh target
	MetaAfter                             int    // seconds
	Switcher                              []langLink

	Merchant, Description, Number, Amount, Card string
	Goods                                       []goodsLine // the merchant's cart

	Action, CSRF, Holder, Email, PayLabel string
	Stored                                string            // the masked registered card the order is paid with
	Errors                                map[string]string // field → text key
	Brands                                string            // brandTable, for the script
	// Declined: the buyer's last attempt was declined and another may be
	// made; the page says so without the issuer's reason.
	Declined bool
	// OfferKeep: the order has a customer (the shop's clientId), so the
	// buyer may agree to keep the card for it; Keep is the box's state.
	// Unticked until the buyer ticks it: storing a card needs consent.
	OfferKeep, Keep bool

	Kind        string // ok, fail, cancel, wait, expired, forbidden, notfound, error
	Lines       []string
	Back, Again string
}

// goodsLine is one line of the cart as the page shows it.
type goodsLine struct{ Name, Amount string }

type langLink struct {
	Code, Name, URL string
	Current         bool
}

func (s *Server) newView(lang, heading string) view {
	return view{Lang: lang, Title: s.cfg.Title, Heading: heading, Assets: assetsPath, Version: s.version}
}

// withOrder fills the summary every page about an order shows.
func (s *Server) withOrder(v *view, o *order.Order) {
	v.Merchant = o.Merchant
	if m, ok := s.svc.Merchant(o.Merchant); ok && m.Name != "" {
		v.Merchant = m.Name
	}
	v.Description, v.Number = o.Description, o.Number
	v.Amount = formatAmount(o.Amount, o.Currency)
	for _, it := range o.Cart {
		cur, q := o.Currency, it.Quantity
		if it.Currency != "" {
			cur = it.Currency
		}
		if q <= 0 {
			q = 1
		}
		name := it.Name
		if q > 1 {
			name += " × " + strconv.FormatInt(q, 10)
		}
		v.Goods = append(v.Goods, goodsLine{Name: name, Amount: formatAmount(it.Price*q, cur)})
	}
	if o.Card != nil {
		v.Card = o.Card.Masked
	}
}

// switcher links the same page in each language.
func switcher(path, lang string) []langLink {
	out := make([]langLink, 0, len(languages))
	for _, l := range languages {
		out = append(out, langLink{Code: l, Name: langNames[l], URL: path + "?lang=" + l, Current: l == lang})
	}
	return out
}

func payLabel(lang, amount string) string {
	switch lang {
	case "kk":
		return amount + " төлеу"
	case "ru":
		return "Оплатить " + amount
	}
	return "Pay " + amount
}

// write renders a page with the security headers; a template error is a
// bug, answered 500 without a half-written page.
func (s *Server) write(w http.ResponseWriter, status int, page string, v view) {
	var b bytes.Buffer
	tmpl, name := s.msgTmpl, "message.html"
	if page == "form" {
		tmpl, name = s.form, "form.html"
	}
	if err := tmpl.ExecuteTemplate(&b, name, v); err != nil {
		s.log.Error().Err(err).Str("template", name).Msg("render failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	secureHeaders(h)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
	s.met.views.WithLabelValues(page).Inc()
}

// message writes a page that is only words (and maybe a way back).
func (s *Server) message(w http.ResponseWriter, status int, lang, kind, heading string, lines ...string) {
	v := s.newView(lang, heading)
	v.Kind, v.Lines = kind, lines
	s.write(w, status, kind, v)
}

func (s *Server) notFound(w http.ResponseWriter, lang string) {
	s.message(w, http.StatusNotFound, lang, "notfound", t(lang, "notfound"), t(lang, "notfound_tx"))
}

func (s *Server) failed(w http.ResponseWriter, lang string) {
	s.message(w, http.StatusInternalServerError, lang, "error", t(lang, "error"), t(lang, "error_tx"))
}

// Unavailable is the page while the switch cannot take payments (starting,
// or its journal cannot write): nothing was done, try again later.
func (s *Server) Unavailable(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r.URL.Query().Get("lang"))
	w.Header().Set("Retry-After", "5")
	s.message(w, http.StatusServiceUnavailable, lang, "unavailable", t(lang, "unavailable"), t(lang, "error_tx"))
}

// order loads the order of the request's path, answering the page itself
// when there is none.
func (s *Server) order(w http.ResponseWriter, r *http.Request, lang string) (*order.Order, bool) {
	id := r.PathValue("orderId")
	if !validID(id) {
		s.notFound(w, pickLang(lang))
		return nil, false
	}
	o, err := s.svc.Get(r.Context(), id)
	switch {
	case errors.Is(err, order.ErrNotFound):
		s.notFound(w, pickLang(lang))
		return nil, false
	case err != nil:
		s.log.Error().Err(err).Str("order", id).Msg("load order")
		s.failed(w, pickLang(lang))
		return nil, false
	}
	return o, true
}

func payable(o *order.Order) bool {
	return o.Status == order.StatusRegistered || o.Status == order.Status3DS
}

func isExpired(o *order.Order) bool {
	return o.Status == order.StatusDeclined && o.ActionCode == order.ActionExpired
}

// page is GET /pay/{orderId}: the card form, or where the order now is.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	qlang := r.URL.Query().Get("lang")
	o, ok := s.order(w, r, qlang)
	if !ok {
		return
	}
	lang := pickLang(qlang, o.Language)
	switch {
	case payable(o):
		// A buyer back from an abandoned challenge (status 5) may try again.
		s.showForm(w, r, http.StatusOK, o, lang, cardForm{})
	case isExpired(o):
		s.expired(w, http.StatusGone, o, lang)
	default:
		s.toResult(w, r, o.ID, lang)
	}
}

func (s *Server) showForm(w http.ResponseWriter, r *http.Request, status int, o *order.Order, lang string, f cardForm) {
	v := s.newView(lang, t(lang, "title"))
	s.withOrder(&v, o)
	v.Switcher = switcher("/pay/"+o.ID, lang)
	v.Action = "/pay/" + o.ID
	v.CSRF = s.csrf.issue(w, r, o.ID)
	v.PayLabel = payLabel(lang, v.Amount)
	v.Brands = brandTable
	if o.StoredCard != "" && o.Card != nil {
		v.Stored = o.Card.Masked
	}
	v.Errors = f.errors
	if len(v.Errors) == 0 {
		v.Errors = nil
	}
	v.Declined = o.AttemptDeclined()
	v.OfferKeep, v.Keep = o.Customer != "", f.keep
	// Only what is not card data comes back into the page.
	v.Holder, v.Email = f.card.Holder, f.email
	if v.Email == "" && f.errors == nil {
		v.Email = o.Email
	}
	s.write(w, status, "form", v)
}

func (s *Server) expired(w http.ResponseWriter, status int, o *order.Order, lang string) {
	v := s.newView(lang, t(lang, "expired"))
	s.withOrder(&v, o)
	v.Kind, v.Lines = "expired", []string{t(lang, "expired_text")}
	s.setBack(&v, o, false)
	s.write(w, status, "expired", v)
}

// setBack points the page's button and meta refresh at the order's return
// URL (ok) or fail URL; a fail URL defaults to the return URL, as the RBS
// gateway's failUrl does, and both to the merchant's site.
func (s *Server) setBack(v *view, o *order.Order, ok bool) {
	raw := o.ReturnURL
	if !ok && o.FailURL != "" {
		raw = o.FailURL
	}
	back := backURL(raw, o.ID)
	if back == "" {
		if m, found := s.svc.Merchant(o.Merchant); found {
			back = backURL(m.URL, o.ID)
		}
	}
	v.Back, v.MetaURL, v.MetaAfter = back, back, 2
}

// toResult sends the browser to the result page (Post/Redirect/Get: a
// reload never submits the card again).
func (s *Server) toResult(w http.ResponseWriter, r *http.Request, id, lang string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/pay/"+id+"/result?lang="+lang, http.StatusSeeOther)
}

// submit is POST /pay/{orderId}: the card.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.met.submits.WithLabelValues("bad_request").Inc()
		s.message(w, http.StatusBadRequest, "ru", "error", t("ru", "error"), t("ru", "error_tx"))
		return
	}
	flang := r.PostForm.Get(fieldLang)
	o, ok := s.order(w, r, flang)
	if !ok {
		s.met.submits.WithLabelValues("not_found").Inc()
		return
	}
	lang := pickLang(flang, o.Language)
	log := s.log.With().Str("order", o.ID).Logger()
	if !s.csrf.check(r, o.ID) {
		s.met.submits.WithLabelValues("csrf").Inc()
		log.Warn().Str("outcome", "csrf").Msg("card form without a valid token refused")
		v := s.newView(lang, t(lang, "forbidden"))
		v.Kind, v.Lines, v.Again = "forbidden", []string{t(lang, "forbidden_tx")}, "/pay/"+o.ID+"?lang="+lang
		s.write(w, http.StatusForbidden, "forbidden", v)
		return
	}
	if !payable(o) {
		s.met.submits.WithLabelValues("not_payable").Inc()
		log.Info().Str("outcome", "not_payable").Int("status", int(o.Status)).Msg("card form for an order not awaiting payment")
		if isExpired(o) {
			s.expired(w, http.StatusGone, o, lang)
			return
		}
		s.toResult(w, r, o.ID, lang)
		return
	}
	var f cardForm
	var masked string
	if o.StoredCard != "" && o.Card != nil {
		// A registered card: the buyer confirms it with the CVV2.
		f, masked = parseStoredForm(r.PostForm.Get, o.Card.Brand), o.Card.Masked
	} else {
		f = parseCardForm(r.PostForm.Get, s.now())
		masked = iso.MaskPAN(f.card.PAN)
	}
	if len(f.errors) > 0 {
		s.met.submits.WithLabelValues("invalid_card").Inc()
		log.Info().Str("pan", masked).Str("outcome", "invalid_card").Strs("fields", fields(f.errors)).Msg("card form refused")
		s.showForm(w, r, http.StatusUnprocessableEntity, o, lang, f)
		return
	}
	// Counted for a card that goes to the bank: a typo the form refuses
	// costs the buyer nothing, and the ticket is given back when payments
	// refuses the card or the order before sending anything.
	ticket, wait, ok := s.attempts.Take(clientip.Host(r))
	if !ok {
		s.met.submits.WithLabelValues("throttled").Inc()
		log.Warn().Str("pan", masked).Str("outcome", "throttled").Str("remote", clientip.Host(r)).Msg("too many cards from one address")
		secs := int(wait.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		v := s.newView(lang, t(lang, "throttled"))
		v.Kind, v.Lines, v.Again = "throttled", []string{fmt.Sprintf(t(lang, "throttled_tx"), secs)}, "/pay/"+o.ID+"?lang="+lang
		s.write(w, http.StatusTooManyRequests, "throttled", v)
		return
	}
	// A buyer who closes the tab does not cut the payment short: payments
	// runs it on the switch's own deadlines.
	res, err := s.svc.Pay(r.Context(), payments.PayRequest{
		OrderID: o.ID, Card: f.card, Email: f.email, IP: clientip.Host(r), KeepCard: f.keep,
		NotificationURL: s.cfg.base() + "/pay/" + o.ID + "/3ds?lang=" + lang,
	})
	f.card = payments.CardInput{Holder: f.card.Holder}
	if err != nil {
		if field, key, isCard := payError(err); isCard {
			ticket.Return()
			s.met.submits.WithLabelValues("invalid_card").Inc()
			log.Info().Str("pan", masked).Str("outcome", "invalid_card").Str("field", field).Msg("card refused by payments")
			f.errors[field] = key
			s.showForm(w, r, http.StatusUnprocessableEntity, o, lang, f)
			return
		}
		if errors.Is(err, payments.ErrStorage) {
			s.met.submits.WithLabelValues("unavailable").Inc()
			log.Error().Err(err).Str("pan", masked).Str("outcome", "unavailable").Msg("payment not recorded")
			s.Unavailable(w, r)
			return
		}
		if errors.Is(err, order.ErrTransition) || errors.Is(err, payments.ErrInProgress) {
			// Expired, paid meanwhile (another tab), or still at the bank:
			// show where it is. This card went nowhere.
			ticket.Return()
			s.met.submits.WithLabelValues("not_payable").Inc()
			log.Info().Str("pan", masked).Str("outcome", "not_payable").Msg("order no longer awaiting payment")
			s.toResult(w, r, o.ID, lang)
			return
		}
		s.met.submits.WithLabelValues("error").Inc()
		// payments never puts card data in an error.
		log.Error().Err(err).Str("pan", masked).Str("outcome", "error").Msg("payment failed")
		s.failed(w, lang)
		return
	}
	if res.Challenge != nil {
		s.met.submits.WithLabelValues("challenge").Inc()
		log.Info().Str("pan", masked).Str("outcome", "challenge").Msg("card submitted, 3-D Secure challenge")
		cw := &challengeWriter{ResponseWriter: w, formAction: origin(res.Challenge.ChallengeURL)}
		if err := threeds.ChallengePage(cw, *res.Challenge, assetsPath+"/autosubmit.js?v="+s.version); err != nil {
			log.Error().Err(err).Msg("challenge page")
			s.failed(w, lang)
		}
		return
	}
	outcome := outcomeOf(res.Order)
	s.met.submits.WithLabelValues(outcome).Inc()
	log.Info().Str("pan", masked).Str("outcome", outcome).Int("action_code", res.Order.ActionCode).Msg("card submitted")
	s.toResult(w, r, o.ID, lang)
}

// threeDSReturn is POST /pay/{orderId}/3ds: the ACS sends the browser back.
// No CSRF token (see the package doc): the POST only names the order whose
// authentication result the switch then fetches itself.
func (s *Server) threeDSReturn(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r.URL.Query().Get("lang"))
	id := r.PathValue("orderId")
	n, err := threeds.ParseNotification(r)
	// The ACS names the attempt: the order id, or order id + "-aN" for a
	// later attempt of the same order (payments asks for the result of the
	// order's current attempt whatever is posted here).
	if err != nil || !validID(id) || (n.TransID != id && !strings.HasPrefix(n.TransID, id+"-a")) {
		s.met.returns.WithLabelValues("bad_request").Inc()
		s.log.Warn().Str("order", id).Str("outcome", "bad_request").Msg("malformed return from 3-D Secure")
		s.message(w, http.StatusBadRequest, lang, "error", t(lang, "error"), t(lang, "error_tx"))
		return
	}
	o, err := s.svc.ThreeDSComplete(r.Context(), id)
	log := s.log.With().Str("order", id).Str("claimed", string(n.ClaimedStatus)).Logger()
	switch {
	case errors.Is(err, order.ErrNotFound):
		s.met.returns.WithLabelValues("not_found").Inc()
		s.notFound(w, lang)
		return
	case errors.Is(err, payments.ErrStorage):
		s.met.returns.WithLabelValues("unavailable").Inc()
		log.Error().Err(err).Str("outcome", "unavailable").Msg("payment not recorded")
		s.Unavailable(w, r)
		return
	case errors.Is(err, order.ErrTransition), errors.Is(err, payments.ErrInProgress):
		// A second POST (reload, back button): the order is decided, or
		// its authorization is still being settled.
		s.met.returns.WithLabelValues("repeated").Inc()
		log.Info().Str("outcome", "repeated").Msg("return from 3-D Secure for a decided order")
	case err != nil:
		s.met.returns.WithLabelValues("error").Inc()
		log.Error().Err(err).Str("outcome", "error").Msg("completing 3-D Secure")
	default:
		outcome := outcomeOf(o)
		s.met.returns.WithLabelValues(outcome).Inc()
		pan := ""
		if o.Card != nil {
			pan = o.Card.Masked
		}
		log.Info().Str("pan", pan).Str("outcome", outcome).Int("action_code", o.ActionCode).Msg("3-D Secure completed")
	}
	s.toResult(w, r, id, lang)
}

// result is GET /pay/{orderId}/result.
func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	qlang := r.URL.Query().Get("lang")
	o, ok := s.order(w, r, qlang)
	if !ok {
		return
	}
	lang := pickLang(qlang, o.Language)
	self := "/pay/" + o.ID + "/result"
	var v view
	switch o.Status {
	case order.StatusRegistered:
		http.Redirect(w, r, "/pay/"+o.ID+"?lang="+lang, http.StatusSeeOther)
		return
	case order.Status3DS:
		v = s.newView(lang, t(lang, "wait_title"))
		v.Kind, v.Lines = "wait", []string{t(lang, "wait_text")}
		v.MetaURL, v.MetaAfter = self+"?lang="+lang, 3
		// A buyer who left the ACS page may pay again (payments allows it).
		v.Again = "/pay/" + o.ID + "?lang=" + lang
		s.withOrder(&v, o)
		v.Switcher = switcher(self, lang)
		s.write(w, http.StatusOK, "wait", v)
		return
	case order.StatusApproved, order.StatusDeposited:
		v = s.newView(lang, t(lang, "ok_title"))
		v.Kind = "ok"
		v.Lines = []string{order.ActionText(order.ActionApproved, lang)}
		s.setBack(&v, o, true)
	case order.StatusReversed, order.StatusRefunded:
		v = s.newView(lang, t(lang, "cancel_title"))
		v.Kind = "cancel"
		s.setBack(&v, o, false)
	default:
		if isExpired(o) {
			s.expired(w, http.StatusOK, o, lang)
			return
		}
		v = s.newView(lang, t(lang, "fail_title"))
		v.Kind = "fail"
		// Card schemes forbid telling the buyer why the issuer declined
		// ("card lost or stolen" warns a fraudster): the buyer reads a
		// neutral line, the shop and the cabinet the exact code.
		v.Lines = []string{t(lang, "declined_neutral")}
		s.setBack(&v, o, false)
	}
	s.withOrder(&v, o)
	v.Switcher = switcher(self, lang)
	s.write(w, http.StatusOK, "result", v)
}

func outcomeOf(o *order.Order) string {
	switch o.Status {
	case order.StatusApproved, order.StatusDeposited:
		return "approved"
	case order.Status3DS:
		return "pending"
	}
	return "declined"
}

func fields(errs map[string]string) []string {
	out := make([]string, 0, len(errs))
	for _, f := range []string{fieldPAN, fieldExpiry, fieldCVV, fieldHolder, fieldEmail} {
		if _, ok := errs[f]; ok {
			out = append(out, f)
		}
	}
	return out
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// challengeWriter adds to threeds.ChallengePage's headers what the hosted
// page promises on every page: no framing, and a form-action limited to
// the ACS the page posts to.
type challengeWriter struct {
	http.ResponseWriter
	formAction string
	wrote      bool
}

func (c *challengeWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.Header()
		csp := h.Get("Content-Security-Policy")
		if csp == "" {
			csp = "default-src 'none'"
		}
		fa := "'self'"
		if c.formAction != "" {
			fa += " " + c.formAction
		}
		h.Set("Content-Security-Policy", csp+"; form-action "+fa+"; frame-ancestors 'none'")
		secureHeaders(h)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}
