package throttle_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/throttle"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBurstThenRate(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	l, err := throttle.New(throttle.Config{PerMinute: 6, Burst: 2}, c.now)
	require.NoError(t, err)
	for range 2 {
		_, _, ok := l.Take("203.0.113.5")
		require.True(t, ok)
	}
	_, wait, ok := l.Take("203.0.113.5")
	require.False(t, ok, "the burst is spent")
	require.Equal(t, 10*time.Second, wait, "six a minute: one every ten seconds")
	_, _, ok = l.Take("198.51.100.7")
	require.True(t, ok, "another address has its own bucket")

	c.add(5 * time.Second)
	_, wait, ok = l.Take("203.0.113.5")
	require.False(t, ok, "a refusal spends nothing, and half a token is not one")
	require.Equal(t, 5*time.Second, wait)
	c.add(5 * time.Second)
	ticket, _, ok := l.Take("203.0.113.5")
	require.True(t, ok)
	c.add(2 * time.Second) // what it was spent on takes its time (0.2 of a token comes meanwhile)
	ticket.Return()        // and did not happen after all
	ticket.Return()        // once only
	_, _, ok = l.Take("203.0.113.5")
	require.True(t, ok, "the returned token is there again")
	_, wait, ok = l.Take("203.0.113.5")
	require.False(t, ok, "and only that one")
	require.Equal(t, 8*time.Second, wait, "0.2 of a token is there: 0.8 to go")
}

func TestOff(t *testing.T) {
	l, err := throttle.New(throttle.Config{Off: true}, nil)
	require.NoError(t, err)
	for range 100 {
		tk, _, ok := l.Take("203.0.113.5")
		require.True(t, ok)
		tk.Return()
	}
	require.NoError(t, throttle.Config{Off: true}.Validate("x"))
}

func TestKeysBounded(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	l, err := throttle.New(throttle.Config{PerMinute: 1, Burst: 1}, c.now)
	require.NoError(t, err)
	for i := range 70000 {
		_, _, ok := l.Take(fmt.Sprintf("k%d", i))
		require.True(t, ok)
	}
	require.LessOrEqual(t, l.Len(), 1<<16, "a flood of addresses does not grow the set without end")
	c.add(time.Minute) // every bucket full again: all may go
	_, _, ok := l.Take("new")
	require.True(t, ok)
}

func TestValidateNamesTheField(t *testing.T) {
	require.NoError(t, throttle.Config{PerMinute: 1, Burst: 1}.Validate("hpp.card_attempts"))
	require.EqualError(t, throttle.Config{PerMinute: 0, Burst: 1}.Validate("hpp.card_attempts"), "hpp.card_attempts.per_minute: 0: must be positive")
	require.EqualError(t, throttle.Config{PerMinute: 1, Burst: -2}.Validate("x"), "x.burst: -2: must be positive")
}

// TestExempt: a call centre keying in phone orders, or a NAT the operator
// knows, is not limited; its neighbours are.
func TestExempt(t *testing.T) {
	l, err := throttle.New(throttle.Config{PerMinute: 1, Burst: 1,
		Exempt: []string{"203.0.113.0/28", "2001:db8:5::7", "::ffff:198.51.100.0/120"}}, nil)
	require.NoError(t, err)
	for _, host := range []string{"203.0.113.9", "::ffff:203.0.113.1", "2001:db8:5::7", "198.51.100.200"} {
		for range 5 {
			tk, _, ok := l.Take(host)
			require.True(t, ok, host)
			require.Nil(t, tk, "nothing spent for %s", host)
		}
	}
	for _, host := range []string{"203.0.113.16", "2001:db8:5::8", "198.51.101.1"} {
		_, _, ok := l.Take(host)
		require.True(t, ok, host)
		_, _, ok = l.Take(host)
		require.False(t, ok, "%s is not exempt", host)
	}
	_, _, ok := l.Take("2001:db8:5::9")
	require.False(t, ok, "the rest of 2001:db8:5::7's /64 is not exempt, and shares its bucket with ::8")

	require.NoError(t, throttle.Config{Exempt: []string{"10.0.0.0/8"}}.Validate("x"), "exempt with the default rate")
	err = throttle.Config{PerMinute: 1, Burst: 1, Exempt: []string{"10.0.0.1", "call centre", "0.0.0.0/0", "::ffff:0.0.0.0/96", "::ffff:0.0.0.0/95"}}.Validate("hpp.card_attempts")
	require.EqualError(t, err, `hpp.card_attempts.exempt[1]: "call centre": not an address or a CIDR prefix
hpp.card_attempts.exempt[2]: "0.0.0.0/0": exempts every client; say off: true
hpp.card_attempts.exempt[3]: "::ffff:0.0.0.0/96": exempts every client; say off: true
hpp.card_attempts.exempt[4]: "::ffff:0.0.0.0/95": an IPv4-mapped prefix shorter than /96`)
	_, err = throttle.New(throttle.Config{}, nil)
	require.Error(t, err, "a limiter needs its rate")
}
