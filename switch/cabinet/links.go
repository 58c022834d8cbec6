package cabinet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
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
	// CartLines and FieldLines number the form's empty lines for goods
	// and for the buyer's questions: without script, the form has room
	// for a few of each (the JSON API takes up to paylinks.MaxCart and
	// paylinks.MaxFields).
	CartLines, FieldLines []int
}

// The form's lines of goods and of questions.
const (
	formCartLines  = 5
	formFieldLines = 3
)

func (s *Server) linksData(rq *req) (linksData, error) {
	d := linksData{Form: map[string]string{}}
	for i := 1; i <= formCartLines; i++ {
		d.CartLines = append(d.CartLines, i)
	}
	for i := 1; i <= min(formFieldLines, paylinks.MaxFields); i++ {
		d.FieldLines = append(d.FieldLines, i)
	}
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
	lines, cartBad := formCart(f, currency)
	computed := false
	if bad == "" {
		bad = cartBad
	}
	for _, c := range lines {
		l.Cart = append(l.Cart, c.item)
	}
	if l.Amount == 0 && strings.TrimSpace(f.Get("amount")) == "" && len(l.Cart) > 0 {
		// Goods and no amount: the goods' total, once every line is
		// sound (a bad line is named as itself, not as the amount it
		// would make), each clamped so the sum cannot overflow.
		for _, c := range lines {
			switch {
			case bad != "":
			case c.item.Quantity <= 0:
				bad = fmt.Sprintf("cart_qty_%d", c.line)
			case c.item.Price <= 0:
				bad = fmt.Sprintf("cart_price_%d", c.line)
			}
			l.Amount += min(c.item.Quantity, 1_000_000) * min(c.item.Price, 1_000_000_000_000)
		}
		computed = true
	}
	questions := formFields(f)
	for _, q := range questions {
		l.Fields = append(l.Fields, q.field)
	}
	var made *paylinks.Link
	err := errors.New(bad)
	if bad == "" {
		made, err = s.links.Create(rq.r.Context(), l)
	}
	var fe *paylinks.FieldError
	if bad != "" || errors.As(err, &fe) {
		if fe != nil {
			bad = formField(fe.Field, lines, questions)
			if computed && bad == "amount" {
				bad = "cart" // the amount is the goods' total: too large
			}
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
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventLinkCreated, Merchant: rq.user.Merchant, IP: clientip.Host(rq.r), Detail: made.Code})
	rq.redirect("/links?created=" + made.Code)
}

// goodsLine is a line of goods the form filled, with its line number.
type goodsLine struct {
	line int
	item order.CartItem
}

// formCart reads the form's lines of goods, skipping empty ones; a
// quantity left empty is one. bad names the first field that does not
// parse (cart_qty_2), "" when all do.
func formCart(f url.Values, currency string) (lines []goodsLine, bad string) {
	for i := 1; i <= formCartLines; i++ {
		name := strings.TrimSpace(f.Get(fmt.Sprintf("cart_name_%d", i)))
		qty := strings.TrimSpace(f.Get(fmt.Sprintf("cart_qty_%d", i)))
		price := f.Get(fmt.Sprintf("cart_price_%d", i))
		if name == "" && qty == "" && strings.TrimSpace(price) == "" {
			continue
		}
		c := goodsLine{line: i, item: order.CartItem{Name: name, Quantity: 1}}
		if qty != "" {
			n, err := strconv.ParseInt(qty, 10, 64)
			if err != nil && bad == "" {
				bad = fmt.Sprintf("cart_qty_%d", i)
			}
			c.item.Quantity = n
		}
		p, err := parseAmount(price, currency)
		if err != nil && bad == "" {
			bad = fmt.Sprintf("cart_price_%d", i)
		}
		c.item.Price = p
		lines = append(lines, c)
	}
	return lines, bad
}

// question is a question for the buyer the form filled, with its line
// number.
type question struct {
	line  int
	field paylinks.Field
}

// formFields reads the form's questions for the buyer, skipping empty
// lines. A question without a key is keyed by its line (question_2):
// the key names the answer in the order's params.
func formFields(f url.Values) []question {
	var qs []question
	for i := 1; i <= formFieldLines; i++ {
		key := strings.TrimSpace(f.Get(fmt.Sprintf("field_key_%d", i)))
		label := strings.TrimSpace(f.Get(fmt.Sprintf("field_label_%d", i)))
		if key == "" && label == "" {
			continue
		}
		if key == "" {
			key = fmt.Sprintf("question_%d", i)
		}
		qs = append(qs, question{i, paylinks.Field{Name: key, Label: label, Required: f.Get(fmt.Sprintf("field_required_%d", i)) != ""}})
	}
	return qs
}

// formField turns a field paylinks refused into the form's name of it:
// cart[1].price is the second filled line of goods, its price input.
func formField(field string, lines []goodsLine, qs []question) string {
	var i int
	var sub string
	if n, _ := fmt.Sscanf(field, "cart[%d].%s", &i, &sub); n == 2 && i >= 0 && i < len(lines) {
		return map[string]string{"name": "cart_name_", "quantity": "cart_qty_", "price": "cart_price_"}[sub] + strconv.Itoa(lines[i].line)
	}
	if n, _ := fmt.Sscanf(field, "custom_fields[%d].%s", &i, &sub); n == 2 && i >= 0 && i < len(qs) {
		return map[string]string{"name": "field_key_", "label": "field_label_"}[sub] + strconv.Itoa(qs[i].line)
	}
	return field
}

// linkFieldLabel names a refused field as the form labels it.
func linkFieldLabel(lang, field string) string {
	key := map[string]string{"amount": "l_amount", "min_amount": "l_min", "max_amount": "l_max", "description": "l_description",
		"customer_email": "l_email", "customer_name": "l_name", "ask_email": "l_ask_email", "ask_name": "l_ask_name",
		"expires": "l_expires", "expires_at": "l_expires", "language": "language", "cart": "l_cart",
		"custom_fields": "l_fields"}[field]
	if key != "" {
		return t(lang, key)
	}
	for prefix, key := range map[string]string{"cart_name_": "l_line_name", "cart_qty_": "l_line_qty", "cart_price_": "l_line_price",
		"field_key_": "l_q_key", "field_label_": "l_q_label"} {
		if n, err := strconv.Atoi(strings.TrimPrefix(field, prefix)); strings.HasPrefix(field, prefix) && err == nil {
			return fmt.Sprintf(t(lang, key), n)
		}
	}
	return field
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
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventLinkDisabled, Merchant: rq.user.Merchant, IP: clientip.Host(rq.r), Detail: code})
	rq.redirect("/links?done=disabled")
}
