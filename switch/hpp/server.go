package hpp

import (
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/throttle"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// assetsPath is where the page's stylesheet and script are served: as
// literal /pay/hpp.css and /pay/hpp.js, which net/http's mux prefers to
// /pay/{orderId} (no order id has a dot), so that the whole page lives
// under the one /pay/ prefix the daemon mounts.
const assetsPath = "/pay"

// Limits on what a browser may send.
const (
	maxForm = 8 << 10
)

// Server serves the hosted payment page. It is safe for concurrent use.
type Server struct {
	svc     *payments.Service
	cfg     Config
	log     zerolog.Logger
	csrf    csrf
	form    *template.Template
	msgTmpl *template.Template
	assets  fs.FS
	version string // of the assets, for cache-busting URLs
	met     *metrics
	now     func() time.Time
	mux     *http.ServeMux
	// attempts are the card submits by client address (Config.CardAttempts).
	attempts *throttle.Limiter
}

// New returns the hosted page over svc. An empty cfg.Title takes the
// default; an empty cfg.Secret a random one (logged as a warning: forms
// opened before a restart will then be refused). reg may be nil.
func New(svc *payments.Service, cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Server, error) {
	if svc == nil {
		return nil, errors.New("hpp: nil payments service")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Title == "" {
		cfg.Title = DefaultConfig().Title
	}
	if cfg.CardAttempts.Unset() {
		d := DefaultConfig().CardAttempts
		cfg.CardAttempts.PerMinute, cfg.CardAttempts.Burst = d.PerMinute, d.Burst
	}
	key := []byte(cfg.Secret)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("hpp: secret: %w", err)
		}
		log.Warn().Msg("no secret configured: using a random CSRF key, forms opened before a restart will be refused")
	}
	u, _ := url.Parse(cfg.PublicURL)
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		svc: svc, cfg: cfg, log: log, met: met, now: time.Now,
		csrf: csrf{key: key, secure: u.Scheme == "https"},
	}
	if s.attempts, err = throttle.New(cfg.CardAttempts, func() time.Time { return s.now() }); err != nil {
		return nil, fmt.Errorf("hpp: card_attempts: %w", err)
	}
	funcs := template.FuncMap{"t": t}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	s.form = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/form.html"))
	s.msgTmpl = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/message.html"))
	s.assets, _ = fs.Sub(assetFS, "assets")
	h := sha256.New()
	for _, name := range assetNames {
		b, err := fs.ReadFile(s.assets, name)
		if err != nil {
			return nil, fmt.Errorf("hpp: asset %s: %w", name, err)
		}
		h.Write(b)
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /pay/{orderId}", s.page)
	s.mux.HandleFunc("POST /pay/{orderId}", s.submit)
	s.mux.HandleFunc("POST /pay/{orderId}/3ds", s.threeDSReturn)
	s.mux.HandleFunc("GET /pay/{orderId}/result", s.result)
	for _, name := range assetNames {
		s.mux.HandleFunc("GET "+assetsPath+"/"+name, s.asset)
	}
	return s, nil
}

// Handler serves everything under /pay/: /pay/{orderId} (the form, GET
// and POST), /pay/{orderId}/3ds (the return from the ACS),
// /pay/{orderId}/result, and the page's /pay/hpp.css and /pay/hpp.js.
// Mount it at /pay/ of the switch's public URL.
//
// Every answer but the static files carries secureHeaders, redirects and
// errors included: each names an order.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w.Header())
		s.mux.ServeHTTP(w, r)
	})
}

// FormURL is the formUrl the merchant API hands out for an order.
func (s *Server) FormURL(orderID string) string {
	return s.cfg.base() + "/pay/" + url.PathEscape(orderID)
}

// pageCSP lets the page load only its own files (no CDN, no inline script
// or style) and post only to itself.
const pageCSP = "default-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders are on every page: no framing (clickjacking of the card
// form), no referrer (the order id must not leak to the merchant's or the
// ACS's logs through it), nothing cached (the pages show card fields and
// results).
func secureHeaders(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, assetsPath+"/")
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// Versioned URLs (?v=hash): a new build gets new URLs.
	h.Set("Cache-Control", "public, max-age=86400")
	h.Del("Pragma")
	http.ServeFileFS(w, r, s.assets, name)
}

var assetNames = []string{"hpp.css", "hpp.js", "autosubmit.js"}

// validID accepts order ids as payments makes them (UUIDs) and anything
// similar; the id also becomes a cookie path, so nothing else gets through.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// backURL is the order's own return or fail URL with orderId added, or ""
// when it has none usable. Only absolute http(s) URLs qualify: a
// javascript: or relative URL registered by mistake must not become a
// redirect.
func backURL(raw, orderID string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	q := u.Query()
	if _, has := q["orderId"]; has {
		q.Set("orderId", orderID)
		u.RawQuery = q.Encode()
	} else if u.RawQuery == "" {
		u.RawQuery = "orderId=" + url.QueryEscape(orderID)
	} else {
		u.RawQuery += "&orderId=" + url.QueryEscape(orderID)
	}
	return u.String()
}
