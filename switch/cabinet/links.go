package cabinet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// Links keeps the merchants' payment links (paylinks.Service).
type Links interface {
	Create(ctx context.Context, l paylinks.Link) (*paylinks.Link, error)
	List(merchant string) ([]*paylinks.Link, error)
	Disable(ctx context.Context, merchant, code string) (*paylinks.Link, error)
	State(ctx context.Context, l *paylinks.Link) (paylinks.State, error)
	URL(code string) string
}

// PaymentLinks gives the cabinet the payment links page (the daemon sets
// it). Call it before serving.
func (s *Server) PaymentLinks(l Links) { s.links = l }

type linkRow struct {
	Code, URL, Description, Amount, State, Expires string
	OneTime, Active                                bool
	Orders                                         int
}

type linksData struct {
	Rows      []linkRow
	Error     string
	Languages []choice
	Form      map[string]string
}

func (s *Server) linksData(rq *req) (linksData, error) {
	d := linksData{Form: map[string]string{}}
	for _, l := range languages {
		d.Languages = append(d.Languages, choice{Value: l, Label: langNames[l], On: l == rq.lang})
	}
	ls, err := s.links.List(rq.user.Merchant)
	if err != nil {
		return d, err
	}
	for _, l := range ls {
		st, err := s.links.State(rq.r.Context(), l)
		if err != nil {
			return d, err
		}
		r := linkRow{Code: l.Code, URL: s.links.URL(l.Code), Description: l.Description, OneTime: l.OneTime,
			State: t(rq.lang, "l_"+string(st)), Active: st == paylinks.Active, Orders: l.OrderCount}
		if l.Amount > 0 {
			r.Amount = money(l.Amount, l.Currency)
		} else {
			r.Amount = fmt.Sprintf(t(rq.lang, "l_from_to"), money(l.MinAmount, l.Currency), money(l.MaxAmount, l.Currency))
		}
		if !l.ExpiresAt.IsZero() {
			r.Expires = when(l.ExpiresAt, rq.loc())
		}
		d.Rows = append(d.Rows, r)
	}
	return d, nil
}

func (s *Server) linksPage(rq *req) {
	if s.links == nil {
		rq.notFound()
		return
	}
	rq.nav = "links"
	if c := rq.r.URL.Query().Get("created"); c != "" {
		rq.flash = fmt.Sprintf(t(rq.lang, "l_created"), s.links.URL(c))
	} else if rq.r.URL.Query().Get("done") == "disabled" {
		rq.flash = t(rq.lang, "l_disabled_done")
	}
	d, err := s.linksData(rq)
	if err != nil {
		rq.failed(err, "list payment links")
		return
	}
	s.render(rq, http.StatusOK, "links", t(rq.lang, "nav_links"), d)
}

// linkCreate makes a link from the form; a refused field shows the form
// again with what was typed.
func (s *Server) linkCreate(rq *req) {
	if s.links == nil {
		rq.notFound()
		return
	}
	rq.nav = "links"
	f := rq.r.PostForm
	currency := "398"
	l := paylinks.Link{Merchant: rq.user.Merchant, Currency: currency, Description: strings.TrimSpace(f.Get("description")),
		Language: f.Get("language"), OneTime: f.Get("one_time") != "", Email: strings.TrimSpace(f.Get("email")),
		Name: strings.TrimSpace(f.Get("name")), AskEmail: f.Get("ask_email") != "", AskName: f.Get("ask_name") != "",
		TwoStage: f.Get("two_stage") != ""}
	var bad string
	for _, a := range []struct {
		field string
		to    *int64
	}{{"amount", &l.Amount}, {"min_amount", &l.MinAmount}, {"max_amount", &l.MaxAmount}} {
		v, err := parseAmount(f.Get(a.field), currency)
		if err != nil && bad == "" {
			bad = a.field
		}
		*a.to = v
	}
	if e := f.Get("expires"); e != "" && bad == "" {
		at, err := time.ParseInLocation("2006-01-02T15:04", e, rq.loc())
		if err != nil {
			bad = "expires"
		}
		l.ExpiresAt = at
	}
	var made *paylinks.Link
	err := errors.New(bad)
	if bad == "" {
		made, err = s.links.Create(rq.r.Context(), l)
	}
	var fe *paylinks.FieldError
	if bad != "" || errors.As(err, &fe) {
		if fe != nil {
			bad = fe.Field
		}
		d, lerr := s.linksData(rq)
		if lerr != nil {
			rq.failed(lerr, "list payment links")
			return
		}
		for k := range f {
			d.Form[k] = f.Get(k)
		}
		d.Error = fmt.Sprintf(t(rq.lang, "l_bad"), linkFieldLabel(rq.lang, bad))
		s.render(rq, http.StatusBadRequest, "links", t(rq.lang, "nav_links"), d)
		return
	}
	if err != nil {
		rq.failed(err, "create payment link")
		return
	}
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventLinkCreated, Merchant: rq.user.Merchant, IP: clientIP(rq.r), Detail: made.Code})
	rq.redirect("/links?created=" + made.Code)
}

// linkFieldLabel names a refused field as the form labels it.
func linkFieldLabel(lang, field string) string {
	key := map[string]string{"amount": "l_amount", "min_amount": "l_min", "max_amount": "l_max", "description": "l_description",
		"customer_email": "l_email", "customer_name": "l_name", "ask_email": "l_ask_email", "ask_name": "l_ask_name",
		"expires": "l_expires", "expires_at": "l_expires", "language": "language"}[field]
	if key == "" {
		return field
	}
	return t(lang, key)
}

func (s *Server) linkDisable(rq *req) {
	if s.links == nil {
		rq.notFound()
		return
	}
	code := rq.r.PathValue("code")
	_, err := s.links.Disable(rq.r.Context(), rq.user.Merchant, code)
	if errors.Is(err, paylinks.ErrNotFound) {
		rq.notFound()
		return
	}
	if err != nil {
		rq.failed(err, "switch off payment link")
		return
	}
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventLinkDisabled, Merchant: rq.user.Merchant, IP: clientIP(rq.r), Detail: code})
	rq.redirect("/links?done=disabled")
}
