// Package fiscalsim is a fiscal service for tests and the demo: an HTTP
// server that answers the Nurkassa API as switch/fiscal speaks it (login,
// sale and return with goods and payment under a Pos-Id, lookup by
// external id), issues receipts with a fiscal sign, a ticket link and a
// QR text, and keeps them in memory. It can fail (HTTP 500 on every call,
// or on the next n), lose its answer after issuing (the switch then does
// not know), be slow, and expire its tokens, so that tests see the
// switch's retries make exactly one receipt per operation.
//
// It refuses a second receipt with an external id it knows with 409 and
// the receipt it issued, and checks what it is sent as a strict service
// would: amounts in tenge with two decimals, goods that add up to the
// payment, a cash register, a section and a tax rate.
//
// Like issuersim, it imports nothing of the switch: it is the other side.
package fiscalsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Config shapes a Sim. The zero value takes any login with a non-empty
// password and never expires a token by itself.
type Config struct {
	// Users maps a login to its password; empty: any login, any non-empty
	// password.
	Users map[string]string
	// TokenTTL is how long a token is good for; 0: until ExpireTokens.
	TokenTTL time.Duration
	// Now is the clock of tokens and receipts. Default time.Now.
	Now func() time.Time
}

// Receipt is a receipt the simulator issued.
type Receipt struct {
	ID         int64     `json:"id"`
	PosID      int64     `json:"pos_id"`
	ExternalID string    `json:"external_id"`
	Status     int       `json:"status"` // 2 sale, 3 return of a sale
	SectionID  int64     `json:"section_id"`
	Goods      []Good    `json:"goods"`
	Payment    []Payment `json:"payment"`
	Email      string    `json:"email,omitempty"`
	// Sum is the payment's total in minor units (tiyn).
	Sum        int64     `json:"-"`
	FiscalSign string    `json:"fiscal_sign"`
	TicketURL  string    `json:"ticket_url"`
	QR         string    `json:"qr"`
	CreatedAt  time.Time `json:"created_at"`
}

// Good is one line of a receipt, as sent.
type Good struct {
	Name      string `json:"name"`
	Price     string `json:"price"`
	Quantity  string `json:"quantity"`
	Sum       string `json:"sum"`
	TaxRate   int    `json:"tax_rate"`
	SectionID int64  `json:"section_id"`
}

// Payment is one payment of a receipt, as sent.
type Payment struct {
	Type int    `json:"type"`
	Sum  string `json:"sum"`
}

// Operation statuses and the card payment type the simulator takes.
const (
	StatusSale   = 2
	StatusReturn = 3
	PaymentCard  = 1
)

// Sim is the simulated fiscal service.
type Sim struct {
	cfg Config
	log zerolog.Logger

	mu       sync.Mutex
	tokens   map[string]time.Time // token → expiry (zero: none)
	receipts []*Receipt
	byExt    map[string]*Receipt // pos id + "/" + external id
	seq      int64
	down     bool
	failNext int
	loseNext int
	delay    time.Duration
	logins   int
	dups     int
}

// New returns a simulator; serve its Handler, or Start it.
func New(cfg Config, log zerolog.Logger) *Sim {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sim{cfg: cfg, log: log, tokens: map[string]time.Time{}, byExt: map[string]*Receipt{}}
}

// SetDown makes every API call answer HTTP 500 (true) or not (false).
func (s *Sim) SetDown(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// FailNext makes the next n API calls answer HTTP 500 without doing anything.
func (s *Sim) FailNext(n int) { s.mu.Lock(); s.failNext = n; s.mu.Unlock() }

// LoseNext makes the next n sales issue their receipt and then answer
// HTTP 500, as when the answer is lost on the way: the caller cannot know.
func (s *Sim) LoseNext(n int) { s.mu.Lock(); s.loseNext = n; s.mu.Unlock() }

// SetDelay makes every API call wait d before it is answered.
func (s *Sim) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// ExpireTokens makes every token issued so far expired: the next call
// with one is answered 401.
func (s *Sim) ExpireTokens() { s.mu.Lock(); clear(s.tokens); s.mu.Unlock() }

// Receipts are the receipts issued, in order.
func (s *Sim) Receipts() []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Receipt, 0, len(s.receipts))
	for _, r := range s.receipts {
		out = append(out, *r)
	}
	return out
}

// Logins counts successful logins.
func (s *Sim) Logins() int { s.mu.Lock(); defer s.mu.Unlock(); return s.logins }

// Duplicates counts sales refused because their external id was known.
func (s *Sim) Duplicates() int { s.mu.Lock(); defer s.mu.Unlock(); return s.dups }

