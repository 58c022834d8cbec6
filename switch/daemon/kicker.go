package daemon

import (
	"sync"
	"time"
)

// kicker hurries a bank's store-and-forward queue (saf.Queue.Kick: its
// head is tried now, backoff or not) when a connection of the bank's link
// signs on, at most once a gap per bank. A connection that flaps in a pool
// that otherwise works must not hurry the queue past its backoff more
// often than that; a sign-on inside the gap is kicked at the gap's end,
// not lost, since it may be the bank coming back.
type kicker struct {
	gap  time.Duration
	kick func(bank string)

	mu      sync.Mutex
	last    map[string]time.Time
	pending map[string]bool
}

func newKicker(gap time.Duration, kick func(bank string)) *kicker {
	return &kicker{gap: gap, kick: kick, last: map[string]time.Time{}, pending: map[string]bool{}}
}

// signedOn is links.Deps.OnSignedOn: it never blocks.
func (k *kicker) signedOn(bank string) {
	k.mu.Lock()
	now := time.Now()
	next := k.last[bank].Add(k.gap)
	if now.Before(next) {
		if !k.pending[bank] {
			k.pending[bank] = true
			time.AfterFunc(next.Sub(now), func() { k.fire(bank) })
		}
		k.mu.Unlock()
		return
	}
	k.last[bank] = now
	k.mu.Unlock()
	k.kick(bank)
}

// fire is a kick held back to the end of its gap.
func (k *kicker) fire(bank string) {
	k.mu.Lock()
	k.pending[bank] = false
	k.last[bank] = time.Now()
	k.mu.Unlock()
	k.kick(bank)
}
