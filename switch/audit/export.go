package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// Export formats.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// ExportFilter selects entries. Zero fields select everything.
type ExportFilter struct {
	From, To time.Time // entry time in [From, To)
	OrderID  string
	Merchant string // entries of this merchant's orders
}

// ExportedEntry is one journal entry in log-safe form: card data masked or
// left out, ISO messages decoded field by field.
type ExportedEntry struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"`
	Channel   string    `json:"channel"`
	OrderID   string    `json:"order_id,omitempty"`
	MTI       string    `json:"mti,omitempty"`
	STAN      string    `json:"stan,omitempty"`
	RRN       string    `json:"rrn,omitempty"`
	Hash      string    `json:"hash"`
	PrevHash  string    `json:"prev_hash"`
	// Exactly one of ISO, Payload, Text or Bytes describes the payload.
	ISO     *ISOView `json:"iso,omitempty"`
	Payload any      `json:"payload,omitempty"` // JSON payloads, masked
	Text    string   `json:"text,omitempty"`    // other text, masked
	Bytes   int      `json:"bytes,omitempty"`   // binary payloads: only their length
}

// ISOView is an ISO 8583 message as exported.
type ISOView struct {
	Bank    string     `json:"bank,omitempty"`
	Dialect string     `json:"dialect,omitempty"`
	PAN     string     `json:"pan,omitempty"` // "encrypted" when the record carries ciphertext
	Fields  []ISOField `json:"fields,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// ISOField is one data element.
type ISOField struct {
	DE    string `json:"de"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Export writes the selected entries to w as JSON lines or CSV and returns
// how many it wrote.
func Export(ctx context.Context, d *Data, f ExportFilter, format string, w io.Writer, progress Progress) (int, error) {
	var emit func(*ExportedEntry) error
	var flush func() error
	switch format {
	case FormatJSONL, "":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		emit = func(e *ExportedEntry) error { return enc.Encode(e) }
		flush = func() error { return nil }
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(exportCSVHeader); err != nil {
			return 0, err
		}
		emit = func(e *ExportedEntry) error { return cw.Write(exportCSVRow(e)) }
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return 0, fmt.Errorf("audit: unknown export format %q (jsonl or csv)", format)
	}

	x := newExporter()
	n := 0
	keep := func(e journal.Entry) bool {
		return (f.From.IsZero() || !e.Time.Before(f.From)) && (f.To.IsZero() || e.Time.Before(f.To))
	}
	write := func(e journal.Entry) error {
		if !keep(e) {
			return nil
		}
		n++
		return emit(x.entry(e))
	}

	switch {
	case f.OrderID != "":
		// The order index finds an order's entries without a full scan.
		entries, err := d.Journal.ByOrder(f.OrderID)
		if err != nil {
			return 0, fmt.Errorf("audit: export: %w", err)
		}
		if f.Merchant != "" && !ofMerchant(entries, f.Merchant) {
			entries = nil
		}
		for _, e := range entries {
			if err := write(e); err != nil {
				return n, err
			}
		}
	default:
		var ids map[string]bool
		if f.Merchant != "" {
			var err error
			if ids, err = merchantOrders(ctx, d, f.Merchant); err != nil {
				return 0, err
			}
		}
		total, _ := d.Journal.Count()
		var seen uint64
		from := uint64(1)
		if !f.From.IsZero() {
			from = d.Journal.SeqSince(f.From)
		}
		err := d.Journal.Iterate(from, func(e journal.Entry) error {
			seen++
			if seen%progressEvery == 0 {
				if progress != nil {
					progress(seen, total)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if ids != nil && !ids[e.OrderID] {
				return nil
			}
			return write(e)
		})
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		if progress != nil {
			progress(seen, total)
		}
	}
	return n, flush()
}

// merchantOrders returns the ids of a merchant's orders, from the journal's
// state entries: entries themselves carry no merchant, and an order's first
// state entry follows its first messages, so this needs its own pass.
func merchantOrders(ctx context.Context, d *Data, merchant string) (map[string]bool, error) {
	ids := map[string]bool{}
	err := d.Journal.Iterate(1, func(e journal.Entry) error {
		if e.Channel != order.ChannelState || ids[e.OrderID] {
			return nil
		}
		if !bytes.Contains(e.Payload, []byte(merchant)) {
			return nil // cheap pre-filter before decoding
		}
		var o struct {
			Merchant string `json:"merchant"`
		}
		if json.Unmarshal(e.Payload, &o) == nil && o.Merchant == merchant {
			ids[e.OrderID] = true
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("audit: export: merchant orders: %w", err)
	}
	return ids, nil
}

// exporter turns entries into their log-safe form, caching codecs.
type exporter struct {
	codecs map[string]*iso.Codec
}

func newExporter() *exporter {
	return &exporter{codecs: map[string]*iso.Codec{}}
}

// ofMerchant reports whether an order's entries belong to merchant, by its
// state entries.
func ofMerchant(entries []journal.Entry, merchant string) bool {
	for _, e := range entries {
		if e.Channel != order.ChannelState {
			continue
		}
		var o struct {
			Merchant string `json:"merchant"`
		}
		if json.Unmarshal(e.Payload, &o) == nil {
			return o.Merchant == merchant
		}
	}
	return false
}

func (x *exporter) entry(e journal.Entry) *ExportedEntry {
	out := &ExportedEntry{
		Seq: e.Seq, Time: e.Time, Direction: e.Direction.String(), Channel: e.Channel,
		OrderID: e.OrderID, MTI: e.MTI, STAN: e.STAN, RRN: e.RRN,
		Hash: hex.EncodeToString(e.Hash[:]), PrevHash: hex.EncodeToString(e.PrevHash[:]),
	}
	if e.MTI != "" {
		var rec order.ISORecord
		if json.Unmarshal(e.Payload, &rec) == nil && (rec.Wire != nil || rec.Dialect != "" || rec.Error != "") {
			out.ISO = x.iso(rec)
			return out
		}
	}
	switch {
	case len(e.Payload) == 0:
	case json.Valid(e.Payload):
		v, err := decodeJSON(e.Payload)
		if err == nil {
			out.Payload = maskValue(v)
		}
	case utf8.Valid(e.Payload):
		out.Text = maskString(string(e.Payload))
	default:
		out.Bytes = len(e.Payload)
	}
	return out
}

func (x *exporter) iso(rec order.ISORecord) *ISOView {
	v := &ISOView{Bank: rec.Bank, Dialect: rec.Dialect, Error: rec.Error}
	if len(rec.PAN) > 0 {
		v.PAN = "encrypted"
	}
	if len(rec.Wire) == 0 {
		return v
	}
	c, ok := x.codecs[rec.Dialect]
	if !ok {
		var err error
		if c, err = iso.LoadCodec(rec.Dialect); err != nil {
			c = nil
		}
		x.codecs[rec.Dialect] = c
	}
	if c == nil {
		v.Error = joinErr(v.Error, fmt.Sprintf("unknown dialect %q", rec.Dialect))
		return v
	}
	m, err := c.Unpack(rec.Wire)
	if err != nil {
		// Unpack errors name the field and never quote its data.
		v.Error = joinErr(v.Error, err.Error())
		return v
	}
	v.Fields = isoFields(m)
	return v
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// isoFields lists a message's data elements in DE order, log-safe: the PAN
// masked, the expiry hidden, CVV2, CAVV, keys and the MAC shown only as
// present.
func isoFields(m *iso.Message) []ISOField {
	var fs []ISOField
	add := func(de, name, v string) {
		if v != "" {
			fs = append(fs, ISOField{DE: de, Name: name, Value: v})
		}
	}
	present := func(s string) string {
		if s == "" {
			return ""
		}
		return "present"
	}
	add("0", "MTI", m.MTI)
	add("2", "PAN", iso.MaskPAN(m.PAN))
	add("3", "processing code", m.ProcessingCode)
	if m.HasAmount {
		add("4", "amount", strconv.FormatInt(m.Amount, 10))
	}
	add("7", "transmission time", m.TransmissionTime)
	add("11", "STAN", m.STAN)
	add("12", "local time", m.LocalTime)
	add("13", "local date", m.LocalDate)
	if m.Expiry != "" {
		add("14", "expiry", "****")
	}
	add("18", "MCC", m.MCC)
	add("22", "POS entry mode", m.POSEntryMode)
	add("25", "POS condition", m.POSCondition)
	add("32", "acquirer id", m.AcquirerID)
	add("37", "RRN", m.RRN)
	add("38", "approval code", m.ApprovalCode)
	if m.ResponseCode != "" {
		add("39", "response code", m.ResponseCode+" "+iso.LookupResponseCode(m.ResponseCode).Meaning)
	}
	add("41", "terminal id", m.TerminalID)
	add("42", "merchant id", m.MerchantID)
	add("43", "merchant name", m.MerchantName)
	add("49", "currency", m.Currency)
	add("54", "additional amounts", m.AdditionalAmounts)
	add("70", "network code", m.NetworkCode)
	if m.Original != nil {
		add("90", "original data", m.Original.String())
	}
	if m.ActualAmount != nil {
		add("95", "actual amount", strconv.FormatInt(*m.ActualAmount, 10))
	}
	if m.ThreeDS != nil {
		add("3ds", "ECI", m.ThreeDS.ECI)
		add("3ds", "CAVV", present(m.ThreeDS.CAVV))
		add("3ds", "transaction id", m.ThreeDS.TransactionID)
		add("3ds", "version", m.ThreeDS.Version)
	}
	add("private", "CVV2", present(m.CVV2))
	add("70/key", "key under ZMK", present(m.KeyUnderZMK))
	add("70/kcv", "key check value", m.KeyCheckValue)
	if len(m.MAC) > 0 {
		add("64", "MAC", "present")
	}
	return fs
}

var exportCSVHeader = []string{"seq", "time", "direction", "channel", "order_id", "mti", "stan", "rrn", "hash", "prev_hash", "payload"}

func exportCSVRow(e *ExportedEntry) []string {
	var payload string
	switch {
	case e.ISO != nil:
		var parts []string
		if e.ISO.Bank != "" {
			parts = append(parts, "bank="+e.ISO.Bank)
		}
		if e.ISO.Dialect != "" {
			parts = append(parts, "dialect="+e.ISO.Dialect)
		}
		if e.ISO.PAN != "" {
			parts = append(parts, "pan="+e.ISO.PAN)
		}
		for _, f := range e.ISO.Fields {
			parts = append(parts, "DE"+f.DE+" "+f.Name+"="+f.Value)
		}
		if e.ISO.Error != "" {
			parts = append(parts, "error="+e.ISO.Error)
		}
		payload = strings.Join(parts, "; ")
	case e.Payload != nil:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e.Payload); err == nil {
			payload = strings.TrimRight(buf.String(), "\n")
		}
	case e.Text != "":
		payload = e.Text
	case e.Bytes > 0:
		payload = fmt.Sprintf("(%d binary bytes)", e.Bytes)
	}
	return []string{
		strconv.FormatUint(e.Seq, 10), e.Time.Format(time.RFC3339Nano), e.Direction, e.Channel, e.OrderID,
		e.MTI, e.STAN, e.RRN, e.Hash, e.PrevHash, payload,
	}
}

// ParseTime reads a command-line time: a date (YYYY-MM-DD, midnight in loc)
// or an RFC 3339 time.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want YYYY-MM-DD or an RFC 3339 time")
}
