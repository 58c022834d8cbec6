package payments

import (
	"encoding/json"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// ISORecord is the journal payload of one ISO 8583 message: the message
// as packed in the bank's dialect with DE2, CVV2 and CAVV taken out, and
// the PAN encrypted through hsm beside it. Auditors unpack Wire with the
// dialect to see every other field as it crossed the wire.
type ISORecord struct {
	Bank    string `json:"bank"`
	Dialect string `json:"dialect"`
	PAN     []byte `json:"pan,omitempty"` // hsm ciphertext
	Wire    []byte `json:"wire,omitempty"`
	// Error is set when the message could not be packed for the journal.
	Error string `json:"error,omitempty"`
}

// Sanitize returns a copy of m without card data that must not be stored.
func Sanitize(m *iso.Message) *iso.Message {
	c := *m
	c.PAN, c.CVV2 = "", ""
	if m.ThreeDS != nil {
		t := *m.ThreeDS
		t.CAVV = ""
		c.ThreeDS = &t
	}
	if c.ThreeDS != nil && *c.ThreeDS == (iso.ThreeDS{}) {
		c.ThreeDS = nil
	}
	c.KeyUnderZMK = ""
	return &c
}

func (s *Service) isoEntry(o *Order, bank string, dir journal.Direction, m *iso.Message) journal.Entry {
	rec := ISORecord{Bank: bank}
	if o.Card != nil && m.PAN != "" {
		rec.PAN = o.Card.Ciphertext
	}
	if c, ok := s.d.Banks.Codec(bank); ok {
		rec.Dialect = c.Dialect().Name
		if wire, err := c.Pack(Sanitize(m)); err == nil {
			rec.Wire = wire
		} else {
			rec.Error = err.Error()
		}
	}
	payload, _ := json.Marshal(rec)
	return journal.Entry{
		Direction: dir, Channel: bank, OrderID: o.ID, MTI: m.MTI, STAN: m.STAN, RRN: m.RRN, Payload: payload,
	}
}

// threeDSEntry journals a 3-D Secure step without the CAVV.
func (s *Service) threeDSEntry(orderID, step string, out threeds.Outcome, err error) journal.Entry {
	rec := map[string]string{"step": step, "status": string(out.Status), "eci": out.ECI, "version": out.Version, "ds_trans_id": out.DSTransID}
	if out.CAVV != "" {
		rec["cavv"] = "present"
	}
	if err != nil {
		rec["error"] = err.Error()
	}
	payload, _ := json.Marshal(rec)
	return journal.Entry{Direction: journal.In, Channel: Channel3DS, OrderID: orderID, Payload: payload}
}
