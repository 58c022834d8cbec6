package payments

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tulpar-switch/tulpar/iso"
)

// recentExchanges remembers, for a while after each message is sent, which
// order it was for, so that an answer arriving after its exchange gave up
// (or one no exchange was waiting for) is journaled with its order and
// shows in the order's history. Memory only, bounded: an answer later than
// the window is still journaled, without its order.
//
// At 600 exchanges a second and a 150-second window it holds about 90,000
// of them, which made it the biggest thing in the switch's heap; an entry
// is kept small: the order id as a UUID's 16 bytes (the switch's ids are
// UUIDs; any other id is kept aside as text), times as Unix nanoseconds,
// the bank as a number in the key.
type recentExchanges struct {
	mu     sync.Mutex
	window time.Duration
	byKey  map[string]recentExchange
	texts  map[string]string // order ids that are not UUIDs
	queue  []recentSent      // oldest first, for pruning
	banks  map[string]uint16 // a number for each bank's name, for the keys
}

type recentExchange struct {
	id uuid.UUID // zero: the id is in texts
	at int64     // Unix nanoseconds
}

type recentSent struct {
	key string
	at  int64
}

// maxRecent bounds the memory a burst can take: at 2,000 exchanges a
// second it still covers several minutes.
const maxRecent = 1 << 20

// keyOf is the bank's number and the match key: each bank numbers its own
// STANs (all from the same clock seed) and names its own terminals, so the
// match key alone is shared by two banks' messages often. With add true a
// bank not seen before gets its number; r.mu is held.
func (r *recentExchanges) keyOf(bank string, m *iso.Message, add bool) (string, bool) {
	n, ok := r.banks[bank]
	if !ok {
		if !add {
			return "", false
		}
		if r.banks == nil {
			r.banks = map[string]uint16{}
		}
		n = uint16(len(r.banks))
		r.banks[bank] = n
	}
	return string([]byte{byte(n >> 8), byte(n)}) + iso.MatchKey(m), true
}

func (r *recentExchanges) add(bank string, m *iso.Message, orderID string, now time.Time) {
	at := now.UnixNano()
	e := recentExchange{at: at}
	id, err := uuid.Parse(orderID)
	packed := err == nil && id != (uuid.UUID{}) && id.String() == orderID
	if packed {
		e.id = id
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k, _ := r.keyOf(bank, m, true)
	if r.byKey == nil {
		r.byKey = map[string]recentExchange{}
	}
	drop := 0
	for ; drop < len(r.queue); drop++ {
		old := r.queue[drop]
		if at-old.at < int64(r.window) && len(r.queue)-drop < maxRecent {
			break
		}
		// A key sent again since (a STAN that wrapped) keeps its newer entry.
		if e := r.byKey[old.key]; e.at == old.at {
			delete(r.byKey, old.key)
			delete(r.texts, old.key)
		}
	}
	r.queue = append(r.queue[drop:], recentSent{k, at})
	r.byKey[k] = e
	if packed {
		delete(r.texts, k)
	} else {
		if r.texts == nil {
			r.texts = map[string]string{}
		}
		r.texts[k] = orderID
	}
}

func (r *recentExchanges) lookup(bank string, m *iso.Message) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keyOf(bank, m, false)
	if !ok {
		return ""
	}
	e, ok := r.byKey[k]
	if !ok {
		return ""
	}
	if e.id == (uuid.UUID{}) {
		return r.texts[k]
	}
	return e.id.String()
}

// OrderOf names the order a message from bank (its link's name) belongs
// to when it matches a request sent to that bank recently (a late or
// unmatched answer), or "".
func (s *Service) OrderOf(bank string, m *iso.Message) string { return s.recent.lookup(bank, m) }
