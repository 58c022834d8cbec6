package audit

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SettlementRow is one transaction of a bank's settlement file: a message
// the bank applied to its books.
type SettlementRow struct {
	Line         int    // in the file, for people
	Type         string // as the bank names it (authorization, purchase, completion, refund, reversal)
	Class        string // report type: A, F, R, C
	MTI          string
	STAN         string
	RRN          string
	TerminalID   string
	MerchantID   string
	Currency     string
	Amount       int64 // as requested, minor units
	Final        int64 // what stands for settlement, minor units
	HasFinal     bool
	ApprovalCode string
	Time         string
}

// settlementAliases maps the column names banks use to ours; the
// issuersim file (business_date, time, type, mti, stan, rrn, terminal_id,
// merchant_id, pan, currency, amount, final_amount, approval_code,
// original_*) is the reference.
var settlementAliases = map[string]string{
	"type": "type", "kind": "type", "operation": "type", "optype": "type", "trantype": "type",
	"mti": "mti", "messagetype": "mti",
	"stan": "stan", "de11": "stan", "trace": "stan",
	"rrn": "rrn", "de37": "rrn", "retrievalreferencenumber": "rrn",
	"terminalid": "terminal", "terminal": "terminal", "tid": "terminal", "de41": "terminal",
	"merchantid": "merchant", "mid": "merchant", "de42": "merchant",
	"currency": "currency", "de49": "currency",
	"amount": "amount", "de4": "amount", "amountrequested": "amount",
	"finalamount": "final", "final": "final", "settledamount": "final",
	"approvalcode": "approval", "authcode": "approval", "de38": "approval",
	"time": "time", "datetime": "time",
	"processingcode": "proc", "de3": "proc",
}

// ParseSettlement reads a settlement CSV with a header row. Columns are
// found by name (see settlementAliases); rrn, stan, amount and either type
// or mti are required. Amounts are integers in minor units.
func ParseSettlement(r io.Reader) ([]SettlementRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("audit: settlement: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		k := strings.NewReplacer("_", "", " ", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))))
		if name, ok := settlementAliases[k]; ok {
			if _, dup := col[name]; !dup {
				col[name] = i
			}
		}
	}
	for _, need := range []string{"rrn", "stan", "amount"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("audit: settlement: no %s column in the header", need)
		}
	}
	_, hasType := col["type"]
	_, hasMTI := col["mti"]
	if !hasType && !hasMTI {
		return nil, errors.New("audit: settlement: no type or mti column in the header")
	}
	var rows []SettlementRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit: settlement: line %d: %w", line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		row := SettlementRow{
			Line: line, Type: strings.ToLower(get("type")), MTI: get("mti"), STAN: get("stan"), RRN: get("rrn"),
			TerminalID: get("terminal"), MerchantID: get("merchant"), Currency: get("currency"),
			ApprovalCode: get("approval"), Time: get("time"),
		}
		if row.Amount, err = strconv.ParseInt(get("amount"), 10, 64); err != nil {
			return nil, fmt.Errorf("audit: settlement: line %d: amount %q is not minor units", line, get("amount"))
		}
		if f := get("final"); f != "" {
			if row.Final, err = strconv.ParseInt(f, 10, 64); err != nil {
				return nil, fmt.Errorf("audit: settlement: line %d: final amount %q is not minor units", line, f)
			}
			row.HasFinal = true
		}
		if row.Class = settlementClass(row.Type, row.MTI, get("proc")); row.Class == "" {
			return nil, fmt.Errorf("audit: settlement: line %d: unknown transaction type %q (mti %q)", line, row.Type, row.MTI)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// settlementClass maps a bank's transaction type (or, without one, its
// MTI and processing code) to the report letter.
func settlementClass(typ, mti, proc string) string {
	switch typ {
	case "authorization", "auth", "preauth", "a":
		return TypeAuthorization
	case "purchase", "sale", "completion", "capture", "f":
		return TypeFinancial
	case "reversal", "r":
		return TypeReversal
	case "refund", "credit", "c":
		return TypeCredit
	case "":
	default:
		return ""
	}
	switch {
	case strings.HasPrefix(mti, "01"):
		return TypeAuthorization
	case strings.HasPrefix(mti, "02") && strings.HasPrefix(proc, "20"):
		return TypeCredit
	case strings.HasPrefix(mti, "02"):
		return TypeFinancial
	case strings.HasPrefix(mti, "04"):
		return TypeReversal
	}
	return ""
}
