package payments

import (
	"encoding/json"

	"github.com/tulpar-switch/tulpar/switch/order"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

func (s *Service) isoEntry(o *order.Order, bank string, dir journal.Direction, m *iso.Message) journal.Entry {
	var pan []byte
	if o.Card != nil {
		pan = o.Card.Ciphertext
	}
	codec, _ := s.d.Banks.Codec(bank)
	return journal.Entry{
		Direction: dir, Channel: bank, OrderID: o.ID, MTI: m.MTI, STAN: m.STAN, RRN: m.RRN,
		Payload: order.NewISORecord(bank, codec, m, pan).Payload(),
	}
}

// threeDSEntry journals a 3-D Secure step without the CAVV.
func (s *Service) threeDSEntry(orderID, step string, out threeds.Outcome, err error) journal.Entry {
	rec := order.ThreeDSStep{Step: step, Status: string(out.Status), ECI: out.ECI, Version: out.Version, DSTransID: out.DSTransID}
	if out.CAVV != "" {
		rec.CAVV = "present"
	}
	if err != nil {
		rec.Error = err.Error()
	}
	payload, _ := json.Marshal(rec)
	return journal.Entry{Direction: journal.In, Channel: order.Channel3DS, OrderID: orderID, Payload: payload}
}
