package cabinet

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/users"
)

var periods = []payments.Period{payments.PeriodDay, payments.PeriodWeek, payments.PeriodMonth, payments.PeriodYear}

// maxReportLines bounds a report: days over decades are no chart.
const maxReportLines = 1000

type reportForm struct {
	From, To, Merchant string
	Period             payments.Period
}

func (f reportForm) values() url.Values {
	v := url.Values{"from": {f.From}, "to": {f.To}, "period": {string(f.Period)}}
	if f.Merchant != "" {
		v.Set("merchant", f.Merchant)
	}
	return v
}

type reportLine struct {
	Label, Success, Failed, Refunded, Conversion string
	SuccessN, FailedN, OpenN                     int
	start                                        time.Time
	line                                         payments.ReportLine
}

type declineLine struct {
	Code, Text, Amount string
	Count              int
}

type reportData struct {
	F                         reportForm
	Periods, Merchants        []choice
	Success, Failed, Refunded string
	Total, SuccessN, FailedN  int
	OpenN                     int
	Conversion, Range         string
	Declines                  []declineLine
	Lines                     []reportLine
	Chart                     template.HTML
	CSV, XLSX                 string
	Other                     string
	Errors                    []string
	report                    *payments.Report
	currency                  string
	from, to                  time.Time
}

