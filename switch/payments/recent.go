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
// exchange is kept in 32 bytes: the bank and match key as a 64-bit hash
// under a seed of this process (two keys share one with a chance of one in
// 2^64 per pair: a late answer would then be journaled with another recent
// order, never a payment changed), the order id as a UUID's 16 bytes (the
// switch's ids are UUIDs; any other is kept aside as text), the time as
// Unix nanoseconds.
//
// They are kept in a ring, oldest first, and nothing else: a lookup walks
// it back from the newest. Lookups are for answers no exchange took, rare,
// while every exchange adds one; a late answer is near the newest (one
// exchange timeout late in a full window at 600 operations a second: 5 µs;
// the whole window walked for a message that matches nothing: 22 µs;
// BenchmarkRecentLookup, 2 vCPU, 2026-12-07). A map by key as well had
// doubled its table once the window turned over (deletions leave
// tombstones): 136 bytes an exchange held at steady load, against 47 now
// (BenchmarkRecentExchangesChurn), and that step came in the second minute
// of load, after the window first filled. An add costs 140-170 ns, was
// 610-660.
type recentExchanges struct {
	mu     sync.Mutex
	window time.Duration
	seed   maphash.Seed
	seeded bool
	ring   []recentExchange // len is the capacity; head is the oldest
	head   int
	n      int
	texts  map[recentText]string // order ids that are not UUIDs
}

type recentExchange struct {
	key uint64   // the bank's name and the match key, hashed (keyOf)
	id  [16]byte // a UUID's bytes (compact.PackUUID); zero: the id is in texts
	at  int64    // Unix nanoseconds
}

// recentText names one exchange's text id: the same key may be sent again
// within the window (a STAN that wrapped), each with its own order.
type recentText struct {
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
	if !r.seeded {
		r.seed, r.seeded = maphash.MakeSeed(), true
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
	e.key = r.keyOf(bank, m)
	for r.n > 0 {
		old := &r.ring[r.head]
		if at-old.at < int64(r.window) && r.n < maxRecent {
			break
		}
		if old.id == [16]byte{} {
			delete(r.texts, recentText{old.key, old.at})
		}
		r.head = (r.head + 1) % len(r.ring)
		r.n--
	}
	if r.n == len(r.ring) {
		r.grow()
	}
	r.ring[(r.head+r.n)%len(r.ring)] = e
	r.n++
	if !packed {
		if r.texts == nil {
			r.texts = map[recentText]string{}
		}
		r.texts[recentText{e.key, at}] = orderID
	}
}

// grow doubles the ring, its entries oldest first from 0. The window's
// size follows the load: it never shrinks, but holds at the most the
// window ever held (maxRecent at the most).
func (r *recentExchanges) grow() {
	ring := make([]recentExchange, max(1024, 2*len(r.ring)))
	k := copy(ring, r.ring[r.head:])
	copy(ring[k:], r.ring[:r.head])
	r.ring, r.head = ring, 0
}

func (r *recentExchanges) lookup(bank string, m *iso.Message) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keyOf(bank, m)
	// Newest first: a key sent again within the window is its new order's.
	// The ring's entries are at most two runs: from head to the end, and
	// from 0 on.
	first := r.ring[r.head:min(r.head+r.n, len(r.ring))]
	wrapped := r.ring[:r.n-len(first)]
	for _, run := range [2][]recentExchange{wrapped, first} {
		for i := len(run) - 1; i >= 0; i-- {
			if e := &run[i]; e.key == k {
				if e.id == [16]byte{} {
					return r.texts[recentText{e.key, e.at}]
				}
				return string(compact.AppendUUIDText(make([]byte, 0, 36), e.id[:]))
			}
		}
	}
	return ""
}

// OrderOf names the order a message from bank (its link's name) belongs
// to when it matches a request sent to that bank recently (a late or
// unmatched answer), or "".
func (s *Service) OrderOf(bank string, m *iso.Message) string { return s.recent.lookup(bank, m) }
