package cabinet

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// exportTimeout is how long an export may take to reach the browser: a
// register of millions of orders is minutes of bytes on a slow line.
const exportTimeout = 30 * time.Minute

// orderSource calls fn with every order of an export, in order.
type orderSource func(fn func(*order.Order) error) error

// sheet is a table the exports write: a header and rows of cells.
type sheet struct {
	header []string
	cols   []*column
	x      *cellCtx
}

func (s *Server) exportSheet(rq *req) (sheet, orderSource, string, bool) {
	f, q, errs := s.filterFromRequest(rq)
	if len(errs) > 0 {
		rq.message(http.StatusBadRequest, t(rq.lang, "nav_orders"), strings.Join(errs, " "))
		return sheet{}, nil, "", false
	}
	cols := chosenColumns(rq.user.Columns)
	sh := sheet{cols: cols, x: &cellCtx{lang: rq.lang, loc: rq.loc(), s: s}}
	for _, c := range cols {
		sh.header = append(sh.header, pick(rq.lang, c.title))
	}
	src := func(fn func(*order.Order) error) error { return s.svc.Store().Each(q, f.Asc, fn) }
	what := f.values().Encode()
	_ = s.users.Record(users.Event{Actor: rq.user.Login, Kind: users.EventExport, Merchant: rq.scope(), IP: clientip.Host(rq.r), Detail: what})
	return sh, src, "transactions-" + s.now().In(rq.loc()).Format("2006-01-02-1504"), true
}

func download(w http.ResponseWriter, r *http.Request, name, contentType string) {
	h := w.Header()
	secureHeaders(h)
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportTimeout))
}

// exportCSV streams the filtered register as CSV (UTF-8 with a BOM, so
// spreadsheet programs read Cyrillic right): chunk by chunk, whatever its
// size, in the user's columns and language.
func (s *Server) exportCSV(rq *req) {
	sh, src, name, ok := s.exportSheet(rq)
	if !ok {
		return
	}
	download(rq.w, rq.r, name+".csv", "text/csv; charset=utf-8")
	bw := bufio.NewWriterSize(rq.w, 64<<10)
	if err := sh.writeCSV(bw, src); err != nil {
		// Headers are gone: the download ends short, and the log says why.
		s.log.Error().Err(err).Msg("export csv")
		return
	}
	_ = bw.Flush()
}

func (sh sheet) writeCSV(w io.Writer, src orderSource) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(sh.header); err != nil {
		return err
	}
	rec := make([]string, len(sh.cols))
	err := src(func(o *order.Order) error {
		for i, c := range sh.cols {
			switch v := c.value(sh.x, o).(type) {
			case float64:
				rec[i] = strconv.FormatFloat(v, 'f', exponent(o.Currency), 64)
			case time.Time:
				rec[i] = v.Format(dateTime)
			case string:
				rec[i] = v
			default:
				rec[i] = fmt.Sprint(v)
			}
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// exportXLSX writes the filtered register as an Excel workbook through
// excelize's StreamWriter, which keeps rows past its buffer in a temporary
// file: memory stays flat whatever the row count. Amounts are numbers
// with two decimals and groups, times are date cells.
func (s *Server) exportXLSX(rq *req) {
	sh, src, name, ok := s.exportSheet(rq)
	if !ok {
		return
	}
	download(rq.w, rq.r, name+".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	if err := sh.writeXLSX(rq.w, t(rq.lang, "nav_orders"), src); err != nil {
		s.log.Error().Err(err).Msg("export xlsx")
	}
}

func (sh sheet) writeXLSX(w io.Writer, title string, src orderSource) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	name := sheetName(title)
	if err := f.SetSheetName("Sheet1", name); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	amountFmt, timeFmt := "#,##0.00", "dd.mm.yyyy hh:mm:ss"
	amountStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &amountFmt})
	if err != nil {
		return err
	}
	timeStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &timeFmt})
	if err != nil {
		return err
	}
	for i, c := range sh.cols {
		width := 18.0
		switch {
		case c.id == "id":
			width = 38
		case c.id == "description" || c.id == "response" || c.id == "status":
			width = 28
		}
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return err
		}
	}
	head := make([]any, len(sh.header))
	for i, h := range sh.header {
		head[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return err
	}
	row := 1
	cells := make([]any, len(sh.cols))
	err = src(func(o *order.Order) error {
		row++
		for i, c := range sh.cols {
			switch v := c.value(sh.x, o).(type) {
			case float64:
				cells[i] = excelize.Cell{StyleID: amountStyle, Value: v}
			case time.Time:
				// Excel has no zones: the wall-clock time the user sees.
				cells[i] = excelize.Cell{StyleID: timeStyle, Value: time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), 0, time.UTC)}
			default:
				cells[i] = v
			}
		}
		axis, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		return sw.SetRow(axis, cells)
	})
	if err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

// sheetName makes a title a valid sheet name: at most 31 characters, none
// of : \ / ? * [ ].
func sheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 31 {
		s = string(r[:31])
	}
	if s == "" {
		s = "Sheet"
	}
	return s
}
