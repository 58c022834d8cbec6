package authguard

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newGuard(t *testing.T, cfg Config) (*Guard, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.Now
	g, err := New(cfg, "test", nil)
	require.NoError(t, err)
	return g, c
}

// Three wrong passwords lock the credential for thirty minutes (the
// cabinet's rule); the lock says how long is left, lifts on time, and a
// success clears the count.
func TestLockoutAndExpiry(t *testing.T) {
	g, c := newGuard(t, Config{MaxFailures: 3, LockFor: 30 * time.Minute})
	for i := range 2 {
		_, ok := g.Allow("user:a", "10.0.0.1")
		require.True(t, ok, "try %d", i+1)
		require.Zero(t, g.Failed("user:a", "10.0.0.1"))
	}
	require.Equal(t, 30*time.Minute, g.Failed("user:a", "10.0.0.1"), "the third failure locks")
	c.add(10 * time.Minute)
	wait, ok := g.Allow("user:a", "10.0.0.2")
	require.False(t, ok, "locked from any address")
	require.Equal(t, 20*time.Minute, wait)
	_, ok = g.Allow("user:b", "10.0.0.1")
	require.True(t, ok, "other credentials are not locked")
	c.add(20 * time.Minute)
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.True(t, ok, "the lock lifts")

	g.Failed("user:a", "10.0.0.1")
	g.Succeeded("user:a", "10.0.0.3")
	g.Failed("user:a", "10.0.0.1")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.True(t, ok)
	g.Failed("user:a", "10.0.0.1")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.False(t, ok, "a success between the failures does not forget them: a guesser could hide behind a busy shop")
	_, ok = g.Allow("user:a", "10.0.0.3")
	require.True(t, ok, "the address that signed in is spared")
	g.Unlock("user:a")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.True(t, ok, "an operator unlocks")
	g.Failed("user:a", "10.0.0.1")
	g.Failed("user:a", "10.0.0.1")
	c.add(16 * time.Minute)
	g.Failed("user:a", "10.0.0.1")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.True(t, ok, "failures age out after the window (15 minutes)")
}

// A merchant whose login an attacker locks on purpose keeps signing in
// from the address it signed in from before; every other address stays
// locked, the known one's success does not lift the lock, and an address
// is known only for KnownFor.
func TestKnownAddressOutlivesLock(t *testing.T) {
	g, c := newGuard(t, Config{MaxFailures: 3, LockFor: time.Hour, KnownFor: 24 * time.Hour})
	g.Succeeded("user:shop", "203.0.113.10")
	for range 3 {
		g.Failed("user:shop", "198.51.100.66")
	}
	_, ok := g.Allow("user:shop", "198.51.100.66")
	require.False(t, ok, "the guesser is locked out")
	_, ok = g.Allow("user:shop", "192.0.2.1")
	require.False(t, ok, "so is any other address")
	_, ok = g.Allow("user:shop", "203.0.113.10")
	require.True(t, ok, "the shop's server is not")
	g.Succeeded("user:shop", "203.0.113.10")
	_, ok = g.Allow("user:shop", "198.51.100.66")
	require.False(t, ok, "the shop's sign-in does not unlock the guesser")
	_, ok = g.Allow("user:other", "203.0.113.10")
	require.True(t, ok)

	c.add(25 * time.Hour) // the lock is over; the address is no longer known
	for range 3 {
		g.Failed("user:shop", "198.51.100.66")
	}
	_, ok = g.Allow("user:shop", "203.0.113.10")
	require.False(t, ok, "known for a day only")
}

// Each credential remembers its most recent addresses only.
func TestKnownAddressesAreBounded(t *testing.T) {
	g, _ := newGuard(t, Config{MaxFailures: 1})
	for i := range maxKnown + 1 {
		g.Succeeded("user:shop", fmt.Sprintf("10.1.0.%d", i))
	}
	g.Failed("user:shop", "198.51.100.66")
	_, ok := g.Allow("user:shop", "10.1.0.0")
	require.False(t, ok, "the oldest address gave way")
	_, ok = g.Allow("user:shop", fmt.Sprintf("10.1.0.%d", maxKnown))
	require.True(t, ok)
	require.Len(t, g.known["user:shop"], maxKnown)
}

// A guesser spreading over many user names is stopped by address.
func TestAddressLimit(t *testing.T) {
	g, c := newGuard(t, Config{AddressFailuresPerMinute: 6, AddressBurst: 3})
	for i := range 3 {
		_, ok := g.Allow("user:"+string(rune('a'+i)), "10.0.0.9")
		require.True(t, ok)
		g.Failed("user:"+string(rune('a'+i)), "10.0.0.9")
	}
	wait, ok := g.Allow("user:z", "10.0.0.9")
	require.False(t, ok, "the address has spent its failures")
	require.Equal(t, 10*time.Second, wait, "one failure back every 10 s at 6 a minute")
	_, ok = g.Allow("user:z", "10.0.0.10")
	require.True(t, ok, "another address is not limited")
	c.add(10 * time.Second)
	_, ok = g.Allow("user:z", "10.0.0.9")
	require.True(t, ok)
}

// Password checks run in bounded slots: when they are all taken past the
// wait, the caller hears busy at once rather than queueing without bound.
func TestCheckIsBounded(t *testing.T) {
	g, _ := newGuard(t, Config{MaxHashing: 2, HashWait: 20 * time.Millisecond})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := g.Check(context.Background(), func() bool { started <- struct{}{}; <-release; return true })
			require.NoError(t, err)
			require.True(t, ok)
		}()
	}
	<-started
	<-started
	_, err := g.Check(context.Background(), func() bool { return true })
	require.ErrorIs(t, err, ErrBusy)
	close(release)
	wg.Wait()
	ok, err := g.Check(context.Background(), func() bool { return false })
	require.NoError(t, err)
	require.False(t, ok)
}
