package audit

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), string(got), "differs from %s (go test -update to accept)", path)
}

func dailyReports(t *testing.T, merchant string) []*Report {
	t.Helper()
	f := newFixture(t)
	f.day()
	almaty := time.FixedZone("UTC+5", 5*3600)
	reports, err := DailyReports(context.Background(), f.open(), "2026-03-10", almaty, merchant, nil)
	require.NoError(t, err)
	return reports
}

func TestDailyReportCSV(t *testing.T) {
	reports := dailyReports(t, "")
	require.Len(t, reports, 2, "one report per merchant")
	require.Equal(t, "shop-1", reports[0].Merchant)
	require.Equal(t, "shop-2", reports[1].Merchant)
	for _, r := range reports {
		var buf bytes.Buffer
		require.NoError(t, r.WriteCSV(&buf))
		golden(t, "daily-"+r.Merchant+".csv", buf.Bytes())
	}
	r := reports[0]
	require.Equal(t, 5, r.Transactions)
	require.Equal(t, 1, r.Declined)
	require.Equal(t, []TypeTotal{{"A", 3, 2180000}, {"F", 2, 700000}, {"R", 1, 750000}, {"C", 1, 50000}}, r.Totals)
}

// TestDailyReportXLSX reads the workbook back and compares every cell's
// value, as a spreadsheet shows it, with a golden text.
func TestDailyReportXLSX(t *testing.T) {
	reports := dailyReports(t, "shop-1")
	require.Len(t, reports, 1)
	var buf bytes.Buffer
	require.NoError(t, reports[0].WriteXLSX(&buf))

	x, err := excelize.OpenReader(&buf)
	require.NoError(t, err)
	defer x.Close()
	require.Equal(t, []string{"shop-1"}, x.GetSheetList())
	rows, err := x.GetRows("shop-1")
	require.NoError(t, err)
	var text strings.Builder
	for _, row := range rows {
		text.WriteString(strings.Join(row, "\t"))
		text.WriteByte('\n')
	}
	golden(t, "daily-shop-1.xlsx.txt", []byte(text.String()))

	// Amounts are numbers, not text, so the finance team can sum them.
	typ, err := x.GetCellType("shop-1", "D3")
	require.NoError(t, err)
	require.NotEqual(t, excelize.CellTypeSharedString, typ)
	raw, err := x.GetCellValue("shop-1", "D3", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Equal(t, "5000", raw)
}

func TestDailyReportEmptyForMerchant(t *testing.T) {
	reports := dailyReports(t, "shop-9")
	require.Len(t, reports, 1)
	require.Empty(t, reports[0].Lines)
	require.Equal(t, 0, reports[0].Transactions)
}

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		cur   string
		want  string
	}{
		{500000, "398", "5000.00"}, {5, "398", "0.05"}, {-1250, "840", "-12.50"}, {1500, "392", "1500"}, {1234, "414", "1.234"},
	} {
		require.Equal(t, tc.want, FormatAmount(tc.minor, tc.cur))
	}
}
