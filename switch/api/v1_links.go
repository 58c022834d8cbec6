package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// PaymentLinks keeps the merchants' payment links and invoices
// (paylinks.Service).
type PaymentLinks interface {
	// CreateWith commits with the new link what with makes of it: the
	// answer and its idempotency receipt.
	CreateWith(ctx context.Context, l paylinks.Link, with func(*paylinks.Link) (payments.Record, error)) (*paylinks.Link, error)
	Get(merchant, code string) (*paylinks.Link, error)
	Disable(ctx context.Context, merchant, code string) (*paylinks.Link, error)
	State(ctx context.Context, l *paylinks.Link) (paylinks.State, error)
	URL(code string) string
	OrderIDs(code string, max int) ([]string, error)
}

// maxLinkOrders bounds order_ids: a perpetual link may be paid without
// end; order_count says how often.
const maxLinkOrders = 100

type createLinkRequest struct {
	Amount        *int64      `json:"amount"`
	MinAmount     *int64      `json:"min_amount"`
	MaxAmount     *int64      `json:"max_amount"`
	Currency      *string     `json:"currency"`
	Description   *string     `json:"description"`
	Language      *string     `json:"language"`
	OneTime       *bool       `json:"one_time"`
	CustomerEmail *string     `json:"customer_email"`
	CustomerName  *string     `json:"customer_name"`
	AskEmail      *bool       `json:"ask_email"`
	AskName       *bool       `json:"ask_name"`
	Capture       *string     `json:"capture"`
	ReturnURL     *string     `json:"return_url"`
	ExpiresAt     *string     `json:"expires_at"`
	CustomFields  []linkField `json:"custom_fields"`
	Cart          []cartLine  `json:"cart"`
}

// cartLine is a line of an invoice's cart: price in minor units.
type cartLine struct {
	Name     string `json:"name"`
	Quantity int64  `json:"quantity"`
	Price    int64  `json:"price"`
}

// linkField is a custom field of a link's form, as the API spells it.
type linkField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Required bool   `json:"required"`
}

