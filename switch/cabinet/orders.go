package cabinet

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/users"
)

type colHead struct {
	ID, Title, SortURL string
	Sorted, Asc, Num   bool
}

type cell struct {
	Text string
	Num  bool
}

type regRow struct {
	ID, URL string
	Cells   []cell
}

type pageLink struct {
	Label, URL string
}

type savedLink struct {
	Name, URL string
}

type ordersData struct {
	F                      filter
	Query                  string
	Statuses               []choice
	Merchants              []choice
	Columns                []colHead
	Rows                   []regRow
	Total, Page, Pages     int
	Nav                    []pageLink
	Period                 string
	Errors                 []string
	Saved                  []savedLink
	Sizes                  []choice
	ExportCSV, ExportXLSX  string
	ColumnsURL             string
	CurrentQuery, SaveName string
	EmailTo                string
	CanEmail               bool
	Hidden                 url.Values
}

// merchantChoices lists the merchants for an operator's filter.
func (s *Server) merchantChoices(rq *req, current string) []choice {
	if rq.scope() != "" {
		return nil
	}
	var out []choice
	for _, m := range s.svc.Merchants() {
		label := m.ID
		if m.Name != "" && m.Name != m.ID {
			label = m.ID + " — " + m.Name
		}
		out = append(out, choice{Value: m.ID, Label: label, On: m.ID == current})
	}
	return out
}

// filterFromRequest is the register's filter and its payments query, or
// what is wrong with it (texts for the page).
func (s *Server) filterFromRequest(rq *req) (filter, payments.Query, []string) {
	f := parseFilter(rq.r.URL.Query(), s.now(), rq.loc())
	if rq.scope() != "" {
		f.Merchant = "" // a merchant's user has one merchant, whatever the URL says
	}
	q, bad := f.query(rq.scope(), rq.loc())
	var msgs []string
	for _, b := range bad {
		msgs = append(msgs, fmt.Sprintf(t(rq.lang, "bad_filter"), fieldLabel(rq.lang, b)))
	}
	return f, q, msgs
}

func fieldLabel(lang, field string) string {
	switch field {
	case "from", "to":
		return t(lang, "date_range")
	case "amount_from", "amount_to":
		return t(lang, "amount_range")
	}
	return t(lang, field)
}

func (s *Server) ordersPage(rq *req) {
	rq.nav = "orders"
	f, q, errs := s.filterFromRequest(rq)
	d := ordersData{F: f, Query: f.values().Encode(), Statuses: statusChoices(rq.lang, f), Merchants: s.merchantChoices(rq, f.Merchant), Errors: errs}
	d.CurrentQuery = d.Query
	d.Hidden = f.values()
	if to := rq.r.URL.Query().Get("emailed"); to != "" {
		rq.flash = fmt.Sprintf(t(rq.lang, "emailed"), to)
	}
	d.EmailTo, d.CanEmail = rq.user.Email, s.special != nil
	if s.fiscalDead != nil {
		if n, err := s.fiscalDead(rq.scope()); err != nil {
			s.log.Error().Err(err).Msg("fiscal dead letters not read")
		} else if n > 0 {
			rq.alert = fmt.Sprintf(t(rq.lang, "fiscal_dead"), n)
		}
	}
	loc := rq.loc()
	switch {
	case f.From != "" && f.To != "":
		d.Period = fmt.Sprintf(t(rq.lang, "period_of"), reDate(f.From), reDate(f.To))
	case f.From != "":
		d.Period = t(rq.lang, "from") + " " + reDate(f.From)
	case f.To != "":
		d.Period = t(rq.lang, "to") + " " + reDate(f.To)
	}
	for _, n := range pageSizes {
		d.Sizes = append(d.Sizes, choice{Value: strconv.Itoa(n), Label: strconv.Itoa(n), On: n == f.Size})
	}
	for _, sf := range rq.user.Filters {
		d.Saved = append(d.Saved, savedLink{Name: sf.Name, URL: "/orders?" + sf.Query})
	}
	d.ExportCSV, d.ExportXLSX = "/orders/export.csv?"+d.Query, "/orders/export.xlsx?"+d.Query
	d.ColumnsURL = "/columns?back=" + url.QueryEscape("/orders?"+d.Query)
	cols := chosenColumns(rq.user.Columns)
	for _, c := range cols {
		h := colHead{ID: c.id, Title: pick(rq.lang, c.title), Num: c.num}
		if c.sort != "" {
			h.Sorted = f.Sort == c.id
			h.Asc = h.Sorted && f.Asc
			nf := f
			nf.Sort, nf.Asc, nf.Page = c.id, h.Sorted && !f.Asc, 1
			h.SortURL = "/orders?" + nf.values().Encode()
		}
		d.Columns = append(d.Columns, h)
	}
	if len(errs) > 0 {
		s.render(rq, http.StatusBadRequest, "orders", t(rq.lang, "nav_orders"), d)
		return
	}
	page, err := s.svc.Store().Find(q, f.sortKey(), f.Asc, (f.Page-1)*f.Size, f.Size)
	if err != nil {
		rq.failed(err, "find orders")
		return
	}
	d.Total, d.Page = page.Total, f.Page
	d.Pages = max(1, (page.Total+f.Size-1)/f.Size)
	x := &cellCtx{lang: rq.lang, loc: loc, s: s}
	for _, o := range page.Orders {
		r := regRow{ID: o.ID, URL: "/orders/" + url.PathEscape(o.ID)}
		for _, c := range cols {
			r.Cells = append(r.Cells, cell{Text: c.text(x, o), Num: c.num})
		}
		d.Rows = append(d.Rows, r)
	}
	link := func(p int) string { return "/orders?" + f.with("page", strconv.Itoa(p)) }
	if d.Page > 1 {
		d.Nav = append(d.Nav, pageLink{t(rq.lang, "first"), link(1)}, pageLink{t(rq.lang, "prev"), link(d.Page - 1)})
	}
	if d.Page < d.Pages {
		d.Nav = append(d.Nav, pageLink{t(rq.lang, "next"), link(d.Page + 1)}, pageLink{t(rq.lang, "last"), link(d.Pages)})
	}
	s.render(rq, http.StatusOK, "orders", t(rq.lang, "nav_orders"), d)
}

