package receipt

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/qrcode"
)

// Prefix is where the handler is mounted.
const Prefix = "/receipt/"

// Orders reads orders (the payments store).
type Orders interface {
	Get(id string) (*order.Order, error)
}

// OrdersFunc is a function as Orders (the daemon's, whose store exists
// only once the payments service that takes the mail hook is built).
type OrdersFunc func(id string) (*order.Order, error)

// Get calls f.
func (f OrdersFunc) Get(id string) (*order.Order, error) { return f(id) }

// Shops says what a receipt shows of a merchant; false for one unknown.
type Shops func(merchant string) (Shop, bool)

// bucketMeta holds the link key (listed with the data file's buckets in
// switch/journal's doc).
var (
	bucketMeta = []byte("receipts.meta")
	keyLink    = []byte("link_key")
)

//go:embed page.html receipt.css
var files embed.FS

var page = template.Must(template.ParseFS(files, "page.html"))

// Handler serves the receipts.
type Handler struct {
	cfg    Config
	loc    *time.Location
	key    []byte
	orders Orders
	shops  Shops
	base   string // the switch's public URL
	log    zerolog.Logger
	css    []byte
}

// New builds the handler. The link key is read from db, or made and kept
// there the first time, so links stay good across restarts.
func New(cfg Config, db journal.Transactor, orders Orders, shops Shops, publicURL string, log zerolog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tz := cfg.TimeZone
	if tz == "" {
		tz = "Asia/Almaty"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("receipts: time_zone: %w", err)
	}
	h := &Handler{cfg: cfg, loc: loc, orders: orders, shops: shops, base: strings.TrimRight(publicURL, "/"), log: log}
	if h.css, err = files.ReadFile("receipt.css"); err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if k := b.Get(keyLink); len(k) == 32 {
			h.key = append([]byte(nil), k...)
			return nil
		}
		h.key = make([]byte, 32)
		if _, err := rand.Read(h.key); err != nil {
			return err
		}
		return b.Put(keyLink, h.key)
	})
	if err != nil {
		return nil, fmt.Errorf("receipts: link key: %w", err)
	}
	return h, nil
}

// URL is the link to the receipt of operation opID of an order ("" for
// the payment itself).
func (h *Handler) URL(orderID, opID string) string {
	q := url.Values{"t": {h.token(orderID, opID)}}
	if opID != "" {
		q.Set("op", opID)
	}
	return h.base + Prefix + url.PathEscape(orderID) + "?" + q.Encode()
}

func (h *Handler) token(orderID, opID string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(orderID))
	m.Write([]byte{0})
	m.Write([]byte(opID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// pageCSP: the page's own stylesheet and nothing else (the QR code is
// inline SVG markup, not an image or script).
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "receipt.css" {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(h.css)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", pageCSP)
	q := r.URL.Query()
	opID, lang := q.Get("op"), q.Get("lang")
	if !hmac.Equal([]byte(q.Get("t")), []byte(h.token(name, opID))) {
		// The same answer for an order that does not exist and a wrong
		// token: a receipt link tells nothing about other orders.
		h.notFound(w, lang, "")
		return
	}
	o, err := h.orders.Get(name)
	if err != nil {
		if !errors.Is(err, order.ErrNotFound) {
			h.log.Error().Err(err).Str("order", name).Msg("receipt: order not read")
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		h.notFound(w, lang, "")
		return
	}
	if lang == "" {
		lang = o.Language
	}
	op, err := Operation(o, opID)
	if err != nil {
		h.notFound(w, lang, texts[Language(lang)].NoReceipt)
		return
	}
	v := h.view(o, op, opID, lang)
	link := v.URL
	if q.Get("format") == "pdf" {
		var buf bytes.Buffer
		if err := WritePDF(&buf, v); err != nil {
			h.log.Error().Err(err).Str("order", o.ID).Msg("receipt: pdf")
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		hd.Set("Content-Type", "application/pdf")
		hd.Set("Content-Disposition", fmt.Sprintf(`inline; filename="receipt-%s.pdf"`, safeName(o.Number)))
		_, _ = w.Write(buf.Bytes())
		return
	}
	svg, err := qrcode.SVG(link)
	if err != nil {
		h.log.Error().Err(err).Str("order", o.ID).Msg("receipt: qr")
	}
	d := pageData{View: v, QR: template.HTML(svg)} // our own SVG, made of numbers only
	if v.Fiscal != nil && v.Fiscal.QR != "" {
		if fsvg, err := qrcode.SVG(v.Fiscal.QR); err == nil {
			d.FiscalQR = template.HTML(fsvg)
		}
	}
	h.render(w, http.StatusOK, d)
}

// view is op's receipt with its links; opID is as the link names it ("":
// the payment).
func (h *Handler) view(o *order.Order, op *order.Operation, opID, lang string) *View {
	shop, _ := h.shops(o.Merchant)
	shop.TermsURL = h.cfg.Merchants[o.Merchant].TermsURL
	link := h.URL(o.ID, opID)
	return Build(o, op, shop, lang, h.loc, link, link+"&format=pdf&lang="+Language(lang))
}

type pageData struct {
	*View
	QR, FiscalQR template.HTML
	NotFound     string
}

func (h *Handler) notFound(w http.ResponseWriter, lang, why string) {
	lang = Language(lang)
	if why == "" {
		why = texts[lang].NotFound
	}
	h.render(w, http.StatusNotFound, pageData{View: &View{Lang: lang, T: texts[lang]}, NotFound: why})
}

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		h.log.Error().Err(err).Msg("receipt: page")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// safeName keeps a file name to letters, digits, dots and dashes.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}
