package payments

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/compact"
)

// recentExchanges remembers, for a while after each message is sent, which
// order it was for, so that an answer arriving after its exchange gave up
// (or one no exchange was waiting for) is journaled with its order and
// shows in the order's history. Memory only, bounded: an answer later than
// the window is still journaled, without its order.
//
// At 600 operations a second a 150-second window held over 100,000
// exchanges, which made it the biggest thing in the switch's heap (and,
// at the switch's GOGC of 400, five times that in the resident set). An
// exchange is kept in a few dozen bytes: the bank and match key as a
// 64-bit hash under a seed of this process (two keys share one with a
// chance of one in 2^64 per pair: a late answer would then be journaled
// with another recent order, never a payment changed), the order id as a
// UUID's 16 bytes (the switch's ids are UUIDs; any other is kept aside as
// text), the time as Unix nanoseconds.
type recentExchanges struct {
	mu     sync.Mutex
	window time.Duration
	seed   maphash.Seed
	byKey  map[uint64]recentExchange
	texts  map[uint64]string // order ids that are not UUIDs
	queue  []recentSent      // oldest first, for pruning
}

type recentExchange struct {
	id [16]byte // a UUID's bytes (compact.PackUUID); zero: the id is in texts
	at int64    // Unix nanoseconds
}

type recentSent struct {
	key uint64
	at  int64
}

// recentWindow is how many exchange timeouts an exchange is remembered
// after it was sent.
const recentWindow = 4

// maxRecent bounds the memory a burst can take: at 2,000 exchanges a
// second it still covers several minutes.
const maxRecent = 1 << 20

// keyOf hashes the bank's name and the match key: each bank numbers its
// own STANs (all from the same clock seed) and names its own terminals, so
// the match key alone is shared by two banks' messages often. r.mu is held.
func (r *recentExchanges) keyOf(bank string, m *iso.Message) uint64 {
	if r.byKey == nil {
		r.seed = maphash.MakeSeed()
		r.byKey = map[uint64]recentExchange{}
	}
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(bank)
	h.WriteByte(0)
	h.WriteString(iso.MatchKey(m))
	return h.Sum64()
}

func (r *recentExchanges) add(bank string, m *iso.Message, orderID string, now time.Time) {
	at := now.UnixNano()
	e := recentExchange{at: at}
	id, packed := compact.PackUUID(orderID)
	packed = packed && id != [16]byte{}
	if packed {
		e.id = id
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keyOf(bank, m)
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
			r.texts = map[uint64]string{}
		}
		r.texts[k] = orderID
	}
}

func (r *recentExchanges) lookup(bank string, m *iso.Message) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keyOf(bank, m)
	e, ok := r.byKey[k]
	if !ok {
		return ""
	}
	if e.id == [16]byte{} {
		return r.texts[k]
	}
	return string(compact.AppendUUIDText(make([]byte, 0, 36), e.id[:]))
}

// OrderOf names the order a message from bank (its link's name) belongs
// to when it matches a request sent to that bank recently (a late or
// unmatched answer), or "".
func (s *Service) OrderOf(bank string, m *iso.Message) string { return s.recent.lookup(bank, m) }
