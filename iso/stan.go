package iso

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const stanMax = 999999

// STANs generates systems trace audit numbers for one link: six digits,
// 000001 to 999999, then wrapping to 000001; never 000000, which many hosts
// reject. Safe for concurrent use.
type STANs struct {
	n atomic.Uint32
}

// NewSTANs returns a generator whose first STAN follows last (0 starts at 000001).
func NewSTANs(last uint32) *STANs {
	s := &STANs{}
	s.n.Store(last % stanMax)
	return s
}

// Next returns the next STAN.
func (s *STANs) Next() string {
	for {
		cur := s.n.Load()
		next := cur%stanMax + 1
		if s.n.CompareAndSwap(cur, next) {
			return fmt.Sprintf("%06d", next)
		}
	}
}

// RRNs generates retrieval reference numbers: 12 characters "ydddhhssssss",
// the last digit of the year, the day of the year, the hour (UTC), then a
// six-character sequence within the hour.
//
// Six decimal digits allow a million RRNs an hour, 277 a second; a switch
// that must carry thousands of authorizations a second would run out, so the
// sequence is base 36 (0-9, A-Z): two billion an hour. DE37 is "an 12", so
// hosts accept it.
//
// RRNs must stay unique across restarts. The generator reserves sequence
// numbers in blocks through Reserve, which a caller makes durable (the
// switch writes it to its store) before any number of the block is used;
// after a restart, Resume starts above the last reservation.
type RRNs struct {
	mu       sync.Mutex
	now      func() time.Time
	reserve  func(hour string, upto uint64) error
	block    uint64
	hour     string
	next     uint64
	reserved uint64
}

// RRNOptions configure an RRN generator. Zero values are safe defaults.
type RRNOptions struct {
	Now func() time.Time
	// Reserve durably records that sequence numbers up to upto of hour are
	// taken. Nil keeps reservations in memory only (tests, simulators).
	Reserve func(hour string, upto uint64) error
	// Block is how many numbers one reservation covers (default 1000).
	Block uint64
	// ResumeHour and ResumeUpto come from the last durable reservation.
	ResumeHour string
	ResumeUpto uint64
}

const rrnSeqMax = 36*36*36*36*36*36 - 1

// ErrRRNExhausted means the hour's sequence space is used up.
var ErrRRNExhausted = errors.New("iso: RRN sequence exhausted for this hour")

// NewRRNs returns an RRN generator.
func NewRRNs(o RRNOptions) *RRNs {
	g := &RRNs{now: o.Now, reserve: o.Reserve, block: o.Block}
	if g.now == nil {
		g.now = time.Now
	}
	if g.block == 0 {
		g.block = 1000
	}
	g.hour, g.next, g.reserved = o.ResumeHour, o.ResumeUpto+1, o.ResumeUpto
	return g
}

// RRNHour returns the "ydddhh" prefix of RRNs issued at t.
func RRNHour(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d%03d%02d", t.Year()%10, t.YearDay(), t.Hour())
}

// Next returns a new RRN.
func (g *RRNs) Next() (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	hour := RRNHour(g.now())
	if hour != g.hour {
		g.hour, g.next, g.reserved = hour, 1, 0
	}
	if g.next > rrnSeqMax {
		return "", ErrRRNExhausted
	}
	if g.next > g.reserved {
		upto := min(g.next+g.block-1, rrnSeqMax)
		if g.reserve != nil {
			if err := g.reserve(hour, upto); err != nil {
				return "", fmt.Errorf("iso: reserve RRN block: %w", err)
			}
		}
		g.reserved = upto
	}
	seq := g.next
	g.next++
	s := strconv.FormatUint(seq, 36)
	return hour + fmt.Sprintf("%06s", toUpper(s)), nil
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