// buildReport reads the form and sums the orders it selects.
func (s *Server) buildReport(rq *req) (*reportData, bool) {
	v := rq.r.URL.Query()
	loc := rq.loc()
	today := s.now().In(loc)
	f := reportForm{From: v.Get("from"), To: v.Get("to"), Period: payments.Period(v.Get("period")), Merchant: v.Get("merchant")}
	if f.Period == "" {
		f.Period = payments.PeriodDay
	}
	if f.To == "" {
		f.To = today.Format(isoDate)
	}
	if f.From == "" {
		f.From = today.AddDate(0, -1, 0).Format(isoDate)
	}
	if rq.scope() != "" {
		f.Merchant = ""
	}
	d := &reportData{F: f, Merchants: s.merchantChoices(rq, f.Merchant), currency: iso.CurrencyKZT}
	for _, p := range periods {
		d.Periods = append(d.Periods, choice{Value: string(p), Label: t(rq.lang, "p_"+string(p)), On: p == f.Period})
	}
	from, err1 := time.ParseInLocation(isoDate, f.From, loc)
	to, err2 := time.ParseInLocation(isoDate, f.To, loc)
	_, okPeriod := payments.PeriodStart(f.Period, from)
	if err1 != nil || err2 != nil || !okPeriod || to.Before(from) {
		d.Errors = append(d.Errors, fmt.Sprintf(t(rq.lang, "bad_filter"), t(rq.lang, "period")))
		return d, false
	}
	d.from, d.to = from, to.AddDate(0, 0, 1)
	d.Range = fmt.Sprintf(t(rq.lang, "period_of"), from.Format(dateOnly), to.Format(dateOnly))
	q := payments.Query{From: d.from, To: d.to}
	switch {
	case rq.scope() != "":
		q.Merchants = []string{rq.scope()}
	case f.Merchant != "":
		q.Merchants = []string{f.Merchant}
	}
	rep, err := s.svc.Store().Report(q, f.Period, loc, d.currency)
	if err != nil {
		rq.failed(err, "report")
		return nil, false
	}
	d.report = rep
	m := func(v int64) string { return money(v, d.currency) }
	tot := rep.Total
	d.Success, d.Failed, d.Refunded = m(tot.Success.Amount), m(tot.Failed.Amount), m(tot.Refunded)
	d.SuccessN, d.FailedN, d.OpenN = tot.Success.Count, tot.Failed.Count, tot.Open.Count
	d.Total = d.SuccessN + d.FailedN
	d.Conversion = percent(tot.Conversion())
	for _, dc := range rep.Declines {
		d.Declines = append(d.Declines, declineLine{Code: strconv.Itoa(dc.ActionCode), Text: order.ActionText(dc.ActionCode, rq.lang),
			Count: dc.Count, Amount: m(dc.Amount)})
	}
	if rep.OtherCurrency > 0 {
		d.Other = fmt.Sprintf(t(rq.lang, "other_currency"), rep.OtherCurrency)
	}
	// Every period of the range, those without orders too: a chart's gaps
	// are days without sales, not days left out.
	have := map[time.Time]payments.ReportLine{}
	for _, l := range rep.Lines {
		have[l.Start] = l
	}
	start, _ := payments.PeriodStart(f.Period, from)
	for p := start; p.Before(d.to) && len(d.Lines) < maxReportLines; p = payments.NextPeriod(f.Period, p) {
		l := have[p]
		d.Lines = append(d.Lines, reportLine{Label: periodLabel(f.Period, p), SuccessN: l.Success.Count, FailedN: l.Failed.Count,
			OpenN: l.Open.Count, Success: m(l.Success.Amount), Failed: m(l.Failed.Amount), Refunded: m(l.Refunded),
			Conversion: percent(l.Conversion()), start: p, line: l})
	}
	d.Chart = chart(rq.lang, d.Lines)
	qs := f.values().Encode()
	d.CSV, d.XLSX = "/reports/export.csv?"+qs, "/reports/export.xlsx?"+qs
	return d, true
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func periodLabel(p payments.Period, t time.Time) string {
	switch p {
	case payments.PeriodDay, payments.PeriodWeek:
		return t.Format(dateOnly)
	case payments.PeriodMonth:
		return t.Format("01.2006")
	}
	return t.Format("2006")
}

func (s *Server) reportsPage(rq *req) {
	rq.nav = "reports"
	d, ok := s.buildReport(rq)
	if d == nil {
		return
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusBadRequest
	}
	s.render(rq, status, "reports", t(rq.lang, "reports"), d)
}

// chart draws the report as SVG on the server: bars of successful (green)
// and failed (red) transactions per period, and the conversion as a line
// against the right-hand scale. Only attributes, no style or script: the
// page's CSP allows neither inline.
func chart(lang string, lines []reportLine) template.HTML {
	const (
		w, h                   = 960.0, 320.0
		left, right, top, foot = 48.0, 48.0, 24.0, 56.0
	)
	if len(lines) == 0 {
		return ""
	}
	peak := 1
	for _, l := range lines {
		peak = max(peak, l.SuccessN, l.FailedN)
	}
	step := niceStep(peak)
	peakScale := float64(step * int(math.Ceil(float64(peak)/float64(step))))
	plotW, plotH := w-left-right, h-top-foot
	slot := plotW / float64(len(lines))
	bar := math.Max(1, math.Min(24, slot*0.38))
	y := func(n float64) float64 { return top + plotH - n/peakScale*plotH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title>`, html.EscapeString(t(lang, "chart_title")))
	for v := 0; float64(v) <= peakScale; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e3e7ec"/>`, left, y(float64(v)), w-right, y(float64(v)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" fill="#5b6673">%d</text>`, left-6, y(float64(v))+4, v)
	}
	for _, pc := range []int{0, 50, 100} {
		yy := top + plotH - float64(pc)/100*plotH
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="#123a63">%d%%</text>`, w-right+6, yy+4, pc)
	}
	every := max(1, int(math.Ceil(float64(len(lines))/12)))
	var pts []string
	for i, l := range lines {
		x := left + float64(i)*slot + slot/2
		if l.SuccessN > 0 {
			fmt.Fprintf(&b, `<rect class="ok" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1e7d32"><title>%s: %d</title></rect>`,
				x-bar, y(float64(l.SuccessN)), bar, plotH+top-y(float64(l.SuccessN)), html.EscapeString(l.Label+" "+t(lang, "success")), l.SuccessN)
		}
		if l.FailedN > 0 {
			fmt.Fprintf(&b, `<rect class="fail" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#c62828"><title>%s: %d</title></rect>`,
				x, y(float64(l.FailedN)), bar, plotH+top-y(float64(l.FailedN)), html.EscapeString(l.Label+" "+t(lang, "failure")), l.FailedN)
		}
		if l.SuccessN+l.FailedN > 0 {
			cy := top + plotH - l.line.Conversion()*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, cy))
			fmt.Fprintf(&b, `<circle class="conversion-point" cx="%.1f" cy="%.1f" r="3.5" fill="#123a63"><title>%s: %s</title></circle>`,
				x, cy, html.EscapeString(l.Label+" "+t(lang, "conversion")), l.Conversion)
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="#3a4450">%s</text>`, x, h-foot+16, html.EscapeString(l.Label))
		}
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline class="conversion" points="%s" fill="none" stroke="#123a63" stroke-width="2"/>`, strings.Join(pts, " "))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#8a96a3"/>`, left, top+plotH, w-right, top+plotH)
	ly := h - 14
	legend := []struct{ colour, key string }{{"#1e7d32", "success"}, {"#c62828", "failure"}, {"#123a63", "conversion"}}
	for i, l := range legend {
		x := left + float64(i)*170
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`, x, ly-10, l.colour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12" fill="#1b1f24">%s</text>`, x+18, ly, html.EscapeString(t(lang, l.key)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every text in it is escaped above
}

// niceStep is a grid step of 1, 2 or 5 times a power of ten that gives
// four to eight lines up to peak.
func niceStep(peak int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if s := m * p; peak/s <= 6 {
				return s
			}
		}
	}
}

