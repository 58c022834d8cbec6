package payments

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// The query indexes (order.BucketByTime, BucketByStatus, BucketByField;
// their layout is order's) change with the order in putOrder, so in the
// transaction of the change: an index never names a state the store does
// not hold. orders_by_time's value, the order's order.Row, also says which
// status and field keys the order had before a change, so a change
// deletes exactly those it no longer has without reading the old order.

// indexVersionKey in payments_meta holds the order.IndexVersion the
// indexes were built with.
var indexVersionKey = order.IndexVersionKey

// putIndexes brings o's index keys to o's state.
func putIndexes(tx *bolt.Tx, o *order.Order) error {
	row := order.RowOf(o)
	enc := row.Encode()
	tk, sk, fks := order.IndexKeys(o, row)
	byTime, byStatus, byField := tx.Bucket(bucketByTime), tx.Bucket(bucketByStatus), tx.Bucket(bucketByField)
	// Keyed by creation time under a merchant (and status): appended at a
	// few right ends, as the orders bucket (putOrder). The field index is
	// keyed by RRN, card digits and approval codes: inserted anywhere, it
	// keeps bbolt's default.
	byTime.FillPercent, byStatus.FillPercent = 0.9, 0.9
	old := byTime.Get(tk)
	if bytes.Equal(old, enc) {
		return nil
	}
	var prev order.Row
	hadRow := false
	if old != nil {
		if r, err := order.DecodeRow(old); err == nil {
			prev, hadRow = r, true
		}
	}
	if err := byTime.Put(tk, enc); err != nil {
		return err
	}
	if !hadRow || prev.Status != row.Status {
		if hadRow {
			if err := byStatus.Delete(order.StatusKey(o.Merchant, prev.Status, o.CreatedAt, o.ID)); err != nil {
				return err
			}
		}
		if err := byStatus.Put(sk, nil); err != nil {
			return err
		}
	}
	for _, f := range prev.Fields {
		if !row.Has(f.Field, f.Value) {
			if err := byField.Delete(order.FieldKey(o.Merchant, f, o.CreatedAt, o.ID)); err != nil {
				return err
			}
		}
	}
	for i, f := range row.Fields {
		// A Put of a key already there still rewrites its page: only
		// the new values are written.
		if hadRow && prev.Has(f.Field, f.Value) {
			continue
		}
		if err := byField.Put(fks[i], nil); err != nil {
			return err
		}
	}
	return nil
}

// rebuildBatch is how many orders one transaction of a rebuild indexes:
// a rebuild of millions of orders must not hold them all in one
// transaction's dirty pages.
const rebuildBatch = 5000

// ensureIndexes builds the query indexes from the orders when they were
// built with another layout or never (a data file from before them): all
// three are dropped and made again.
func (s *Store) ensureIndexes() error {
	var have []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		have = append(have, tx.Bucket(bucketMeta).Get(indexVersionKey)...)
		return nil
	}); err != nil {
		return err
	}
	want := binary.BigEndian.AppendUint32(nil, order.IndexVersion)
	if bytes.Equal(have, want) {
		return nil
	}
	return s.RebuildIndexes()
}

// RebuildIndexes makes the query indexes again from the orders bucket alone,
// in transactions of a few thousand orders. The switch must not be writing
// (New runs it before the service starts, when the indexes are missing or
// of another version).
//
// orders_by_time is dropped with the others: its keys in another layout
// are not those the orders make now (layout 1 kept a UUID's text where 2
// packs it), so deleting each order's key as this build makes it would
// leave the old one behind. The version is deleted in the same
// transaction and written only when every order is indexed: a rebuild
// cut short starts again from empty indexes at the next open.
func (s *Store) RebuildIndexes() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketByTime, bucketByStatus, bucketByField} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(indexVersionKey)
	})
	if err != nil {
		return fmt.Errorf("rebuild indexes: %w", err)
	}
	var after []byte
	for done := false; !done; {
		err := s.db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketOrders).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for n := 0; n < rebuildBatch; n++ {
				if k == nil {
					done = true
					return nil
				}
				o, err := order.Decode(v)
				if err != nil {
					return fmt.Errorf("decode order %q: %w", k, err)
				}
				if err := putIndexes(tx, o); err != nil {
					return fmt.Errorf("order %q: %w", k, err)
				}
				after = append(after[:0], k...)
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rebuild indexes: %w", err)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(indexVersionKey, binary.BigEndian.AppendUint32(nil, order.IndexVersion))
	})
}

// indexDiffs compares the indexes with what the orders given say they must
// hold: every key present with its value, and no other key. It reads in one
// transaction; orders is every order of the store.
func (s *Store) indexDiffs(orders map[string]*order.Order) ([]string, error) {
	var diffs []string
	err := s.db.View(func(tx *bolt.Tx) error {
		byTime, byStatus, byField := tx.Bucket(bucketByTime), tx.Bucket(bucketByStatus), tx.Bucket(bucketByField)
		want := [3]int{}
		for _, o := range orders {
			row := order.RowOf(o)
			tk, sk, fks := order.IndexKeys(o, row)
			want[0]++
			want[1]++
			want[2] += len(fks)
			if v := byTime.Get(tk); !bytes.Equal(v, row.Encode()) {
				diffs = append(diffs, fmt.Sprintf("order %s: orders_by_time row %x, want %x", o.ID, v, row.Encode()))
			}
			if v := byStatus.Get(sk); v == nil && !hasKey(byStatus, sk) {
				diffs = append(diffs, fmt.Sprintf("order %s: not in orders_by_status under status %d", o.ID, row.Status))
			}
			for i, fk := range fks {
				if !hasKey(byField, fk) {
					diffs = append(diffs, fmt.Sprintf("order %s: not in orders_by_field under %c %s", o.ID, row.Fields[i].Field, row.Fields[i].Value))
				}
			}
		}
		for i, b := range []*bolt.Bucket{byTime, byStatus, byField} {
			if n := b.Stats().KeyN; n != want[i] {
				diffs = append(diffs, fmt.Sprintf("%s holds %d keys, the orders make %d", [][]byte{bucketByTime, bucketByStatus, bucketByField}[i], n, want[i]))
			}
		}
		return nil
	})
	return diffs, err
}

// hasKey tells a key stored with a nil value from an absent one.
func hasKey(b *bolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return bytes.Equal(got, k)
}
