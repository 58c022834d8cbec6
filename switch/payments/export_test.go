package payments

import (
	"encoding/json"
	"fmt"
	"reflect"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Every order the cache serves in this package's tests, whichever flow
// reads it, is checked against the decoding of the bytes it was served
// for, and every order a commit encodes against json.Marshal.
func init() {
	checkCached = func(data []byte, o *order.Order) {
		want, err := order.Decode(data)
		if err != nil || !reflect.DeepEqual(want, o) {
			panic(fmt.Sprintf("payments: the cache served order %s unlike its stored JSON (%v)", o.ID, err))
		}
	}
	checkEncoded = func(o *order.Order, data []byte) {
		want, err := json.Marshal(o)
		if err != nil || string(want) != string(data) {
			panic(fmt.Sprintf("payments: order %s encoded unlike json.Marshal (%v)", o.ID, err))
		}
	}
}

// WriteOrders writes orders straight into the store's buckets, indexes
// included, as a commit's putOrder does but without the journal: tests
// and benchmarks build stores of a million orders with it in a minute.
func WriteOrders(tx *bolt.Tx, orders []*order.Order) error {
	for _, o := range orders {
		data, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if err := putOrder(tx, nil, o, data, o.Version); err != nil {
			return err
		}
	}
	return nil
}

// IndexDiffs is the store's index check against orders.
func (s *Store) IndexDiffs(orders map[string]*order.Order) ([]string, error) {
	return s.indexDiffs(orders)
}
