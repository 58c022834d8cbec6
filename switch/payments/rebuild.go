package payments

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/order"

	"github.com/tulpar-switch/tulpar/switch/journal"
)

// Rebuild reads the journal alone and returns every order's last state.
// Each state change is journaled as a whole order, so the last state entry
// of an order is the order.
func Rebuild(j *journal.Journal) (map[string]*order.Order, error) {
	out := map[string]*order.Order{}
	err := j.Iterate(1, func(e journal.Entry) error {
		if e.Channel != order.ChannelState {
			return nil
		}
		o, err := order.Decode(e.Payload)
		if err != nil {
			return fmt.Errorf("payments: rebuild: entry %d: %w", e.Seq, err)
		}
		out[o.ID] = o
		return nil
	})
	return out, err
}

// Diff compares rebuilt orders with the store and describes each order
// that differs or exists on one side only, and then the store's query
// indexes with those the rebuilt orders make (every key there with its
// row, no key more).
func Diff(rebuilt map[string]*order.Order, store *Store) ([]string, error) {
	var diffs []string
	seen := map[string]bool{}
	err := store.All(func(o *order.Order) error {
		seen[o.ID] = true
		r, ok := rebuilt[o.ID]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("order %s: in the store, not in the journal", o.ID))
			return nil
		}
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(o)
		if !bytes.Equal(a, b) {
			diffs = append(diffs, fmt.Sprintf("order %s: store (version %d, status %d) differs from journal (version %d, status %d)",
				o.ID, o.Version, o.Status, r.Version, r.Status))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id := range rebuilt {
		if !seen[id] {
			diffs = append(diffs, fmt.Sprintf("order %s: in the journal, not in the store", id))
		}
	}
	idx, err := store.indexDiffs(rebuilt)
	if err != nil {
		return nil, err
	}
	return append(diffs, idx...), nil
}
