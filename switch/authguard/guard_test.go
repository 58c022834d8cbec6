package authguard

import (
	"context"
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
	g.Succeeded("user:a")
	g.Failed("user:a", "10.0.0.1")
	g.Failed("user:a", "10.0.0.1")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.True(t, ok, "a success forgot the earlier failure")
	g.Failed("user:a", "10.0.0.1")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.False(t, ok)
	g.Unlock("user:a")
	_, ok = g.Allow("user:a", "10.0.0.1")
	require.True(t, ok, "an operator unlocks")
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
