package keylock

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOneKeyWaitsOtherKeysDoNot(t *testing.T) {
	var k Mutexes
	unlockA := k.Lock("a")
	// Another key is free while a is held.
	unlockB, ok := k.TryLock("b")
	require.True(t, ok)
	unlockB()
	_, ok = k.TryLock("a")
	require.False(t, ok, "a is held")

	got, done := make(chan struct{}), make(chan struct{})
	go func() {
		unlock := k.Lock("a")
		close(got)
		unlock()
		close(done)
	}()
	select {
	case <-got:
		t.Fatal("a second Lock of a held key returned")
	default:
	}
	unlockA()
	<-got
	<-done
	require.Zero(t, k.size(), "no entry outlives its holders")
}

func TestManyHoldersLeaveNothing(t *testing.T) {
	var k Mutexes
	var wg sync.WaitGroup
	n := 0
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "k"
			if i%2 == 1 {
				key = "other"
			}
			unlock := k.Lock(key)
			if key == "k" {
				n++ // under k's lock: the race detector sees two holders at once
			}
			unlock()
			if u, ok := k.TryLock(key); ok {
				u()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 32, n)
	require.Zero(t, k.size())
}

func (k *Mutexes) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
