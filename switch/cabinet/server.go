package cabinet

import (
	"bytes"
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

	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/switch/authguard"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/users"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Server is the merchant cabinet. It is safe for concurrent use.
type Server struct {
	svc      *payments.Service
	users    *users.Store
	cfg      Config
	log      zerolog.Logger
	pages    map[string]*template.Template
	assets   fs.FS
	version  string
	secure   bool
	loginKey []byte
	opLoc    *time.Location
	now      func() time.Time
	mux      *http.ServeMux
	// unsigned says whether a merchant's callbacks go unsigned (no secret
	// configured): the settings page warns before a URL is set.
	unsigned func(merchant string) bool
	// guard limits the wrong passwords one address may try across logins
	// (the account lock itself is the users store's).
	guard *authguard.Guard
	// links are the payment links (nil: no such page).
	links Links
	// special queues special reports (nil: no mail configured).
	special SpecialQueue
	// fiscalDead counts a merchant's fiscal receipts that went to the dead
	// letters ("" for every merchant); nil without fiscalization.
	fiscalDead func(merchant string) (int, error)
}

// FiscalFailures lets the register warn about fiscal receipts the fiscal
// service never issued (dead letters), which the law requires and only a
// person can now sort out. Call it before serving.
func (s *Server) FiscalFailures(f func(merchant string) (int, error)) { s.fiscalDead = f }

// UnsignedCallbacks tells the cabinet which merchants have no callback
// secret (the daemon knows the callbacks' config). Call it before serving.
func (s *Server) UnsignedCallbacks(f func(merchant string) bool) { s.unsigned = f }

// New returns the cabinet over the payments engine and the user store.
// publicURL is where browsers reach it (cfg.PublicURL, or the daemon's
// default from the listener).
func New(svc *payments.Service, us *users.Store, cfg Config, publicURL string, log zerolog.Logger) (*Server, error) {
	if svc == nil || us == nil {
		return nil, errors.New("cabinet: payments and users are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Title == "" {
		cfg.Title = "Tulpar"
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = publicURL
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if cfg.TimeZone == "" {
		loc, err = time.LoadLocation(payments.DefaultTimeZone)
	}
	if err != nil {
		return nil, fmt.Errorf("cabinet: time_zone: %w", err)
	}
	u, _ := url.Parse(cfg.PublicURL)
	s := &Server{svc: svc, users: us, cfg: cfg, log: log, opLoc: loc, now: time.Now, secure: u != nil && u.Scheme == "https",
		loginKey: make([]byte, 32), pages: map[string]*template.Template{}}
	if _, err := rand.Read(s.loginKey); err != nil {
		return nil, err
	}
	if s.guard = cfg.Users.Guard; s.guard == nil {
		if s.guard, err = users.NewGuard(nil); err != nil {
			return nil, err
		}
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.assets, _ = fs.Sub(assetFS, "assets")
	h := sha256.New()
	for _, name := range assetNames {
		b, err := fs.ReadFile(s.assets, name)
		if err != nil {
			return nil, fmt.Errorf("cabinet: asset %s: %w", name, err)
		}
		h.Write(b)
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	s.routes()
	return s, nil
}

var assetNames = []string{"cabinet.css"}

// Handler serves the whole cabinet: mount it at the root of its own
// listener.
func (s *Server) Handler() http.Handler { return s.mux }

// pageNames are the templates, each with the layout.
var pageNames = []string{"login", "password", "orders", "columns", "order", "confirm", "reports", "links", "settings", "users", "audit", "message"}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"t":  t,
		"tf": func(lang, key string, a ...any) string { return fmt.Sprintf(t(lang, key), a...) },
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("cabinet: templates: %w", err)
	}
	for _, p := range pageNames {
		c, err := base.Clone()
		if err == nil {
			_, err = c.ParseFS(templateFS, "templates/"+p+".html")
		}
		if err != nil {
			return fmt.Errorf("cabinet: template %s: %w", p, err)
		}
		s.pages[p] = c
	}
	return nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /assets/{name}", s.asset)
	m.HandleFunc("GET /favicon.ico", http.NotFound)
	m.HandleFunc("GET /login", s.open(s.loginPage))
	m.HandleFunc("POST /login", s.open(s.loginSubmit))
	m.HandleFunc("POST /logout", s.signedIn(roleAny, s.logout))
	m.HandleFunc("GET /password", s.signedIn(roleAny, s.passwordPage))
	m.HandleFunc("POST /password", s.signedIn(roleAny, s.passwordSubmit))
	m.HandleFunc("GET /{$}", s.signedIn(roleAny, func(rq *req) { rq.redirect("/orders") }))
	m.HandleFunc("GET /orders", s.signedIn(roleAny, s.ordersPage))
	m.HandleFunc("GET /orders/export.csv", s.signedIn(roleAny, s.exportCSV))
	m.HandleFunc("GET /orders/export.xlsx", s.signedIn(roleAny, s.exportXLSX))
	m.HandleFunc("POST /orders/email", s.signedIn(roleAny, s.emailReport))
	m.HandleFunc("GET /columns", s.signedIn(roleAny, s.columnsPage))
	m.HandleFunc("POST /columns", s.signedIn(roleAny, s.columnsSubmit))
	m.HandleFunc("POST /filters", s.signedIn(roleAny, s.saveFilter))
	m.HandleFunc("POST /filters/delete", s.signedIn(roleAny, s.deleteFilter))
	m.HandleFunc("GET /orders/{id}", s.signedIn(roleAny, s.orderPage))
	m.HandleFunc("POST /orders/{id}/{action}", s.signedIn(roleActor, s.actionSubmit))
	m.HandleFunc("GET /reports", s.signedIn(roleAny, s.reportsPage))
	m.HandleFunc("GET /reports/export.csv", s.signedIn(roleAny, s.reportCSV))
	m.HandleFunc("GET /reports/export.xlsx", s.signedIn(roleAny, s.reportXLSX))
	m.HandleFunc("GET /links", s.signedIn(roleMerchant, s.linksPage))
	m.HandleFunc("POST /links", s.signedIn(roleMerchant, s.linkCreate))
	m.HandleFunc("POST /links/{code}/disable", s.signedIn(roleMerchant, s.linkDisable))
	m.HandleFunc("GET /settings", s.signedIn(roleAny, s.settingsPage))
	m.HandleFunc("POST /settings/profile", s.signedIn(roleAny, s.profileSubmit))
	m.HandleFunc("POST /settings/integration", s.signedIn(roleMerchant, s.integrationSubmit))
	m.HandleFunc("GET /admin/users", s.signedIn(roleOperator, s.usersPage))
	m.HandleFunc("POST /admin/users", s.signedIn(roleOperator, s.createUser))
	m.HandleFunc("POST /admin/users/{login}/{op}", s.signedIn(roleOperator, s.userOp))
	m.HandleFunc("GET /admin/audit", s.signedIn(roleOperator, s.auditPage))
	m.HandleFunc("/", s.open(func(rq *req) { rq.notFound() }))
	s.mux = m
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	found := false
	for _, n := range assetNames {
		found = found || n == name
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, s.assets, name)
}

// pageCSP lets pages load only the cabinet's own stylesheet: no script at
// all, no inline style, no frame, forms posting only to the cabinet.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders is what a page or a download of the cabinet adds to the
// daemon's defaults for every answer (switch/daemon's secureDefaults: no
// framing, nosniff, a deny-all policy, HSTS under TLS), which this
// package does not repeat: the policy widened to the cabinet's own
// stylesheet, and no copy of data in any cache.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	// same-origin, not the defaults' no-referrer: with no-referrer a
	// browser sends "Origin: null" with the cabinet's own forms, which
	// sameOrigin could then not tell from a sandboxed attacker's.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// view is what every page's template gets.
type view struct {
	Lang, Title, Heading, Assets, Version, Path string
	Page                                        string // the template, as the body's class
	User                                        *users.User
	Operator, CanAct                            bool
	Links                                       bool // the user may see payment links
	CSRF                                        string
	Nav                                         string
	Switcher                                    []langLink
	Flash, Alert                                string
	Data                                        any
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

// render writes a page with the security headers; a template error is a
// bug, answered 500 without a half-written page.
func (s *Server) render(rq *req, status int, page, heading string, data any) {
	v := view{Lang: rq.lang, Title: s.cfg.Title, Heading: heading, Assets: "/assets", Version: s.version, Path: rq.r.URL.Path, Page: page,
		User: rq.user, Nav: rq.nav, Flash: rq.flash, Alert: rq.alert, Data: data}
	if rq.sess != nil {
		v.CSRF = rq.sess.CSRF
	}
	if rq.user != nil {
		v.Operator = rq.user.Role == users.RoleOperator
		v.CanAct = rq.user.Role != users.RoleViewer
		v.Links = s.links != nil && rq.user.Role == users.RoleMerchant
	}
	q := rq.r.URL.Query()
	for _, l := range languages {
		q.Set("lang", l)
		v.Switcher = append(v.Switcher, langLink{Code: l, Name: langNames[l], URL: rq.r.URL.Path + "?" + q.Encode(), Current: l == rq.lang})
	}
	var b bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&b, page+".html", v); err != nil {
		s.log.Error().Err(err).Str("template", page).Msg("render failed")
		http.Error(rq.w, "internal error", http.StatusInternalServerError)
		return
	}
	h := rq.w.Header()
	secureHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(b.Bytes())
}

// sameOrigin refuses a state-changing request another site's page sent.
// Browsers say where a request comes from in Sec-Fetch-Site (all current
// ones) and Origin (with every POST); a client that sends neither is no
// browser, and the CSRF token still has to be right.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && origin != "null" && strings.EqualFold(u.Host, r.Host)
}
