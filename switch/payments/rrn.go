package payments

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
)

// RRNs must be unique, so their sequences are reserved durably, in blocks,
// one reservation record per format: a bank's dialect takes 12 digits
// (the default) or the base-36 form (BankProfile.RRNFormat).
func rrnKey(f iso.RRNFormat) []byte {
	if f == iso.RRNBase36 {
		return []byte("rrn_reservation") // the name before decimal RRNs existed
	}
	return []byte("rrn_reservation." + f.String())
}

type rrnReservation struct {
	Period string `json:"period,omitempty"`
	Hour   string `json:"hour,omitempty"` // written before formats had periods other than hours
	Upto   uint64 `json:"upto"`
}

func (s *Service) newRRNs() (map[iso.RRNFormat]*iso.RRNs, error) {
	out := map[iso.RRNFormat]*iso.RRNs{}
	for _, f := range []iso.RRNFormat{iso.RRNDecimal, iso.RRNBase36} {
		var r rrnReservation
		err := s.store.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(rrnKey(f)); v != nil {
				return json.Unmarshal(v, &r)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("payments: RRN reservation: %w", err)
		}
		if r.Period == "" {
			r.Period = r.Hour
		}
		out[f] = iso.NewRRNs(iso.RRNOptions{Now: s.d.Now, Format: f, ResumePeriod: r.Period, ResumeUpto: r.Upto,
			Reserve: func(period string, upto uint64) error {
				v, _ := json.Marshal(rrnReservation{Period: period, Upto: upto})
				return s.store.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(rrnKey(f), v) })
			}})
	}
	return out, nil
}

// rrn is a new RRN in bank's format.
func (s *Service) rrn(bank string) (string, error) {
	f, _ := iso.ParseRRNFormat(s.banks[bank].RRNFormat) // validated with the config
	return s.rrns[f].Next()
}

// stamp sets m's DE7 (GMT) and DE12/DE13 (the merchant's local time) to
// now: a follow-up is a transaction of its own, at its own time.
func (s *Service) stamp(m *iso.Message, merchant string) *iso.Message {
	m.Stamp(s.d.Now(), s.zones[merchant])
	return m
}
