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

	"github.com/tulpar-switch/tulpar/switch/users"
)

// The operator's pages: users (create, unlock, reset a password, disable)
// and the audit log.

type userLine struct {
	Login, Role, Merchant, State, LastSignIn, Email string
	Locked, Disabled                                bool
}

type usersData struct {
	Users     []userLine
	Roles     []choice
	Merchants []choice
	Error     string
	New       struct{ Login, Email, Role, Merchant string }
}

func roleWord(lang string, r users.Role) string { return t(lang, "role_"+string(r)) }

func (s *Server) usersData(rq *req) (*usersData, error) {
	list, err := s.users.List()
	if err != nil {
		return nil, err
	}
	loc, now := rq.loc(), s.now()
	d := &usersData{Merchants: s.merchantChoices(rq, "")}
	for _, r := range []users.Role{users.RoleMerchant, users.RoleViewer, users.RoleOperator} {
		d.Roles = append(d.Roles, choice{Value: string(r), Label: roleWord(rq.lang, r)})
	}
	for _, u := range list {
		l := userLine{Login: u.Login, Role: roleWord(rq.lang, u.Role), Merchant: u.Merchant, Email: u.Email,
			LastSignIn: when(u.LastSignIn, loc), Locked: u.Locked(now), Disabled: u.Disabled}
		switch {
		case u.Disabled:
			l.State = t(rq.lang, "st_disabled")
		case u.LockedEverywhere(now):
			l.State = fmt.Sprintf(t(rq.lang, "st_locked"), when(u.LockedUntil, loc))
		case u.Locked(now):
			l.State = fmt.Sprintf(t(rq.lang, "st_locked_strangers"), when(u.LockedUntil, loc))
		case u.MustChange:
			l.State = t(rq.lang, "st_temp")
		default:
			l.State = t(rq.lang, "st_active")
		}
		d.Users = append(d.Users, l)
	}
	return d, nil
}

func (s *Server) usersPage(rq *req) {
	rq.nav = "users"
	d, err := s.usersData(rq)
	if err != nil {
		rq.failed(err, "list users")
		return
	}
	s.flashFromQuery(rq)
	s.render(rq, http.StatusOK, "users", t(rq.lang, "users_title"), d)
}

// flashFromQuery shows what a redirect after an operation carried.
func (s *Server) flashFromQuery(rq *req) {
	q := rq.r.URL.Query()
	switch {
	case q.Get("temp") != "":
		rq.flash = fmt.Sprintf(t(rq.lang, "temp_pw_is"), q.Get("login"), q.Get("temp"))
	case q.Get("unlocked") != "":
		rq.flash = fmt.Sprintf(t(rq.lang, "user_unlocked"), q.Get("unlocked"))
	case q.Get("changed") != "":
		rq.flash = fmt.Sprintf(t(rq.lang, "user_changed"), q.Get("changed"))
	}
}

func (s *Server) createUser(rq *req) {
	rq.nav = "users"
	f := rq.r.PostForm
	role := users.Role(f.Get("role"))
	merchant := f.Get("merchant")
	if role == users.RoleOperator {
		merchant = ""
	} else if _, ok := s.svc.Merchant(merchant); !ok {
		merchant = ""
	}
	ctx, cancel := context.WithTimeout(rq.r.Context(), 10*time.Second)
	defer cancel()
	pw, err := s.users.Create(ctx, users.NewUser{Login: f.Get("login"), Role: role, Merchant: merchant, Email: f.Get("email"), Language: rq.lang}, rq.user.Login)
	if errors.Is(err, users.ErrInput) || errors.Is(err, users.ErrExists) {
		d, lerr := s.usersData(rq)
		if lerr != nil {
			rq.failed(lerr, "list users")
			return
		}
		d.Error = fmt.Sprintf(t(rq.lang, "bad_user"), strings.TrimPrefix(err.Error(), "users: "))
		d.New.Login, d.New.Email, d.New.Role, d.New.Merchant = f.Get("login"), f.Get("email"), string(role), merchant
		s.render(rq, http.StatusBadRequest, "users", t(rq.lang, "users_title"), d)
		return
	}
	if err != nil {
		rq.failed(err, "create user")
		return
	}
	// The temporary password is shown once, on the page the operator is
	// on; it is in no log and no URL the browser keeps (no-store pages,
	// no referrer).
	s.showTemp(rq, users.NormLogin(f.Get("login")), pw)
}

