package fiscal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// The Nurkassa API as this client speaks it. From the public SDK: the
// login, the Bearer token, the Pos-Id header, POST api/v2/sale with status,
// goods and payment. This package's design, answered by fiscalsim: the
// fields inside goods and payment, external_id, the lookup
// GET api/v2/sale?external_id=, 409 for a known external id (with the
// receipt already issued), and the answer's fields.
//
//	POST api/v1/login    {"phone_number": login, "password": password}
//	                     200 {"data": {"api_token": "..."}}
//	POST api/v2/sale     Authorization: Bearer <token>, Pos-Id: <pos_id>
//	                     {"status": 2 (sale) | 3 (return of a sale),
//	                      "external_id": "...", "section_id": 1,
//	                      "goods": [{"name": "...", "price": "1500.50", "quantity": "1",
//	                                 "sum": "1500.50", "tax_rate": 12, "section_id": 1}],
//	                      "payment": [{"type": 1 (card), "sum": "1500.50"}],
//	                      "email": "..."}
//	                     201 {"data": Ticket}; 409 {"data": Ticket} when external_id is known
//	GET  api/v2/sale?external_id=...
//	                     200 {"data": Ticket}; 404 none
//	any                  401: the token expired; log in again
//
// Ticket: {"id": 77, "external_id": "...", "fiscal_sign": "...",
// "ticket_url": "...", "qr": "...", "created_at": RFC 3339}. Errors:
// {"errors": ...} or {"message": "..."}.
//
// The statuses are the Kazakh fiscal data protocol's operation types
// (2 sell, 3 sell return) and the payment type its card payment (1).
const (
	nkSale       = 2
	nkReturn     = 3
	nkPayCard    = 1
	nkLoginPath  = "api/v1/login"
	nkSalePath   = "api/v2/sale"
	maxNKAnswer  = 1 << 20
	nkUserAgent  = "Tulpar-Fiscal/1"
	nkAccept     = "application/json"
	nkPosHeader  = "Pos-Id"
	nkAuthHeader = "Authorization"
)

// NKTicket is a receipt as the Nurkassa API answers it.
type NKTicket struct {
	ID         int64  `json:"id"`
	ExternalID string `json:"external_id"`
	FiscalSign string `json:"fiscal_sign"`
	TicketURL  string `json:"ticket_url"`
	QR         string `json:"qr"`
	CreatedAt  string `json:"created_at"`
}

// NKSale is a sale or return as the Nurkassa API takes it.
type NKSale struct {
	Status     int         `json:"status"`
	ExternalID string      `json:"external_id"`
	SectionID  int64       `json:"section_id"`
	Goods      []NKGood    `json:"goods"`
	Payment    []NKPayment `json:"payment"`
	Email      string      `json:"email,omitempty"`
}

// NKGood is one line of goods of an NKSale.
type NKGood struct {
	Name      string `json:"name"`
	Price     string `json:"price"`
	Quantity  string `json:"quantity"`
	Sum       string `json:"sum"`
	TaxRate   int    `json:"tax_rate"`
	SectionID int64  `json:"section_id"`
}

// NKPayment is one payment of an NKSale.
type NKPayment struct {
	Type int    `json:"type"`
	Sum  string `json:"sum"`
}

// Nurkassa is a merchant's account at Nurkassa: a Connector. It logs in
// when it has no token and again when the service answers 401 (tokens
// expire), once per call.
type Nurkassa struct {
	m       Merchant
	base    *url.URL
	client  *http.Client
	timeout time.Duration

	mu    sync.Mutex
	token string
}

// NewNurkassa returns the connector of account m; each call to the service
// is bounded by timeout. client nil: a client of its own.
func NewNurkassa(m Merchant, timeout time.Duration, client *http.Client) *Nurkassa {
	if client == nil {
		client = &http.Client{}
	}
	base, err := url.Parse(strings.TrimRight(m.URL, "/") + "/")
	if err != nil {
		base = &url.URL{} // Config.Validate refuses such a URL first
	}
	return &Nurkassa{m: m, base: base, client: client, timeout: timeout}
}

