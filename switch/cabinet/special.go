package cabinet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// SpecialQueue queues a special report for e-mail: the register as the
// user filtered it, built and sent after the browser has gone (a year of
// a busy shop is minutes of work), to whoever the user names (the
// accountant). The daemon's reports sender is one.
type SpecialQueue func(ctx context.Context, merchant string, to []string, spec []byte) error

// SpecialReports lets the register's users send it by e-mail through q.
// Call it before serving.
func (s *Server) SpecialReports(q SpecialQueue) { s.special = q }

// specialSpec is what a special report needs once its user is gone.
type specialSpec struct {
	Filter  string   `json:"filter"` // the register's query
	Scope   string   `json:"scope"`  // the merchant the user is limited to; "" for an operator
	Columns []string `json:"columns"`
	Lang    string   `json:"lang"`
	Zone    string   `json:"zone"`
	By      string   `json:"by"`
	At      string   `json:"at"`
}

// maxRecipients bounds a special report's addresses.
const maxRecipients = 5

// emailReport queues the filtered register for e-mail.
func (s *Server) emailReport(rq *req) {
	if s.special == nil {
		rq.message(400, t(rq.lang, "nav_orders"), t(rq.lang, "email_report_off"))
		return
	}
	query := rq.r.PostForm.Get("filter")
	v, err := url.ParseQuery(query)
	if err != nil {
		rq.message(400, t(rq.lang, "nav_orders"), fmt.Sprintf(t(rq.lang, "bad_filter"), "filter"))
		return
	}
	loc := rq.loc()
	f := parseFilter(v, s.now(), loc)
	if _, bad := f.query(rq.scope(), loc); len(bad) > 0 {
		rq.message(400, t(rq.lang, "nav_orders"), fmt.Sprintf(t(rq.lang, "bad_filter"), fieldLabel(rq.lang, bad[0])))
		return
	}
	var to []string
	for _, a := range strings.FieldsFunc(rq.r.PostForm.Get("to"), func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		addr, err := mail.ParseAddress(a)
		if err != nil || len(to) == maxRecipients {
			rq.message(400, t(rq.lang, "nav_orders"), fmt.Sprintf(t(rq.lang, "bad_email_to"), a, maxRecipients))
			return
		}
		to = append(to, addr.Address)
	}
	if len(to) == 0 {
		rq.message(400, t(rq.lang, "nav_orders"), fmt.Sprintf(t(rq.lang, "bad_email_to"), "", maxRecipients))
		return
	}
	spec, _ := json.Marshal(specialSpec{Filter: f.values().Encode(), Scope: rq.scope(), Columns: rq.user.Columns, Lang: rq.lang,
		Zone: loc.String(), By: rq.user.Login, At: s.now().UTC().Format(time.RFC3339)})
	merchant := rq.scope()
	if merchant == "" {
		merchant = "operator"
	}
	if err := s.special(rq.r.Context(), merchant, to, spec); err != nil {
		s.log.Error().Err(err).Msg("special report not queued")
		rq.message(503, t(rq.lang, "nav_orders"), t(rq.lang, "unavailable"))
		return
	}
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventExport, Merchant: rq.scope(), IP: clientip.Host(rq.r),
		Detail: "e-mail to " + strings.Join(to, ", ") + ": " + f.values().Encode()})
	rq.redirect("/orders?" + f.values().Encode() + "&" + url.Values{"emailed": {strings.Join(to, ", ")}}.Encode())
}

// RenderSpecial builds a special report's message: the register's CSV and
// XLSX in the user's columns and language, as the export would have given
// them when it was asked for.
func (s *Server) RenderSpecial(ctx context.Context, raw []byte) (mailer.Message, error) {
	var sp specialSpec
	if err := json.Unmarshal(raw, &sp); err != nil {
		return mailer.Message{}, fmt.Errorf("cabinet: special report: %w", err)
	}
	loc, err := time.LoadLocation(sp.Zone)
	if err != nil {
		loc = s.opLoc
	}
	v, _ := url.ParseQuery(sp.Filter)
	f := parseFilter(v, s.now(), loc)
	if sp.Scope != "" {
		f.Merchant = ""
	}
	q, bad := f.query(sp.Scope, loc)
	if len(bad) > 0 {
		return mailer.Message{}, fmt.Errorf("cabinet: special report: bad filter %v", bad)
	}
	sh := sheet{cols: chosenColumns(sp.Columns), x: &cellCtx{lang: sp.Lang, loc: loc, s: s}}
	for _, c := range sh.cols {
		sh.header = append(sh.header, pick(sp.Lang, c.title))
	}
	n := 0
	src := func(fn func(*order.Order) error) error {
		return s.svc.Store().Each(q, f.Asc, func(o *order.Order) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			n++
			return fn(o)
		})
	}
	var csvBuf, xlsxBuf bytes.Buffer
	if err := sh.writeCSV(&csvBuf, src); err != nil {
		return mailer.Message{}, fmt.Errorf("cabinet: special report: %w", err)
	}
	rows := n
	if err := sh.writeXLSX(&xlsxBuf, t(sp.Lang, "nav_orders"), src); err != nil {
		return mailer.Message{}, fmt.Errorf("cabinet: special report: %w", err)
	}
	period := reDate(f.From) + " – " + reDate(f.To)
	name := "transactions-" + f.From + "-" + f.To
	return mailer.Message{
		Subject: fmt.Sprintf(t(sp.Lang, "email_report_subject"), period),
		Text:    fmt.Sprintf(t(sp.Lang, "email_report_body"), period, rows, sp.By),
		Attachments: []mailer.Attachment{
			{Name: name + ".csv", ContentType: "text/csv", Data: csvBuf.Bytes()},
			{Name: name + ".xlsx", ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Data: xlsxBuf.Bytes()},
		},
	}, nil
}