// Report downloads: the same lines and totals, as CSV or XLSX.

func (s *Server) reportRows(rq *req, d *reportData) [][]any {
	lang := rq.lang
	rows := [][]any{{t(lang, "period"), t(lang, "success_tx"), t(lang, "success"), t(lang, "failed_tx"), t(lang, "failure"),
		t(lang, "conversion"), t(lang, "refunded"), t(lang, "open_tx")}}
	amount := func(v int64) any { return amountValue(v, d.currency) }
	for _, l := range d.Lines {
		rows = append(rows, []any{l.Label, l.SuccessN, amount(l.line.Success.Amount), l.FailedN, amount(l.line.Failed.Amount),
			math.Round(l.line.Conversion()*1000) / 1000, amount(l.line.Refunded), l.OpenN})
	}
	tot := d.report.Total
	rows = append(rows, []any{t(lang, "total_tx"), tot.Success.Count, amount(tot.Success.Amount), tot.Failed.Count, amount(tot.Failed.Amount),
		math.Round(tot.Conversion()*1000) / 1000, amount(tot.Refunded), tot.Open.Count})
	rows = append(rows, []any{})
	rows = append(rows, []any{t(lang, "decline_codes"), t(lang, "failed_tx"), t(lang, "failure")})
	for _, dc := range d.report.Declines {
		rows = append(rows, []any{fmt.Sprintf("(%d) %s", dc.ActionCode, order.ActionText(dc.ActionCode, lang)), dc.Count, amount(dc.Amount)})
	}
	return rows
}

func (s *Server) reportDownload(rq *req) (*reportData, [][]any, bool) {
	d, ok := s.buildReport(rq)
	if d == nil {
		return nil, nil, false
	}
	if !ok {
		rq.message(http.StatusBadRequest, t(rq.lang, "reports"), strings.Join(d.Errors, " "))
		return nil, nil, false
	}
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventExport, Merchant: rq.scope(), IP: clientip.Host(rq.r), Detail: "report " + d.F.values().Encode()})
	return d, s.reportRows(rq, d), true
}

func reportName(d *reportData) string {
	return fmt.Sprintf("report-%s-%s-%s", d.F.Period, d.F.From, d.F.To)
}

func (s *Server) reportCSV(rq *req) {
	d, rows, ok := s.reportDownload(rq)
	if !ok {
		return
	}
	download(rq.w, rq.r, reportName(d)+".csv", "text/csv; charset=utf-8")
	bw := bufio.NewWriter(rq.w)
	_, _ = io.WriteString(bw, "\ufeff")
	cw := csv.NewWriter(bw)
	for _, r := range rows {
		rec := make([]string, len(r))
		for i, v := range r {
			if f, ok := v.(float64); ok {
				rec[i] = strconv.FormatFloat(f, 'f', -1, 64)
			} else {
				rec[i] = fmt.Sprint(v)
			}
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	_ = bw.Flush()
}

func (s *Server) reportXLSX(rq *req) {
	d, rows, ok := s.reportDownload(rq)
	if !ok {
		return
	}
	download(rq.w, rq.r, reportName(d)+".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	if err := writeReportXLSX(rq.w, sheetName(t(rq.lang, "reports")), rows); err != nil {
		s.log.Error().Err(err).Msg("report xlsx")
	}
}

func writeReportXLSX(w io.Writer, name string, rows [][]any) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := f.SetSheetName("Sheet1", name); err != nil {
		return err
	}
	for i, r := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			return err
		}
		if err := f.SetSheetRow(name, cell, &r); err != nil {
			return err
		}
	}
	if err := f.SetColWidth(name, "A", "A", 36); err != nil {
		return err
	}
	if err := f.SetColWidth(name, "B", "H", 16); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}
