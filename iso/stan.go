package iso

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// RRNs generates retrieval reference numbers, unique across restarts, in
// one of two 12-character forms (RRNFormat).
//
// RRNs must stay unique across restarts. The generator reserves sequence
// numbers in blocks through Reserve, which a caller makes durable (the
// switch writes it to its store) before any number of the block is used;
// after a restart, Resume starts above the last reservation.
//
// The next block is reserved ahead, in the background, when half of the
// current one is used: a reservation is a durable write (an fsync), and
// made inline it held every payment of the switch behind the mutex for
// its duration, once a block. Next waits only when the numbers run out
// before the reservation ahead is done.
type RRNs struct {
	mu       sync.Mutex
	now      func() time.Time
	format   RRNFormat
	reserve  func(period string, upto uint64) error
	block    uint64
	period   string
	next     uint64
	reserved uint64
	// ahead is set while a reservation runs in the background; done is
	// closed when it ends.
	ahead bool
	done  chan struct{}
}

// RRNFormat is how an RRN is spelled.
type RRNFormat int

const (
	// RRNDecimal is "ydddnnnnnnnn": the last digit of the year, the day of
	// the year (UTC), then an eight-digit sequence within the day. Twelve
	// digits, as banks, their reconciliation files and the merchant
	// cabinets that show RRNs expect; 99,999,999 a day is above a day at
	// any rate this switch sustains (about 1,150 a second around the clock,
	// and a peak may run far above that as long as the day's total fits).
	RRNDecimal RRNFormat = iota
	// RRNBase36 is "ydddhhssssss": year digit, day, hour (UTC), then a
	// six-character base-36 sequence (0-9, A-Z) within the hour: two
	// billion an hour. DE37 is "an 12", so a bank whose dialect allows
	// letters may take it.
	RRNBase36
)

// ParseRRNFormat reads a config value: "decimal" (or empty) or "base36".
func ParseRRNFormat(s string) (RRNFormat, error) {
	switch s {
	case "", "decimal":
		return RRNDecimal, nil
	case "base36":
		return RRNBase36, nil
	}
	return 0, fmt.Errorf("RRN format %q: must be decimal or base36", s)
}

func (f RRNFormat) String() string {
	if f == RRNBase36 {
		return "base36"
	}
	return "decimal"
}

// RRNOptions configure an RRN generator. Zero values are safe defaults.
type RRNOptions struct {
	Now    func() time.Time
	Format RRNFormat
	// Reserve durably records that sequence numbers up to upto of period
	// are taken. Nil keeps reservations in memory only (tests, simulators).
	Reserve func(period string, upto uint64) error
	// Block is how many numbers one reservation covers (default 1000).
	Block uint64
	// ResumePeriod and ResumeUpto come from the last durable reservation.
	ResumePeriod string
	ResumeUpto   uint64
}

const (
	rrnBase36Max  = 36*36*36*36*36*36 - 1
	rrnDecimalMax = 99_999_999
)

// ErrRRNExhausted means the period's sequence space is used up.
var ErrRRNExhausted = errors.New("iso: RRN sequence exhausted for this period")

// NewRRNs returns an RRN generator.
func NewRRNs(o RRNOptions) *RRNs {
	g := &RRNs{now: o.Now, format: o.Format, reserve: o.Reserve, block: o.Block}
	if g.now == nil {
		g.now = time.Now
	}
	if g.block == 0 {
		g.block = 1000
	}
	g.period, g.next, g.reserved = o.ResumePeriod, o.ResumeUpto+1, o.ResumeUpto
	return g
}

// reserveAhead makes the block up to upto of period durable in the
// background. The caller holds mu. A failure is only logged by the next
// inline reservation's error: the numbers already reserved stay good.
func (g *RRNs) reserveAhead(period string, upto uint64) {
	g.ahead, g.done = true, make(chan struct{})
	go func() {
		err := g.reserve(period, upto)
		g.mu.Lock()
		defer g.mu.Unlock()
		if err == nil && g.period == period && upto > g.reserved {
			g.reserved = upto
		}
		g.ahead = false
		close(g.done)
	}()
}

// Settle waits for a reservation running in the background to end, so
// that what Reserve recorded is the last word (a clean stop, tests).
func (g *RRNs) Settle() {
	g.mu.Lock()
	done, ahead := g.done, g.ahead
	g.mu.Unlock()
	if ahead {
		<-done
	}
}

// RRNPeriod returns the prefix of RRNs issued at t in format f: "yddd"
// (decimal) or "ydddhh" (base 36).
func RRNPeriod(f RRNFormat, t time.Time) string {
	t = t.UTC()
	if f == RRNBase36 {
		return fmt.Sprintf("%d%03d%02d", t.Year()%10, t.YearDay(), t.Hour())
	}
	return fmt.Sprintf("%d%03d", t.Year()%10, t.YearDay())
}

// Next returns a new RRN.
func (g *RRNs) Next() (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	period := RRNPeriod(g.format, g.now())
	if period != g.period {
		g.period, g.next, g.reserved = period, 1, 0
	}
	max := uint64(rrnDecimalMax)
	if g.format == RRNBase36 {
		max = rrnBase36Max
	}
	if g.next > max {
		return "", ErrRRNExhausted
	}
	for g.next > g.reserved && g.ahead {
		// The block ran out before the reservation ahead was durable:
		// wait for it rather than hand out a number it does not cover.
		done := g.done
		g.mu.Unlock()
		<-done
		g.mu.Lock()
		if p := RRNPeriod(g.format, g.now()); p != g.period {
			g.period, g.next, g.reserved = p, 1, 0
			period = p
		}
	}
	if g.next > g.reserved {
		upto := min(g.next+g.block-1, max)
		if g.reserve != nil {
			if err := g.reserve(period, upto); err != nil {
				return "", fmt.Errorf("iso: reserve RRN block: %w", err)
			}
		}
		g.reserved = upto
	}
	if g.reserve != nil && !g.ahead && g.reserved < max && g.reserved-g.next < g.block/2 {
		g.reserveAhead(period, min(g.reserved+g.block, max))
	}
	seq := g.next
	g.next++
	if g.format == RRNBase36 {
		return period + fmt.Sprintf("%06s", strings.ToUpper(strconv.FormatUint(seq, 36))), nil
	}
	return period + fmt.Sprintf("%08d", seq), nil
}
