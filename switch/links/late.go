package links

import "time"

// lateKeys remembers the match keys of requests whose caller gave up, for
// window, so a response arriving afterwards is reported as late rather
// than unmatched. It holds at most max keys, forgetting the oldest first.
// Not safe for concurrent use: the link guards it with pendMu.
type lateKeys struct {
	window time.Duration
	max    int
	at     map[string]time.Time
	order  []lateEntry // FIFO by insertion time
}

type lateEntry struct {
	key string
	at  time.Time
}

func newLateKeys(window time.Duration, max int) *lateKeys {
	return &lateKeys{window: window, max: max, at: make(map[string]time.Time)}
}

func (s *lateKeys) add(key string, now time.Time) {
	s.expire(now)
	if len(s.order) >= s.max {
		s.drop(s.order[0])
		s.order = s.order[1:]
	}
	s.at[key] = now
	s.order = append(s.order, lateEntry{key, now})
}

// take reports whether key timed out within the window, and forgets it: a
// request gets at most one late response.
func (s *lateKeys) take(key string, now time.Time) bool {
	s.expire(now)
	_, ok := s.at[key]
	delete(s.at, key)
	return ok
}

func (s *lateKeys) forget(key string) { delete(s.at, key) }

func (s *lateKeys) expire(now time.Time) {
	i := 0
	for i < len(s.order) && now.Sub(s.order[i].at) > s.window {
		s.drop(s.order[i])
		i++
	}
	if i > 0 {
		s.order = append(s.order[:0:0], s.order[i:]...)
	}
}

// drop forgets e unless the key was added again since.
func (s *lateKeys) drop(e lateEntry) {
	if t, ok := s.at[e.key]; ok && t.Equal(e.at) {
		delete(s.at, e.key)
	}
}

func (s *lateKeys) len() int { return len(s.at) }
