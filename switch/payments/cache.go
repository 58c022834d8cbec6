package payments

import (
	"bytes"
	"sync"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// orderCacheSize bounds the cache: orders of the payments in flight and
// just finished (a payment's steps follow each other within a second or
// two), a few KB each; every cached order is heap the collector marks.
const orderCacheSize = 1024

// orderCache keeps, for the orders this process committed last, the value
// it stored (order.StoreValue) and the order it decodes to, so that
// reading an order after its change does not decode the change again (a
// payment reads its order at every step: card entry, completion, refund,
// the callbacks), and the next change learns the stored version without
// decoding it.
//
// The store stays the truth: an entry serves a read only while its bytes
// are, byte for byte, those the store holds in the reader's transaction.
// Entries are filled once a commit succeeded; one overtaken by a later
// change, or by a commit whose outcome the journal could not tell, holds
// other bytes than the store and serves nothing, so nothing needs
// invalidating, and a reader whose transaction began before a commit
// still reads the order it saw.
type orderCache struct {
	mu sync.Mutex
	m  map[string]*cachedOrder
	// ids holds the cached ids in the order they came in, oldest at
	// next, which the next new id evicts. Picking a victim by ranging
	// over m instead costs a scan of a map that churns.
	ids  [orderCacheSize]string
	next int
}

// cachedOrder is never changed once in the cache: a change replaces it.
type cachedOrder struct {
	data    []byte
	version uint64
	// o is what data decodes to (order.Order.CopyDecoded of the committed
	// order), nil when the copy could not mirror the decoding; readers
	// get copies of it.
	o *order.Order
}

// checkCached, when set (by the package's tests), checks each order the
// cache serves against the decoding of its bytes.
var checkCached func(data []byte, o *order.Order)

func newOrderCache() *orderCache {
	return &orderCache{m: make(map[string]*cachedOrder, orderCacheSize)}
}

func (c *orderCache) lookup(id string, stored []byte) *cachedOrder {
	if c == nil || stored == nil {
		return nil
	}
	c.mu.Lock()
	e := c.m[id]
	c.mu.Unlock()
	if e == nil || !bytes.Equal(e.data, stored) {
		return nil
	}
	return e
}

// order returns the order whose store value is stored, or nil when the
// cache does not hold it.
func (c *orderCache) order(id string, stored []byte) *order.Order {
	e := c.lookup(id, stored)
	if e == nil || e.o == nil {
		return nil
	}
	o, ok := e.o.CopyDecoded()
	if !ok {
		return nil
	}
	if checkCached != nil {
		checkCached(stored, o)
	}
	return o
}

// version returns the version of the order whose store value is stored.
func (c *orderCache) version(id string, stored []byte) (uint64, bool) {
	if e := c.lookup(id, stored); e != nil {
		return e.version, true
	}
	return 0, false
}

// committed records o, stored as data by a commit that succeeded. It runs
// before the committing flow changes o again.
func (c *orderCache) committed(o *order.Order, data []byte) {
	e := &cachedOrder{data: data, version: o.Version}
	if cp, ok := o.CopyDecoded(); ok {
		e.o = cp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[o.ID]; !ok {
		delete(c.m, c.ids[c.next]) // "" while the ring fills: absent
		c.ids[c.next] = o.ID
		c.next = (c.next + 1) % orderCacheSize
	}
	c.m[o.ID] = e
}
