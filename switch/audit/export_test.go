package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExportIsLogSafeAndDecodesISO(t *testing.T) {
	f := newFixture(t)
	f.day()
	d := f.open()
	var buf bytes.Buffer
	n, err := Export(context.Background(), d, ExportFilter{}, FormatJSONL, &buf, nil)
	require.NoError(t, err)
	total, _ := d.Journal.Count()
	require.EqualValues(t, total, n)

	out := buf.String()
	for _, secret := range []string{"4400430000000019", `"123"`, "Y2lwaGVydGV4dA", "2812"} {
		require.NotContains(t, out, secret)
	}
	var first ExportedEntry
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	var sawISO bool
	for sc.Scan() {
		var e ExportedEntry
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Seq == 1 {
			first = e
		}
		if e.ISO != nil && e.MTI == "0100" && !sawISO {
			sawISO = true
			require.Equal(t, "encrypted", e.ISO.PAN)
			require.Contains(t, e.ISO.Fields, ISOField{DE: "4", Name: "amount", Value: "500000"})
			require.Contains(t, e.ISO.Fields, ISOField{DE: "41", Name: "terminal id", Value: "TRM00001"})
			for _, fl := range e.ISO.Fields {
				require.NotEqual(t, "2", fl.DE, "the journal holds no PAN in the wire")
			}
		}
	}
	require.True(t, sawISO)
	require.Equal(t, "api", first.Channel)
	require.Equal(t, "(present)", first.Payload.(map[string]any)["pan"])
	require.Len(t, first.PrevHash, 64)
}

func TestExportFilters(t *testing.T) {
	f := newFixture(t)
	f.day()
	d := f.open()
	count := func(flt ExportFilter) int {
		n, err := Export(context.Background(), d, flt, FormatCSV, new(bytes.Buffer), nil)
		require.NoError(t, err)
		return n
	}
	one, err := d.Journal.ByOrder("shop-2-77")
	require.NoError(t, err)
	require.Equal(t, len(one), count(ExportFilter{OrderID: "shop-2-77"}))
	require.Equal(t, len(one), count(ExportFilter{Merchant: "shop-2"}))
	require.Zero(t, count(ExportFilter{OrderID: "shop-2-77", Merchant: "shop-1"}))
	require.Zero(t, count(ExportFilter{From: day0.Add(24 * time.Hour)}))

	var buf bytes.Buffer
	_, err = Export(context.Background(), d, ExportFilter{OrderID: "shop-1-1004"}, FormatCSV, &buf, nil)
	require.NoError(t, err)
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, exportCSVHeader, rows[0])
	var declined bool
	for _, r := range rows[1:] {
		if r[5] == "0110" {
			declined = true
			require.Contains(t, r[10], "DE39 response code=51")
		}
	}
	require.True(t, declined)
}