// reDate writes YYYY-MM-DD as the manual does, DD.MM.YYYY.
func reDate(s string) string {
	d, err := time.Parse(isoDate, s)
	if err != nil {
		return s
	}
	return d.Format(dateOnly)
}

// Saved filter templates.

const maxTemplateName = 60

func (s *Server) saveFilter(rq *req) {
	name := strings.TrimSpace(rq.r.PostForm.Get("name"))
	q, err := url.ParseQuery(rq.r.PostForm.Get("query"))
	if name == "" || len(name) > maxTemplateName || err != nil {
		rq.redirect("/orders?" + rq.r.PostForm.Get("query"))
		return
	}
	q.Del("page")
	q.Del("lang")
	fs := append([]users.SavedFilter(nil), rq.user.Filters...)
	replaced := false
	for i := range fs {
		if fs[i].Name == name {
			fs[i].Query, replaced = q.Encode(), true
		}
	}
	if !replaced {
		fs = append(fs, users.SavedFilter{Name: name, Query: q.Encode()})
	}
	if _, err := s.users.SetPrefs(rq.user.Login, users.Prefs{Filters: fs, SetFilters: true}); err != nil {
		rq.failed(err, "save filter")
		return
	}
	rq.redirect("/orders?" + q.Encode())
}

func (s *Server) deleteFilter(rq *req) {
	name := rq.r.PostForm.Get("name")
	var fs []users.SavedFilter
	for _, f := range rq.user.Filters {
		if f.Name != name {
			fs = append(fs, f)
		}
	}
	if _, err := s.users.SetPrefs(rq.user.Login, users.Prefs{Filters: fs, SetFilters: true}); err != nil {
		rq.failed(err, "delete filter")
		return
	}
	rq.redirect("/orders")
}

// The column chooser: the chosen columns in order, the others after; a
// move button re-renders with the column moved, Apply saves.

type columnsData struct {
	Cols   []colChoice
	Chosen int
	Max    int
	Back   string
	Error  string
}

type colChoice struct {
	ID, Title       string
	On              bool
	First, Last     bool
	Position, Total int
}

func (s *Server) columnsPage(rq *req) {
	rq.nav = "orders"
	s.showColumns(rq, http.StatusOK, columnIDs(chosenColumns(rq.user.Columns)), chooserOrder(rq.user.Columns), "")
}

func (s *Server) showColumns(rq *req, status int, on []string, order []*column, errText string) {
	d := columnsData{Max: MaxColumns, Back: localPath(backParam(rq)), Error: errText}
	set := map[string]bool{}
	for _, id := range on {
		set[id] = true
	}
	for i, c := range order {
		d.Cols = append(d.Cols, colChoice{ID: c.id, Title: pick(rq.lang, c.title), On: set[c.id], First: i == 0, Last: i == len(order)-1,
			Position: i + 1, Total: len(order)})
		if set[c.id] {
			d.Chosen++
		}
	}
	s.render(rq, status, "columns", t(rq.lang, "columns_title"), d)
}

func backParam(rq *req) string {
	if rq.r.Method == http.MethodPost {
		return rq.r.PostForm.Get("back")
	}
	return rq.r.URL.Query().Get("back")
}

func (s *Server) columnsSubmit(rq *req) {
	rq.nav = "orders"
	f := rq.r.PostForm
	// The order of the form's "col" fields is the columns' order; "on"
	// lists the chosen.
	var seq []*column
	seen := map[string]bool{}
	for _, id := range f["col"] {
		if c, ok := columnByID[id]; ok && !seen[id] {
			seen[id] = true
			seq = append(seq, c)
		}
	}
	for i := range columns {
		if !seen[columns[i].id] {
			seq = append(seq, &columns[i])
		}
	}
	on := map[string]bool{}
	for _, id := range f["on"] {
		on[id] = true
	}
	if mv := f.Get("move"); mv != "" {
		id, dir, _ := strings.Cut(mv, ":")
		for i, c := range seq {
			if c.id != id {
				continue
			}
			switch {
			case dir == "up" && i > 0:
				seq[i-1], seq[i] = seq[i], seq[i-1]
			case dir == "down" && i < len(seq)-1:
				seq[i+1], seq[i] = seq[i], seq[i+1]
			}
			break
		}
		var chosen []string
		for _, c := range seq {
			if on[c.id] {
				chosen = append(chosen, c.id)
			}
		}
		s.showColumns(rq, http.StatusOK, chosen, seq, "")
		return
	}
	var chosen []string
	for _, c := range seq {
		if on[c.id] {
			chosen = append(chosen, c.id)
		}
	}
	switch {
	case len(chosen) > MaxColumns:
		s.showColumns(rq, http.StatusBadRequest, chosen, seq, t(rq.lang, "too_many_cols"))
		return
	case len(chosen) == 0:
		s.showColumns(rq, http.StatusBadRequest, chosen, seq, t(rq.lang, "no_cols"))
		return
	}
	if _, err := s.users.SetPrefs(rq.user.Login, users.Prefs{Columns: chosen}); err != nil {
		rq.failed(err, "save columns")
		return
	}
	rq.redirect(localPath(f.Get("back")))
}
