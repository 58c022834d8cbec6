package cabinet

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// Cookies. With https the session cookie takes the __Host- prefix: the
// browser then keeps it only if it is Secure, for the whole host and set by
// it, so no sibling subdomain can plant or read one.
const (
	sessionCookie = "tulpar_cabinet"
	langCookie    = "tulpar_lang"
	preCookie     = "tulpar_cabinet_pre" // the sign-in form's CSRF nonce
	maxForm       = 64 << 10
)

// req is one request as handlers see it.
type req struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	lang  string
	user  *users.User
	sess  *users.Session
	token string
	nav   string
	flash string
	alert string
}

func (rq *req) redirect(to string) { http.Redirect(rq.w, rq.r, to, http.StatusSeeOther) }

// loc is the time zone of what the user sees: their merchant's, or the
// operators'.
func (rq *req) loc() *time.Location {
	if rq.user != nil && rq.user.Merchant != "" {
		return rq.s.svc.Zone(rq.user.Merchant)
	}
	return rq.s.opLoc
}

// scope is the merchant the user is limited to ("" for operators).
func (rq *req) scope() string {
	if rq.user == nil || rq.user.Role == users.RoleOperator {
		return ""
	}
	return rq.user.Merchant
}

func (rq *req) message(status int, heading, text string) {
	rq.s.render(rq, status, "message", heading, text)
}

func (rq *req) notFound() {
	rq.message(http.StatusNotFound, t(rq.lang, "not_found"), t(rq.lang, "not_found_tx"))
}

func (rq *req) failed(err error, what string) {
	rq.s.log.Error().Err(err).Str("path", rq.r.URL.Path).Msg(what)
	rq.message(http.StatusInternalServerError, t(rq.lang, "error"), t(rq.lang, "error_tx"))
}

func (rq *req) cookie(name, value string, maxAge int) {
	http.SetCookie(rq.w, &http.Cookie{Name: rq.s.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: rq.s.secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// language: ?lang= (remembered in a cookie for a year), the cookie, the
// user's choice, the browser's, Russian.
func (s *Server) language(w http.ResponseWriter, r *http.Request, u *users.User) string {
	if l := r.URL.Query().Get("lang"); validLang(l) {
		http.SetCookie(w, &http.Cookie{Name: s.cookieName(langCookie), Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie(s.cookieName(langCookie)); err == nil && validLang(c.Value) {
		return c.Value
	}
	if u != nil && validLang(u.Language) {
		return u.Language
	}
	return pickLang(strings.Split(r.Header.Get("Accept-Language"), ",")...)
}

// open serves a page that needs no session (the sign-in).
func (s *Server) open(h func(*req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := &req{s: s, w: w, r: r}
		rq.lang = s.language(w, r, nil)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil || !sameOrigin(r) {
				rq.message(http.StatusForbidden, t(rq.lang, "forbidden"), t(rq.lang, "expired_form"))
				return
			}
		}
		h(rq)
	}
}

// Who may do what.
type roleNeed int

const (
	roleAny      roleNeed = iota // any signed-in user
	roleActor                    // may act on orders: merchant or operator
	roleMerchant                 // a merchant's full user (its integration settings)
	roleOperator                 // the operator
)

func allowed(u *users.User, need roleNeed) bool {
	switch need {
	case roleActor:
		return u.Role == users.RoleOperator || u.Role == users.RoleMerchant
	case roleMerchant:
		return u.Role == users.RoleMerchant
	case roleOperator:
		return u.Role == users.RoleOperator
	}
	return true
}

// signedIn serves a page to a session's user with the role needed: no
// session sends the browser to the sign-in (a GET comes back to where it
// was going); a temporary password allows nothing but changing it; a POST
// must come from the cabinet's own page with the session's CSRF token.
func (s *Server) signedIn(need roleNeed, h func(*req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := &req{s: s, w: w, r: r}
		if c, err := r.Cookie(s.cookieName(sessionCookie)); err == nil {
			rq.token = c.Value
		}
		sess, u, err := s.users.Session(rq.token)
		if err != nil && !errors.Is(err, users.ErrNoSession) {
			rq.lang = s.language(w, r, nil)
			rq.failed(err, "load session")
			return
		}
		rq.lang = s.language(w, r, u)
		if sess == nil {
			if r.Method == http.MethodGet {
				rq.redirect("/login?next=" + url.QueryEscape(r.URL.RequestURI()))
				return
			}
			rq.message(http.StatusForbidden, t(rq.lang, "forbidden"), t(rq.lang, "expired_form"))
			return
		}
		rq.sess, rq.user = sess, u
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil || !sameOrigin(r) ||
				subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(sess.CSRF)) != 1 {
				rq.message(http.StatusForbidden, t(rq.lang, "forbidden"), t(rq.lang, "expired_form"))
				return
			}
		}
		if u.MustChange && r.URL.Path != "/password" && r.URL.Path != "/logout" {
			rq.redirect("/password")
			return
		}
		if !allowed(u, need) {
			_ = s.users.Record(users.Event{Actor: u.Login, Kind: users.EventDenied, Merchant: u.Merchant, IP: clientip.Host(r), Detail: r.Method + " " + r.URL.Path})
			rq.message(http.StatusForbidden, t(rq.lang, "forbidden"), t(rq.lang, "not_found_tx"))
			return
		}
		h(rq)
	}
}

// The sign-in form's CSRF: a random nonce in a cookie and its HMAC under a
// key of this process in the form, so another site cannot sign a browser
// in to an account of its choosing.
func (s *Server) loginToken(rq *req) string {
	nonce := ""
	if c, err := rq.r.Cookie(s.cookieName(preCookie)); err == nil && len(c.Value) == 22 {
		nonce = c.Value
	} else {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		nonce = base64.RawURLEncoding.EncodeToString(b)
		rq.cookie(preCookie, nonce, 3600)
	}
	m := hmac.New(sha256.New, s.loginKey)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) loginTokenOK(rq *req) bool {
	c, err := rq.r.Cookie(s.cookieName(preCookie))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, s.loginKey)
	m.Write([]byte(c.Value))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(rq.r.PostForm.Get("csrf")), []byte(want))
}

// localPath keeps a post-sign-in destination on the cabinet itself.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/login") {
		return "/orders"
	}
	return next
}
