package payments

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// JournalLine is one journal entry of an order as the merchant cabinet
// shows it: what was said to whom and when. ISO 8583 messages are decoded
// field by field from the bytes the journal kept (never a card number:
// the journal holds none in clear); other payloads are only named.
type JournalLine struct {
	Seq       uint64
	Time      time.Time
	Direction string // in, out, internal
	Channel   string // api, 3ds, callback, state, settings, or a bank's name
	MTI       string
	STAN      string
	RRN       string
	// Of an ISO 8583 message:
	Bank           string
	ProcessingCode string
	Amount         int64
	HasAmount      bool
	Currency       string
	ApprovalCode   string
	ResponseCode   string
	TerminalID     string
	MerchantID     string
	// State, on a state entry: the order's status after the change.
	State *order.Status
	// Error says why an ISO record could not be decoded.
	Error string
}

// History returns every journal entry of an order, oldest first. Another
// merchant's order is order.ErrNotFound when merchant is set.
func (s *Service) History(orderID, merchant string) ([]JournalLine, error) {
	o, err := s.store.Get(orderID)
	if err != nil {
		return nil, err
	}
	if merchant != "" && o.Merchant != merchant {
		return nil, fmt.Errorf("order %q: %w", orderID, order.ErrNotFound)
	}
	es, err := s.d.Journal.ByOrder(orderID)
	if err != nil {
		return nil, fmt.Errorf("payments: history of %s: %w", orderID, err)
	}
	codecs := map[string]*iso.Codec{}
	out := make([]JournalLine, 0, len(es))
	for _, e := range es {
		l := JournalLine{Seq: e.Seq, Time: e.Time, Direction: e.Direction.String(), Channel: e.Channel, MTI: e.MTI, STAN: e.STAN, RRN: e.RRN}
		switch {
		case e.Channel == order.ChannelState:
			var st struct {
				Status order.Status `json:"status"`
			}
			if json.Unmarshal(e.Payload, &st) == nil {
				l.State = &st.Status
			}
		case e.MTI != "":
			decodeISO(&l, e, codecs)
		}
		out = append(out, l)
	}
	return out, nil
}

func decodeISO(l *JournalLine, e journal.Entry, codecs map[string]*iso.Codec) {
	var rec order.ISORecord
	if err := json.Unmarshal(e.Payload, &rec); err != nil {
		l.Error = "not an ISO record"
		return
	}
	l.Bank, l.Error = rec.Bank, rec.Error
	if len(rec.Wire) == 0 {
		return
	}
	c, ok := codecs[rec.Dialect]
	if !ok {
		c, _ = iso.LoadCodec(rec.Dialect)
		codecs[rec.Dialect] = c
	}
	if c == nil {
		l.Error = fmt.Sprintf("unknown dialect %q", rec.Dialect)
		return
	}
	m, err := c.Unpack(rec.Wire)
	if err != nil {
		// Unpack errors name the field, never its data.
		l.Error = err.Error()
		return
	}
	l.ProcessingCode, l.Amount, l.HasAmount, l.Currency = m.ProcessingCode, m.Amount, m.HasAmount, m.Currency
	l.ApprovalCode, l.ResponseCode, l.TerminalID, l.MerchantID = m.ApprovalCode, m.ResponseCode, m.TerminalID, m.MerchantID
}
