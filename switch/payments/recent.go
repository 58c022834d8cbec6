package payments

import (
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// recentExchanges remembers, for a while after each message is sent, which
// order it was for, so that an answer arriving after its exchange gave up
// (or one no exchange was waiting for) is journaled with its order and
// shows in the order's history. Memory only, bounded: an answer later than
// the window is still journaled, without its order.
type recentExchanges struct {
	mu     sync.Mutex
	window time.Duration
	byKey  map[string]recentExchange
	queue  []recentKey // oldest first, for pruning
}

type recentExchange struct {
	orderID string
	at      time.Time
}

type recentKey struct {
	key string
	at  time.Time
}

// maxRecent bounds the memory a burst can take: at 2,000 exchanges a
// second it still covers several minutes.
const maxRecent = 1 << 20

func (r *recentExchanges) add(m *iso.Message, orderID string, now time.Time) {
	k := iso.MatchKey(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey == nil {
		r.byKey = map[string]recentExchange{}
	}
	drop := 0
	for ; drop < len(r.queue); drop++ {
		old := r.queue[drop]
		if now.Sub(old.at) < r.window && len(r.queue)-drop < maxRecent {
			break
		}
		// A key sent again since (a STAN that wrapped) keeps its newer entry.
		if e := r.byKey[old.key]; e.at.Equal(old.at) {
			delete(r.byKey, old.key)
		}
	}
	r.queue = append(r.queue[drop:], recentKey{k, now})
	r.byKey[k] = recentExchange{orderID, now}
}

func (r *recentExchanges) lookup(m *iso.Message) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byKey[iso.MatchKey(m)].orderID
}

// OrderOf names the order a bank's message belongs to when it matches a
// request sent recently (a late or unmatched answer), or "".
func (s *Service) OrderOf(m *iso.Message) string { return s.recent.lookup(m) }
