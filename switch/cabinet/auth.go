package cabinet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tulpar-switch/tulpar/switch/authguard"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/users"
)

type loginData struct {
	Login, Next, Token, Error string
	Locked                    bool
}

func (s *Server) loginPage(rq *req) {
	if c, err := rq.r.Cookie(s.cookieName(sessionCookie)); err == nil {
		if sess, _, err := s.users.Session(c.Value); err == nil && sess != nil {
			rq.redirect(localPath(rq.r.URL.Query().Get("next")))
			return
		}
	}
	s.showLogin(rq, http.StatusOK, loginData{Next: rq.r.URL.Query().Get("next")})
}

func (s *Server) showLogin(rq *req, status int, d loginData) {
	d.Token = s.loginToken(rq)
	s.render(rq, status, "login", t(rq.lang, "login_title"), d)
}

// minutesLeft rounds up: "locked for 30 min" right after the lock, never
// "0 min" while it holds.
func minutesLeft(until, now time.Time) int {
	return int(math.Ceil(until.Sub(now).Minutes()))
}

func (s *Server) loginSubmit(rq *req) {
	f := rq.r.PostForm
	d := loginData{Login: f.Get("login"), Next: f.Get("next")}
	if !s.loginTokenOK(rq) {
		d.Error = t(rq.lang, "expired_form")
		s.showLogin(rq, http.StatusForbidden, d)
		return
	}
	ip, login := clientip.Host(rq.r), users.NormLogin(d.Login)
	if wait, ok := s.guard.Allow(login, ip); !ok {
		rq.w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		d.Error = fmt.Sprintf(t(rq.lang, "too_many_tries"), max(1, int(math.Ceil(wait.Minutes()))))
		s.showLogin(rq, http.StatusTooManyRequests, d)
		return
	}
	ctx, cancel := context.WithTimeout(rq.r.Context(), 10*time.Second)
	defer cancel()
	u, err := s.users.Authenticate(ctx, users.SignIn{Login: d.Login, Password: f.Get("password"), IP: ip})
	var le *users.LockedError
	switch {
	case errors.As(err, &le):
		d.Locked = true
		// The attempt that locks says so; those after say for how long.
		key := "locked"
		if le.Now {
			key = "locked_now"
			s.guard.Failed(login, ip)
		}
		d.Error = fmt.Sprintf(t(rq.lang, key), minutesLeft(le.Until, s.now()))
		s.showLogin(rq, http.StatusForbidden, d)
		return
	case errors.Is(err, users.ErrBadCredentials):
		s.guard.Failed(login, ip)
		d.Error = t(rq.lang, "bad_login")
		s.showLogin(rq, http.StatusUnauthorized, d)
		return
	case errors.Is(err, authguard.ErrBusy):
		rq.w.Header().Set("Retry-After", "5")
		d.Error = t(rq.lang, "busy")
		s.showLogin(rq, http.StatusServiceUnavailable, d)
		return
	case errors.Is(err, users.ErrDisabled):
		d.Error = t(rq.lang, "disabled")
		s.showLogin(rq, http.StatusForbidden, d)
		return
	case err != nil:
		rq.failed(err, "sign in")
		return
	}
	s.guard.Succeeded(login, ip)
	token, _, err := s.users.StartSession(u.Login, ip)
	if err != nil {
		rq.failed(err, "start session")
		return
	}
	rq.cookie(sessionCookie, token, 0)
	rq.cookie(preCookie, "", -1)
	if u.Language != "" && validLang(u.Language) && rq.r.URL.Query().Get("lang") == "" {
		rq.lang = u.Language
	}
	if u.MustChange {
		rq.redirect("/password")
		return
	}
	rq.redirect(localPath(d.Next))
}

func (s *Server) logout(rq *req) {
	_ = s.users.EndSession(rq.token)
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventSignOut, Login: rq.user.Login, Merchant: rq.user.Merchant, IP: clientip.Host(rq.r)})
	rq.cookie(sessionCookie, "", -1)
	rq.redirect("/login")
}

type passwordData struct {
	Must  bool
	Error string
}

func (s *Server) passwordPage(rq *req) {
	rq.nav = "settings"
	s.render(rq, http.StatusOK, "password", t(rq.lang, "change_pw"), passwordData{Must: rq.user.MustChange})
}

func (s *Server) passwordSubmit(rq *req) {
	rq.nav = "settings"
	if err := s.changePassword(rq); err != "" {
		s.render(rq, http.StatusBadRequest, "password", t(rq.lang, "change_pw"), passwordData{Must: rq.user.MustChange, Error: err})
		return
	}
	rq.redirect("/settings?done=password")
}

// changePassword applies the form's change and returns what was wrong, in
// the user's language ("" when done).
func (s *Server) changePassword(rq *req) string {
	f := rq.r.PostForm
	if f.Get("new") != f.Get("new2") {
		return t(rq.lang, "pw_mismatch")
	}
	ctx, cancel := context.WithTimeout(rq.r.Context(), 10*time.Second)
	defer cancel()
	err := s.users.ChangePassword(ctx, rq.user.Login, f.Get("current"), f.Get("new"), rq.token)
	switch {
	case errors.Is(err, users.ErrBadCredentials):
		return t(rq.lang, "pw_wrong")
	case errors.Is(err, users.ErrWeakPassword):
		return t(rq.lang, "pw_weak")
	case err != nil:
		s.log.Error().Err(err).Msg("change password")
		return t(rq.lang, "error_tx")
	}
	return ""
}
