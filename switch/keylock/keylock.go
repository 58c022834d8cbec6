// Package keylock serialises work on one key (an order, a payment link)
// while work on different keys runs in parallel. A key's lock exists only
// while someone holds or waits for it, so the set stays as small as the
// work in flight.
package keylock

import "sync"

// Mutexes is a mutex per key. The zero value is ready to use; it must not
// be copied after first use.
type Mutexes struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	mu   sync.Mutex
	refs int // holders and waiters: the entry leaves m at zero
}

// Lock waits for key's lock and returns its unlock.
func (k *Mutexes) Lock(key string) (unlock func()) {
	k.mu.Lock()
	e := k.entry(key)
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() { k.release(key, e) }
}

// TryLock is Lock when key is free now; ok is false, and nothing waits,
// when another holds it.
func (k *Mutexes) TryLock(key string) (unlock func(), ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.entry(key)
	if !e.mu.TryLock() {
		return nil, false // held: its holder's refs keep e in m
	}
	e.refs++
	return func() { k.release(key, e) }, true
}

// entry is key's lock, made if there is none; the caller holds k.mu.
func (k *Mutexes) entry(key string) *entry {
	if k.m == nil {
		k.m = map[string]*entry{}
	}
	e := k.m[key]
	if e == nil {
		e = &entry{}
		k.m[key] = e
	}
	return e
}

func (k *Mutexes) release(key string, e *entry) {
	e.mu.Unlock()
	k.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(k.m, key)
	}
	k.mu.Unlock()
}
