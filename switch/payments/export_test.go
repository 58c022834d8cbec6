package payments

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// WriteOrders writes orders straight into the store's buckets, indexes
// included, as a commit's putOrder does but without the journal: tests
// and benchmarks build stores of a million orders with it in a minute.
func WriteOrders(tx *bolt.Tx, orders []*order.Order) error {
	for _, o := range orders {
		data, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if err := putOrder(tx, o, data, o.Version); err != nil {
			return err
		}
	}
	return nil
}

// IndexDiffs is the store's index check against orders.
func (s *Store) IndexDiffs(orders map[string]*order.Order) ([]string, error) {
	return s.indexDiffs(orders)
}
