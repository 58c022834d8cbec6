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

// recentKeyOf is bank and match key: each bank numbers its own STANs (all
// from the same clock seed) and names its own terminals, so the match key
// alone is shared by two banks' messages often.
func recentKeyOf(bank string, m *iso.Message) string { return bank + "|" + iso.MatchKey(m) }

func (r *recentExchanges) add(bank string, m *iso.Message, orderID string, now time.Time) {
	k := recentKeyOf(bank, m)
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

func (r *recentExchanges) lookup(bank string, m *iso.Message) string {
	k := recentKeyOf(bank, m)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byKey[k].orderID
}

// OrderOf names the order a message from bank (its link's name) belongs
// to when it matches a request sent to that bank recently (a late or
// unmatched answer), or "".
func (s *Service) OrderOf(bank string, m *iso.Message) string { return s.recent.lookup(bank, m) }
