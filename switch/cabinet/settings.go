package cabinet

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/users"
)

type settingsData struct {
	Email, Language          string
	Languages                []choice
	Integration              bool
	CallbackURL, ReturnHosts string
	Unsigned                 bool
	PasswordError            string
	ProfileError             string
	IntegrationError         string
}

func (s *Server) settingsData(rq *req) settingsData {
	d := settingsData{Email: rq.user.Email, Language: rq.user.Language}
	for _, l := range languages {
		d.Languages = append(d.Languages, choice{Value: l, Label: langNames[l], On: l == rq.lang && rq.user.Language == "" || l == rq.user.Language})
	}
	if rq.user.Role == users.RoleMerchant {
		st := s.svc.Settings(rq.user.Merchant)
		d.Integration = true
		d.CallbackURL = st.CallbackURL
		d.ReturnHosts = strings.Join(st.ReturnHosts, "\n")
		d.Unsigned = s.unsigned != nil && s.unsigned(rq.user.Merchant)
	}
	return d
}

func (s *Server) settingsPage(rq *req) {
	rq.nav = "settings"
	switch rq.r.URL.Query().Get("done") {
	case "password":
		rq.flash = t(rq.lang, "pw_changed")
	case "saved":
		rq.flash = t(rq.lang, "saved")
	}
	s.render(rq, http.StatusOK, "settings", t(rq.lang, "settings"), s.settingsData(rq))
}

// profileSubmit saves the e-mail (for restoring access) and the language.
func (s *Server) profileSubmit(rq *req) {
	rq.nav = "settings"
	f := rq.r.PostForm
	email := f.Get("email")
	p := users.Prefs{Email: &email}
	if l := f.Get("language"); validLang(l) {
		p.Language = &l
	}
	u, err := s.users.SetPrefs(rq.user.Login, p)
	if errors.Is(err, users.ErrInput) {
		d := s.settingsData(rq)
		d.Email, d.ProfileError = email, t(rq.lang, "bad_email")
		s.render(rq, http.StatusBadRequest, "settings", t(rq.lang, "settings"), d)
		return
	}
	if err != nil {
		rq.failed(err, "save profile")
		return
	}
	if p.Language != nil {
		rq.lang = *p.Language
		http.SetCookie(rq.w, &http.Cookie{Name: s.cookieName(langCookie), Value: u.Language, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	}
	rq.redirect("/settings?done=saved")
}

// integrationSubmit saves the shop's callback URL and allowed return hosts
// through the payments engine, which journals the change with the user.
func (s *Server) integrationSubmit(rq *req) {
	rq.nav = "settings"
	f := rq.r.PostForm
	hosts := strings.FieldsFunc(f.Get("return_hosts"), func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ' ' })
	_, err := s.svc.SetSettings(rq.r.Context(), rq.user.Merchant, payments.Settings{CallbackURL: f.Get("callback_url"), ReturnHosts: hosts}, rq.user.Login)
	if errors.Is(err, payments.ErrSettings) {
		d := s.settingsData(rq)
		d.CallbackURL, d.ReturnHosts = f.Get("callback_url"), f.Get("return_hosts")
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		d.IntegrationError = strings.Replace(t(rq.lang, "bad_settings"), "%s", msg, 1)
		s.render(rq, http.StatusBadRequest, "settings", t(rq.lang, "settings"), d)
		return
	}
	if err != nil {
		rq.failed(err, "save integration settings")
		return
	}
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventSettings, Merchant: rq.user.Merchant, IP: clientip.Host(rq.r),
		Detail: "callback_url, return_hosts"})
	rq.redirect("/settings?done=saved")
}