// Handler serves the API, the ticket pages and the QR links.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", s.api(s.login))
	mux.HandleFunc("POST /api/v2/sale", s.api(s.authed(s.sale)))
	mux.HandleFunc("GET /api/v2/sale", s.api(s.authed(s.lookup)))
	mux.HandleFunc("GET /api/v2/sale/{id}/receipt", s.api(s.authed(s.receipt)))
	mux.HandleFunc("GET /ticket/{id}", s.ticket)
	mux.HandleFunc("GET /consumer", s.consumer)
	return mux
}

// api wraps an API handler with the simulator's failures and delay.
func (s *Sim) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		delay, fail := s.delay, s.down
		if !fail && s.failNext > 0 {
			s.failNext--
			fail = true
		}
		s.mu.Unlock()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if fail {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Server Error"})
			return
		}
		h(w, r)
	}
}

func (s *Sim) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Phone    string `json:"phone_number"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Phone == "" || in.Password == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "The given data was invalid.",
			"errors": map[string][]string{"phone_number": {"required"}, "password": {"required"}}})
		return
	}
	if want, ok := s.cfg.Users[in.Phone]; len(s.cfg.Users) > 0 && (!ok || want != in.Password) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid credentials"})
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	var exp time.Time
	if s.cfg.TokenTTL > 0 {
		exp = s.cfg.Now().Add(s.cfg.TokenTTL)
	}
	s.tokens[tok] = exp
	s.logins++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"api_token": tok}})
}

// authed checks the token and the Pos-Id header.
func (s *Sim) authed(h func(w http.ResponseWriter, r *http.Request, pos int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[tok]
		if known && !exp.IsZero() && !s.cfg.Now().Before(exp) {
			delete(s.tokens, tok)
			known = false
		}
		s.mu.Unlock()
		if !ok || !known {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthenticated."})
			return
		}
		pos, err := strconv.ParseInt(r.Header.Get("Pos-Id"), 10, 64)
		if err != nil || pos <= 0 {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Pos-Id header: a cash register id is required"})
			return
		}
		h(w, r, pos)
	}
}

func (s *Sim) sale(w http.ResponseWriter, r *http.Request, pos int64) {
	var in Receipt
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "body: " + err.Error()})
		return
	}
	sum, err := check(&in)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "The given data was invalid.", "errors": err.Error()})
		return
	}
	base := "http://" + r.Host
	s.mu.Lock()
	if old, ok := s.byExt[extKey(pos, in.ExternalID)]; ok {
		s.dups++
		s.mu.Unlock()
		s.log.Info().Str("external_id", in.ExternalID).Int64("id", old.ID).Msg("fiscalsim: duplicate external id refused")
		writeJSON(w, http.StatusConflict, map[string]any{"message": "external_id already used", "data": old})
		return
	}
	s.seq++
	now := s.cfg.Now().UTC().Truncate(time.Second)
	in.ID, in.PosID, in.Sum, in.CreatedAt = s.seq, pos, sum, now
	in.FiscalSign = fmt.Sprintf("%010d", 7000000000+s.seq)
	in.TicketURL = fmt.Sprintf("%s/ticket/%d", base, in.ID)
	in.QR = fmt.Sprintf("%s/consumer?i=%s&f=%d&s=%s&t=%s", base, in.FiscalSign, pos, tenge(sum), now.Format("20060102T150405"))
	rec := in
	s.receipts = append(s.receipts, &rec)
	if in.ExternalID != "" {
		s.byExt[extKey(pos, in.ExternalID)] = &rec
	}
	lose := s.loseNext > 0
	if lose {
		s.loseNext--
	}
	s.mu.Unlock()
	s.log.Info().Str("external_id", in.ExternalID).Int64("id", rec.ID).Int("status", in.Status).Str("sum", tenge(sum)).Bool("answer_lost", lose).Msg("fiscalsim: receipt issued")
	if lose {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Server Error"})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data": rec})
}

func (s *Sim) lookup(w http.ResponseWriter, r *http.Request, pos int64) {
	ext := r.URL.Query().Get("external_id")
	s.mu.Lock()
	rec, ok := s.byExt[extKey(pos, ext)]
	var c Receipt
	if ok {
		c = *rec
	}
	s.mu.Unlock()
	if ext == "" || !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c})
}

func (s *Sim) receipt(w http.ResponseWriter, r *http.Request, pos int64) {
	rec, ok := s.byID(r.PathValue("id"))
	if !ok || rec.PosID != pos {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": rec})
}

func (s *Sim) byID(id string) (Receipt, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Receipt{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.receipts {
		if r.ID == n {
			return *r, true
		}
	}
	return Receipt{}, false
}

// ticket is the receipt's page, as the fiscal data operator shows it.
func (s *Sim) ticket(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.byID(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	kind := "ПРОДАЖА"
	if rec.Status == StatusReturn {
		kind = "ВОЗВРАТ ПРОДАЖИ"
	}
	fmt.Fprintf(w, "ФИСКАЛЬНЫЙ ЧЕК (fiscalsim)\n%s\nККМ %d  секция %d\n", kind, rec.PosID, rec.SectionID)
	for _, g := range rec.Goods {
		fmt.Fprintf(w, "%s\n  %s x %s = %s  НДС %d%%\n", g.Name, g.Quantity, g.Price, g.Sum, g.TaxRate)
	}
	fmt.Fprintf(w, "ИТОГО %s (карта)\nФП %s\n%s\n", tenge(rec.Sum), rec.FiscalSign, rec.CreatedAt.Format(time.RFC3339))
}

// consumer answers a QR code's link with the receipt it names.
func (s *Sim) consumer(w http.ResponseWriter, r *http.Request) {
	sign := r.URL.Query().Get("i")
	s.mu.Lock()
	var id int64
	for _, rec := range s.receipts {
		if rec.FiscalSign == sign {
			id = rec.ID
		}
	}
	s.mu.Unlock()
	if id == 0 {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, "/ticket/"+strconv.FormatInt(id, 10), http.StatusFound)
}

func extKey(pos int64, ext string) string { return strconv.FormatInt(pos, 10) + "/" + ext }

// check validates a sale as a strict service would and returns its total
// in minor units.
func check(in *Receipt) (int64, error) {
	var errs []string
	if in.Status != StatusSale && in.Status != StatusReturn {
		errs = append(errs, fmt.Sprintf("status: %d is not 2 (sale) or 3 (return)", in.Status))
	}
	if len(in.Goods) == 0 {
		errs = append(errs, "goods: required")
	}
	var goods int64
	for i, g := range in.Goods {
		if strings.TrimSpace(g.Name) == "" {
			errs = append(errs, fmt.Sprintf("goods.%d.name: required", i))
		}
		sum, err := parseTenge(g.Sum)
		if err != nil {
			errs = append(errs, fmt.Sprintf("goods.%d.sum: %v", i, err))
		}
		if _, err := parseTenge(g.Price); err != nil {
			errs = append(errs, fmt.Sprintf("goods.%d.price: %v", i, err))
		}
		if q, err := strconv.ParseFloat(g.Quantity, 64); err != nil || q <= 0 {
			errs = append(errs, fmt.Sprintf("goods.%d.quantity: %q is not a positive number", i, g.Quantity))
		}
		if g.TaxRate < 0 || g.TaxRate > 100 {
			errs = append(errs, fmt.Sprintf("goods.%d.tax_rate: %d", i, g.TaxRate))
		}
		if g.SectionID <= 0 {
			errs = append(errs, fmt.Sprintf("goods.%d.section_id: required", i))
		}
		goods += sum
	}
	var paid int64
	for i, p := range in.Payment {
		if p.Type != PaymentCard {
			errs = append(errs, fmt.Sprintf("payment.%d.type: %d is not 1 (card)", i, p.Type))
		}
		sum, err := parseTenge(p.Sum)
		if err != nil {
			errs = append(errs, fmt.Sprintf("payment.%d.sum: %v", i, err))
		}
		paid += sum
	}
	if len(in.Payment) == 0 {
		errs = append(errs, "payment: required")
	} else if paid != goods {
		errs = append(errs, fmt.Sprintf("payment: %s paid for goods of %s", tenge(paid), tenge(goods)))
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return 0, errors.New(strings.Join(errs, "; "))
	}
	return paid, nil
}

// parseTenge reads "1500.50" into 150050: two decimals, always.
func parseTenge(s string) (int64, error) {
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 || whole == "" {
		return 0, fmt.Errorf("%q: tenge with two decimals (1500.50) expected", s)
	}
	w, err1 := strconv.ParseUint(whole, 10, 62)
	f, err2 := strconv.ParseUint(frac, 10, 8)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q: not an amount", s)
	}
	return int64(w)*100 + int64(f), nil
}

func tenge(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Server is a Sim listening on a TCP address.
type Server struct {
	*Sim
	srv *http.Server
	url string
}

// Start serves a new Sim on addr ("127.0.0.1:0" for a free port) until
// Close.
func Start(addr string, cfg Config, log zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fiscalsim: %w", err)
	}
	s := &Server{Sim: New(cfg, log), url: "http://" + ln.Addr().String()}
	// net/http's own reports go to log as JSON, not the standard logger.
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: stdlog.New(log.With().Str("server", "fiscalsim").Logger(), "", 0)}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the simulator's base URL.
func (s *Server) URL() string { return s.url }

// Close stops the server at once; calls in flight are cut.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Shutdown stops the server, letting calls in flight finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// ParseQR reads the receipt's fiscal sign out of its QR text.
func ParseQR(qr string) (string, error) {
	u, err := url.Parse(qr)
	if err != nil {
		return "", err
	}
	return u.Query().Get("i"), nil
}