func (s *Server) showTemp(rq *req, login, pw string) {
	d, err := s.usersData(rq)
	if err != nil {
		rq.failed(err, "list users")
		return
	}
	rq.flash = fmt.Sprintf(t(rq.lang, "temp_pw_is"), login, pw)
	s.render(rq, http.StatusOK, "users", t(rq.lang, "users_title"), d)
}

func (s *Server) userOp(rq *req) {
	login := rq.r.PathValue("login")
	var err error
	to := "/admin/users?changed=" + url.QueryEscape(login)
	switch rq.r.PathValue("op") {
	case "unlock":
		err = s.users.Unlock(login, rq.user.Login)
		to = "/admin/users?unlocked=" + url.QueryEscape(login)
	case "reset":
		ctx, cancel := context.WithTimeout(rq.r.Context(), 10*time.Second)
		defer cancel()
		pw, err := s.users.ResetPassword(ctx, login, rq.user.Login)
		if err == nil {
			rq.nav = "users"
			s.showTemp(rq, users.NormLogin(login), pw)
			return
		}
		if errors.Is(err, users.ErrNotFound) {
			rq.notFound()
			return
		}
		rq.failed(err, "reset password")
		return
	case "disable", "enable":
		if users.NormLogin(login) == rq.user.Login {
			rq.redirect("/admin/users")
			return
		}
		err = s.users.SetDisabled(login, rq.r.PathValue("op") == "disable", rq.user.Login)
	default:
		rq.notFound()
		return
	}
	if errors.Is(err, users.ErrNotFound) {
		rq.notFound()
		return
	}
	if err != nil {
		rq.failed(err, "user operation")
		return
	}
	rq.redirect(to)
}

type auditLine struct {
	Time, Actor, Event, Login, Merchant, Order, OrderURL, IP, Detail string
}

type auditData struct {
	Lines               []auditLine
	Login, Merchant     string
	Kind                string
	Kinds               []choice
	OlderURL, NewestURL string
}

const auditPage = 50

func (s *Server) auditPage(rq *req) {
	rq.nav = "audit"
	q := rq.r.URL.Query()
	f := users.EventFilter{Login: users.NormLogin(q.Get("login")), Merchant: q.Get("merchant"), Kind: users.EventKind(q.Get("kind"))}
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	evs, err := s.users.Events(f, before, auditPage)
	if err != nil {
		rq.failed(err, "audit log")
		return
	}
	d := auditData{Login: f.Login, Merchant: f.Merchant, Kind: string(f.Kind)}
	for k := range eventWords {
		d.Kinds = append(d.Kinds, choice{Value: k, Label: eventWord(rq.lang, k), On: k == d.Kind})
	}
	sortChoices(d.Kinds)
	loc := rq.loc()
	for _, e := range evs {
		l := auditLine{Time: when(e.Time, loc), Actor: e.Actor, Event: eventWord(rq.lang, string(e.Kind)), Login: e.Login,
			Merchant: e.Merchant, Order: e.Order, IP: e.IP, Detail: e.Detail}
		if e.Order != "" {
			l.OrderURL = "/orders/" + url.PathEscape(e.Order)
		}
		d.Lines = append(d.Lines, l)
	}
	base := url.Values{}
	for k, v := range map[string]string{"login": f.Login, "merchant": f.Merchant, "kind": string(f.Kind)} {
		if v != "" {
			base.Set(k, v)
		}
	}
	if len(evs) == auditPage {
		older := url.Values{}
		for k, v := range base {
			older[k] = v
		}
		older.Set("before", strconv.FormatUint(evs[len(evs)-1].Seq, 10))
		d.OlderURL = "/admin/audit?" + older.Encode()
	}
	if before != 0 {
		d.NewestURL = "/admin/audit?" + base.Encode()
	}
	s.render(rq, http.StatusOK, "audit", t(rq.lang, "audit_title"), d)
}

func sortChoices(cs []choice) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Label < cs[j-1].Label; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}