// Issue sends the receipt (Connector).
func (n *Nurkassa) Issue(ctx context.Context, r Receipt) (Issued, error) {
	status := nkSale
	if r.Kind != order.FiscalSale {
		status = nkReturn
	}
	s := NKSale{Status: status, ExternalID: r.ExternalID, SectionID: n.m.SectionID, Email: r.Email,
		Payment: []NKPayment{{Type: nkPayCard, Sum: Tenge(r.Total)}}}
	for _, it := range r.Items {
		s.Goods = append(s.Goods, NKGood{Name: it.Name, Price: Tenge(it.Price), Quantity: it.Quantity, Sum: Tenge(it.Sum),
			TaxRate: *n.m.TaxRate, SectionID: n.m.SectionID})
	}
	body, err := json.Marshal(s)
	if err != nil {
		return Issued{}, err
	}
	status, ans, err := n.call(ctx, http.MethodPost, nkSalePath, body)
	if err != nil {
		return Issued{}, err
	}
	switch {
	case status == http.StatusOK || status == http.StatusCreated || status == http.StatusConflict:
		// 409: the service has a receipt with this external id: that
		// one is the answer (an earlier attempt was issued).
		return issued(ans)
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		return Issued{}, fmt.Errorf("%w: HTTP %d: %s", ErrRefused, status, errorText(ans))
	}
	return Issued{}, fmt.Errorf("HTTP %d: %s", status, errorText(ans))
}

// Find looks the receipt up by its external id (Connector).
func (n *Nurkassa) Find(ctx context.Context, externalID string) (Issued, bool, error) {
	status, ans, err := n.call(ctx, http.MethodGet, nkSalePath+"?external_id="+url.QueryEscape(externalID), nil)
	switch {
	case err != nil:
		return Issued{}, false, err
	case status == http.StatusNotFound:
		return Issued{}, false, nil
	case status != http.StatusOK:
		return Issued{}, false, fmt.Errorf("lookup: HTTP %d: %s", status, errorText(ans))
	}
	got, err := issued(ans)
	return got, err == nil, err
}

// call makes an authenticated call, logging in first when there is no
// token, and once more when the service says the token is no longer good.
func (n *Nurkassa) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	for try := 0; ; try++ {
		tok, err := n.ensureToken(ctx)
		if err != nil {
			return 0, nil, err
		}
		status, ans, err := n.do(ctx, method, path, body, tok)
		if err != nil || status != http.StatusUnauthorized || try > 0 {
			return status, ans, err
		}
		n.mu.Lock()
		if n.token == tok {
			n.token = ""
		}
		n.mu.Unlock()
	}
}

func (n *Nurkassa) ensureToken(ctx context.Context) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.token != "" {
		return n.token, nil
	}
	body, _ := json.Marshal(map[string]string{"phone_number": n.m.Login, "password": n.m.password()})
	status, ans, err := n.do(ctx, http.MethodPost, nkLoginPath, body, "")
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	if status != http.StatusOK {
		// Credentials the service does not take stay a retry, not a
		// refusal: the receipt waits for an operator to fix the password
		// rather than being dropped.
		return "", fmt.Errorf("login as %s: HTTP %d: %s", n.m.Login, status, errorText(ans))
	}
	var a struct {
		Data struct {
			APIToken string `json:"api_token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans, &a); err != nil || a.Data.APIToken == "" {
		return "", fmt.Errorf("login as %s: no api_token in the answer", n.m.Login)
	}
	n.token = a.Data.APIToken
	return n.token, nil
}

// do makes one HTTP exchange, bounded by the connector's timeout, and
// returns the status and the answer's body.
func (n *Nurkassa) do(ctx context.Context, method, path string, body []byte, token string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	ref, err := url.Parse(path)
	if err != nil {
		return 0, nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.base.ResolveReference(ref).String(), rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", nkAccept)
	req.Header.Set("User-Agent", nkUserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(nkAuthHeader, "Bearer "+token)
		req.Header.Set(nkPosHeader, strconv.FormatInt(n.m.PosID, 10))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is known; the cause is what matters
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, maxNKAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("HTTP %d: reading the answer: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, ans, nil
}

// issued reads a Ticket answer.
func issued(ans []byte) (Issued, error) {
	var a struct {
		Data NKTicket `json:"data"`
	}
	if err := json.Unmarshal(ans, &a); err != nil {
		return Issued{}, fmt.Errorf("answer is not a ticket: %w", err)
	}
	if a.Data.FiscalSign == "" {
		return Issued{}, errors.New("answer has no fiscal_sign")
	}
	t, _ := time.Parse(time.RFC3339, a.Data.CreatedAt)
	return Issued{ReceiptID: strconv.FormatInt(a.Data.ID, 10), FiscalSign: a.Data.FiscalSign, Link: a.Data.TicketURL, QR: a.Data.QR, Time: t}, nil
}

// errorText is the service's error message, short enough for a log line
// and a dead letter.
func errorText(ans []byte) string {
	var a struct {
		Message string          `json:"message"`
		Errors  json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(ans, &a) == nil {
		switch {
		case a.Message != "" && len(a.Errors) > 0:
			return cutText(a.Message + " " + string(a.Errors))
		case a.Message != "":
			return cutText(a.Message)
		case len(a.Errors) > 0:
			return cutText(string(a.Errors))
		}
	}
	return cutText(string(ans))
}

func cutText(s string) string {
	const max = 300
	s = strings.TrimSpace(s)
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
