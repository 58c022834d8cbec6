package audit

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/xuri/excelize/v2"
)

// WriteXLSX writes the report as an Excel workbook with one sheet laid out
// like the CSV: title, column row, operations, totals. Amounts are numeric
// cells formatted with the currency's decimals and thousands separators,
// times are date cells, so the finance team can sum and filter.
func (r *Report) WriteXLSX(w io.Writer) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	sheet := sheetName(r.Merchant)
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return fmt.Errorf("audit: xlsx: %w", err)
	}
	timeFmt := "yyyy-mm-dd hh:mm:ss"
	timeStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &timeFmt})
	if err != nil {
		return fmt.Errorf("audit: xlsx: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fmt.Errorf("audit: xlsx: %w", err)
	}
	amountStyles := map[int]int{}
	amountStyle := func(currency string) (int, error) {
		exp := currencyExponent(currency)
		if s, ok := amountStyles[exp]; ok {
			return s, nil
		}
		numFmt := "#,##0"
		if exp > 0 {
			numFmt += "." + strings.Repeat("0", exp)
		}
		s, err := f.NewStyle(&excelize.Style{CustomNumFmt: &numFmt})
		amountStyles[exp] = s
		return s, err
	}

	var werr error
	set := func(col, row int, v any, style int) {
		if werr != nil {
			return
		}
		cell, err := excelize.CoordinatesToCellName(col, row)
		if err == nil {
			err = f.SetCellValue(sheet, cell, v)
		}
		if err == nil && style != 0 {
			err = f.SetCellStyle(sheet, cell, cell, style)
		}
		werr = err
	}
	amount := func(col, row int, minor int64, currency string) {
		style, err := amountStyle(currency)
		if err != nil {
			werr = err
			return
		}
		set(col, row, float64(minor)/math.Pow10(currencyExponent(currency)), style)
	}

	row := 1
	for i, v := range []string{"Operations report", r.Merchant, r.Date, r.Location.String()} {
		set(i+1, row, v, bold)
	}
	row++
	for i, v := range ReportColumns {
		set(i+1, row, v, bold)
	}
	for _, l := range r.Lines {
		row++
		// Excel has no time zones: the cell holds the wall-clock time of
		// the report's location, which the title row names.
		set(1, row, l.Time, timeStyle)
		set(2, row, l.OrderNumber, 0)
		set(3, row, l.RRN, 0)
		amount(4, row, l.Requested, l.Currency)
		amount(5, row, l.Answered, l.Currency)
		set(6, row, l.Type, 0)
		set(7, row, l.Response, 0)
		set(8, row, l.AuthCode, 0)
		set(9, row, l.TransNo, 0)
		set(10, row, l.Currency, 0)
	}
	row++
	set(1, row, "Total transactions", bold)
	set(2, row, r.Transactions, 0)
	cur := r.currency()
	for _, t := range r.Totals {
		row++
		set(1, row, "Total "+t.Type+" ok", bold)
		set(2, row, t.Count, 0)
		amount(3, row, t.Amount, cur)
	}
	row++
	set(1, row, "Declined", bold)
	set(2, row, r.Declined, 0)
	if werr != nil {
		return fmt.Errorf("audit: xlsx: %w", werr)
	}
	for col, width := range map[string]float64{"A": 20, "B": 22, "C": 18, "D": 18, "E": 18, "I": 38} {
		if err := f.SetColWidth(sheet, col, col, width); err != nil {
			return fmt.Errorf("audit: xlsx: %w", err)
		}
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("audit: xlsx: %w", err)
	}
	return nil
}

// sheetName makes a merchant name a valid sheet name: at most 31
// characters, none of : \ / ? * [ ].
func sheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		s = "Report"
	}
	if r := []rune(s); len(r) > 31 {
		s = string(r[:31])
	}
	return s
}
