package audit

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseSettlement: a bank's settlement file is outside input. Any bytes
// either parse into rows or fail with an error; they never panic.
func FuzzParseSettlement(f *testing.F) {
	f.Add([]byte("business_day,type,mti,stan,rrn,terminal_id,merchant_id,amount,final_amount,approval_code,currency\n" +
		"2026-11-23,A,0100,000123,6327140000AB,TLP00001,000000000001234,150000,0,A1B2C3,398\n"))
	f.Add([]byte("type,rrn\nF,1\n"))
	f.Add([]byte(""))
	f.Add([]byte("\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseSettlement(bytes.NewReader(data))
		if err != nil {
			require.Contains(t, err.Error(), "audit: settlement:", "errors say where they come from")
			return
		}
		for _, r := range rows {
			require.Contains(t, []string{"A", "F", "R", "C"}, r.Class, "line %d: every accepted row has a report type", r.Line)
			require.Positive(t, r.Line)
		}
	})
}