type paymentLinkObject struct {
	Object        string      `json:"object"`
	Code          string      `json:"code"`
	URL           string      `json:"url"`
	QRSVGURL      string      `json:"qr_svg_url"`
	QRPNGURL      string      `json:"qr_png_url"`
	Status        string      `json:"status"`
	OneTime       bool        `json:"one_time"`
	Amount        *int64      `json:"amount,omitempty"`
	MinAmount     *int64      `json:"min_amount,omitempty"`
	MaxAmount     *int64      `json:"max_amount,omitempty"`
	Currency      string      `json:"currency"`
	Description   string      `json:"description,omitempty"`
	Language      string      `json:"language"`
	CustomerEmail string      `json:"customer_email,omitempty"`
	CustomerName  string      `json:"customer_name,omitempty"`
	AskEmail      bool        `json:"ask_email"`
	AskName       bool        `json:"ask_name"`
	Capture       string      `json:"capture"`
	ReturnURL     string      `json:"return_url,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	ExpiresAt     *time.Time  `json:"expires_at,omitempty"`
	DisabledAt    *time.Time  `json:"disabled_at,omitempty"`
	CustomFields  []linkField `json:"custom_fields"`
	Cart          []cartLine  `json:"cart,omitempty"`
	OrderCount    int         `json:"order_count"`
	OrderIDs      []string    `json:"order_ids"`
}

func (c *call) linkJSON(l *paylinks.Link) (paymentLinkObject, error) {
	st, err := c.s.cfg.PaymentLinks.State(c.r.Context(), l)
	if err != nil {
		return paymentLinkObject{}, err
	}
	u := c.s.cfg.PaymentLinks.URL(l.Code)
	v := paymentLinkObject{Object: "payment_link", Code: l.Code, URL: u, QRSVGURL: u + "/qr.svg", QRPNGURL: u + "/qr.png",
		Status: string(st), OneTime: l.OneTime, Currency: l.Currency, Description: l.Description, Language: l.Language,
		CustomerEmail: l.Email, CustomerName: l.Name, AskEmail: l.AskEmail, AskName: l.AskName, Capture: "automatic",
		ReturnURL: l.ReturnURL, CreatedAt: l.CreatedAt, OrderCount: l.OrderCount, CustomFields: []linkField{}}
	for _, f := range l.Fields {
		v.CustomFields = append(v.CustomFields, linkField(f))
	}
	for _, it := range l.Cart {
		v.Cart = append(v.Cart, cartLine{Name: it.Name, Quantity: it.Quantity, Price: it.Price})
	}
	if v.OrderIDs, err = c.s.cfg.PaymentLinks.OrderIDs(l.Code, maxLinkOrders); err != nil {
		return paymentLinkObject{}, err
	}
	if v.OrderIDs == nil {
		v.OrderIDs = []string{}
	}
	if l.TwoStage {
		v.Capture = "manual"
	}
	if l.Amount > 0 {
		v.Amount = &l.Amount
	} else {
		v.MinAmount, v.MaxAmount = &l.MinAmount, &l.MaxAmount
	}
	if !l.ExpiresAt.IsZero() {
		v.ExpiresAt = &l.ExpiresAt
	}
	if !l.DisabledAt.IsZero() {
		v.DisabledAt = &l.DisabledAt
	}
	return v, nil
}

// linkFail maps a paylinks error.
func (c *call) linkFail(err error) statusBody {
	var fe *paylinks.FieldError
	switch {
	case errors.As(err, &fe):
		return paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", fe.Field, fe.Reason))
	case errors.Is(err, paylinks.ErrNotFound):
		return paramErrorBody(paramError(http.StatusNotFound, "payment_link_not_found", "code", "no such payment link"))
	}
	c.s.log.Error().Err(err).Str("endpoint", c.endpoint).Msg("payment links error")
	c.w.Header().Set("Retry-After", "5")
	return paramErrorBody(http.StatusServiceUnavailable, apiError{Type: "api_error", Code: "temporarily_unavailable",
		Message: "the service is temporarily unavailable; retry later with the same Idempotency-Key"})
}

// linkAnswer answers with the link, or the error.
func (c *call) linkAnswer(v *v1req, l *paylinks.Link, err error, status int) {
	if err != nil {
		c.v1Answer(v, c.linkFail(err))
		return
	}
	obj, err := c.linkJSON(l)
	if err != nil {
		c.v1Answer(v, c.linkFail(err))
		return
	}
	c.v1Answer(v, statusBody{status: status, body: obj})
}

func (c *call) v1CreateLink() {
	var v v1req
	var q createLinkRequest
	if !c.v1Begin(&v, &q) {
		return
	}
	l := paylinks.Link{Merchant: c.merchant.Merchant, Currency: str(q.Currency), Description: str(q.Description),
		Language: str(q.Language), Email: str(q.CustomerEmail), Name: str(q.CustomerName), ReturnURL: str(q.ReturnURL)}
	for _, f := range []struct {
		p  *int64
		to *int64
	}{{q.Amount, &l.Amount}, {q.MinAmount, &l.MinAmount}, {q.MaxAmount, &l.MaxAmount}} {
		if f.p != nil {
			*f.to = *f.p
		}
	}
	for _, f := range []struct {
		p  *bool
		to *bool
	}{{q.OneTime, &l.OneTime}, {q.AskEmail, &l.AskEmail}, {q.AskName, &l.AskName}} {
		if f.p != nil {
			*f.to = *f.p
		}
	}
	bad := func(param, msg string) {
		c.v1Answer(&v, paramErrorBody(paramError(http.StatusBadRequest, "parameter_invalid", param, msg)))
	}
	switch {
	case q.Amount != nil && *q.Amount <= 0:
		bad("amount", errAmount.Error())
		return
	case q.Language != nil && *q.Language == "":
		bad("language", "must be ru, kk or en")
		return
	case q.Currency != nil && *q.Currency == "":
		bad("currency", "must be an ISO 4217 numeric code the switch accepts: 398, 840, 978 or 643")
		return
	case q.Capture != nil && *q.Capture != "automatic" && *q.Capture != "manual":
		bad("capture", `must be "automatic" or "manual"`)
		return
	}
	l.TwoStage = str(q.Capture) == "manual"
	for _, f := range q.CustomFields {
		l.Fields = append(l.Fields, paylinks.Field(f))
	}
	for _, it := range q.Cart {
		l.Cart = append(l.Cart, order.CartItem{Name: it.Name, Quantity: it.Quantity, Price: it.Price, Amount: it.Quantity * it.Price})
	}
	if q.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *q.ExpiresAt)
		if err != nil {
			bad("expires_at", "must be an RFC 3339 date-time such as 2026-12-31T18:00:00+05:00")
			return
		}
		l.ExpiresAt = t
	}
	if v.key == "" {
		made, err := c.s.cfg.PaymentLinks.CreateWith(c.r.Context(), l, nil)
		c.linkAnswer(&v, made, err, http.StatusCreated)
		return
	}
	// With a key, the answer and its receipt commit with the link: a
	// crash after the link alone would let the retry make a second one.
	var body []byte
	_, err := c.s.cfg.PaymentLinks.CreateWith(c.r.Context(), l, func(made *paylinks.Link) (payments.Record, error) {
		obj, err := c.linkJSON(made)
		if err != nil {
			return payments.Record{}, err
		}
		body, _ = json.Marshal(obj)
		return c.s.svc.ReceiptRecord(*v.receipt(c.merchant.Merchant), "", c.requestToJournal(), c.answerPayload(http.StatusCreated, body)), nil
	})
	if err != nil {
		c.linkAnswer(&v, nil, err, 0)
		return
	}
	c.release(&v)
	c.send(http.StatusCreated, body)
}

func (c *call) v1GetLink() {
	var v v1req
	if !c.v1Begin(&v, nil) {
		return
	}
	l, err := c.s.cfg.PaymentLinks.Get(c.merchant.Merchant, c.r.PathValue("code"))
	c.linkAnswer(&v, l, err, http.StatusOK)
}

func (c *call) v1DisableLink() {
	var v v1req
	if !c.v1Begin(&v, nil) {
		return
	}
	l, err := c.s.cfg.PaymentLinks.Disable(c.r.Context(), c.merchant.Merchant, c.r.PathValue("code"))
	c.linkAnswer(&v, l, err, http.StatusOK)
}
