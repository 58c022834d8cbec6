package payments

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"

	bolt "go.etcd.io/bbolt"
)

// The order store lives in the same bbolt file as the journal and the SAF
// queue. One file is a measured choice: an order's change, its journal
// entries and a queued reversal commit in one transaction and one fsync, so
// no crash can separate them, and group commit amortises that fsync over
// every concurrent payment.
var (
	bucketOrders   = order.BucketOrders         // id → order JSON
	bucketByNumber = []byte("orders_by_number") // merchant \x00 number → id
	bucketByTime   = order.BucketByTime         // merchant \x00 created (8 bytes) id (order.AppendIDTail) → the order's index row
	bucketByStatus = order.BucketByStatus       // merchant \x00 status created id → nil
	bucketByField  = order.BucketByField        // merchant \x00 field value \x00 created id → nil
	bucketPending  = []byte("orders_pending")   // id → nil, while an exchange's outcome is unknown
	bucketOpen     = []byte("orders_open")      // id → expiry (8 bytes), while awaiting payment
	bucketMeta     = order.BucketStoreMeta      // small durable counters (RRN reservations, index version)
	bucketCards    = []byte("cards_by_id")      // merchant \x00 card id → id of the order that stored it
	// The stored cards' indexes, written with the order that holds each
	// card: a customer's cards (RBS getBindings) and a card number's
	// (getBindingsByCardOrId), by its hsm token, never the PAN.
	bucketCardsByClient = []byte("cards_by_client") // merchant \x00 client id \x00 card id → nil
	bucketCardsByToken  = []byte("cards_by_token")  // merchant \x00 token \x00 card id → nil
)

// metaCardIndexes marks, in payments_meta, a data file whose stored
// cards are all in the card indexes.
var metaCardIndexes = []byte("card_indexes")

// ErrConflict is returned when an order changed under a write.
var ErrConflict = errors.New("order changed concurrently")

// Store reads and writes orders. Writes happen inside the journal's
// transactions (see Service); reads are plain bbolt views.
type Store struct {
	db    journal.Transactor
	cache *orderCache
}

// NewStore creates the store's buckets if needed.
func NewStore(db journal.Transactor) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOrders, bucketByNumber, bucketByTime, bucketByStatus, bucketByField, bucketPending, bucketOpen, bucketMeta, bucketCards,
			bucketCardsByClient, bucketCardsByToken} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		return indexEarlierCards(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("payments: order store: %w", err)
	}
	s := &Store{db: storeDB{db}, cache: newOrderCache()}
	if err := s.ensureIndexes(); err != nil {
		return nil, fmt.Errorf("payments: order store: %w", err)
	}
	return s, nil
}

// storeDB marks the data file's own failures (closed, or closed while the
// journal reopens it and cannot) with ErrStorage, so a read answers
// "temporarily unavailable" as a write does, not "internal error".
type storeDB struct{ db journal.Transactor }

func (d storeDB) View(fn func(*bolt.Tx) error) error   { return storageErr(d.db.View(fn)) }
func (d storeDB) Update(fn func(*bolt.Tx) error) error { return storageErr(d.db.Update(fn)) }

// Get returns the order with id.
func (s *Store) Get(id string) (*order.Order, error) {
	var o *order.Order
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		o, err = getOrder(tx, s.cache, id)
		return err
	})
	return o, err
}

// ByNumber returns a merchant's order by the merchant's order number.
func (s *Store) ByNumber(merchant, number string) (*order.Order, error) {
	var o *order.Order
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketByNumber).Get(numberKey(merchant, number))
		if id == nil {
			return fmt.Errorf("merchant %q order number %q: %w", merchant, number, order.ErrNotFound)
		}
		var err error
		o, err = getOrder(tx, s.cache, string(id))
		return err
	})
	return o, err
}

// ByCard returns the order that stored a merchant's card, which holds the
// card (order.Order.Stored). Another merchant's card id finds nothing.
func (s *Store) ByCard(merchant, cardID string) (*order.Order, error) {
	var o *order.Order
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketCards).Get(numberKey(merchant, cardID))
		if id == nil {
			return fmt.Errorf("merchant %q card %q: %w", merchant, cardID, order.ErrNotFound)
		}
		var err error
		o, err = getOrder(tx, s.cache, string(id))
		return err
	})
	return o, err
}

// ClientCards returns the orders that stored the cards of a merchant's
// customer, in card id order.
func (s *Store) ClientCards(merchant, clientID string) ([]*order.Order, error) {
	return s.cardsUnder(bucketCardsByClient, merchant, clientID)
}

// TokenCards returns the orders that stored a merchant's cards of one
// card number, named by its hsm token.
func (s *Store) TokenCards(merchant, token string) ([]*order.Order, error) {
	return s.cardsUnder(bucketCardsByToken, merchant, token)
}

// cardsUnder reads an index keyed merchant \x00 key \x00 card id.
func (s *Store) cardsUnder(index []byte, merchant, key string) ([]*order.Order, error) {
	var out []*order.Order
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(merchant + "\x00" + key + "\x00")
		cards := tx.Bucket(bucketCards)
		c := tx.Bucket(index).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := cards.Get(numberKey(merchant, string(k[len(prefix):])))
			if id == nil {
				return fmt.Errorf("payments: index %s names card %q that cards_by_id does not", index, k[len(prefix):])
			}
			o, err := getOrder(tx, s.cache, string(id))
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// List calls fn for a merchant's orders created in [from, to), newest
// first, until fn returns false. A zero to means no upper bound.
func (s *Store) List(merchant string, from, to time.Time, fn func(*order.Order) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByTime).Cursor()
		prefix := append([]byte(merchant), 0)
		hi := order.TimeKey(merchant, to, "")
		if to.IsZero() {
			hi = append(append([]byte(nil), prefix...), 0xff)
		}
		lo := order.TimeKey(merchant, from, "")
		k, _ := c.Seek(hi)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lo) >= 0; k, _ = c.Prev() {
			_, id, ok := order.KeyTail(k, len(prefix))
			if !ok {
				return fmt.Errorf("payments: list: orders_by_time key %x does not end with a creation time and order id", k)
			}
			o, err := getOrder(tx, s.cache, id)
			if err != nil {
				return err
			}
			if !fn(o) {
				return nil
			}
		}
		return nil
	})
}

// All calls fn for every order in id order (for Rebuild comparisons and
// the auditors' replay).
func (s *Store) All(fn func(*order.Order) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOrders).ForEach(func(_, v []byte) error {
			o, err := order.Decode(v)
			if err != nil {
				return fmt.Errorf("payments: decode order: %w", err)
			}
			return fn(o)
		})
	})
}

// pendingIDs returns orders with an exchange of unknown outcome.
func (s *Store) pendingIDs() ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	return ids, err
}

// expiredIDs returns orders awaiting payment whose lifetime ended before now.
func (s *Store) expiredIDs(now time.Time) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).ForEach(func(k, v []byte) error {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= now.UnixNano() {
				ids = append(ids, string(k))
			}
			return nil
		})
	})
	return ids, err
}

// getOrder reads order id in tx, from cache (nil for none) when it holds
// what tx does.
func getOrder(tx *bolt.Tx, cache *orderCache, id string) (*order.Order, error) {
	v := tx.Bucket(bucketOrders).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("order %q: %w", id, order.ErrNotFound)
	}
	if o := cache.order(id, v); o != nil {
		return o, nil
	}
	o, err := order.Decode(v)
	if err != nil {
		return nil, fmt.Errorf("payments: decode order %q: %w", id, err)
	}
	return o, nil
}

// putOrder writes o (already encoded: stored is order.StoreValue of its
// JSON) and its indexes. prev is the version the caller read; a different
// stored version means a lost update. cache (nil for none) knows the
// stored version when it holds what tx does.
func putOrder(tx *bolt.Tx, cache *orderCache, o *order.Order, stored []byte, prev uint64) error {
	orders := tx.Bucket(bucketOrders)
	// Order ids are time-ordered (UUIDv7): new orders land at the end of
	// the bucket, where bbolt's default half-full split left every page
	// behind half empty (TestOrderBucketsFilled). 0.9 leaves room for the
	// change that soon follows (payment, completion).
	orders.FillPercent = 0.9
	if old := orders.Get([]byte(o.ID)); old != nil {
		var cur struct {
			Version uint64 `json:"version"`
		}
		if v, ok := cache.version(o.ID, old); ok {
			cur.Version = v
		} else if js, err := order.StoredJSON(old); err != nil {
			return fmt.Errorf("payments: decode order %q: %w", o.ID, err)
		} else if err := json.Unmarshal(js, &cur); err != nil {
			return fmt.Errorf("payments: decode order %q: %w", o.ID, err)
		}
		if cur.Version != prev {
			return fmt.Errorf("order %q: stored version %d, write based on %d: %w", o.ID, cur.Version, prev, ErrConflict)
		}
	} else {
		nk := numberKey(o.Merchant, o.Number)
		byNumber := tx.Bucket(bucketByNumber)
		if byNumber.Get(nk) != nil {
			return fmt.Errorf("merchant %q order number %q: %w", o.Merchant, o.Number, order.ErrDuplicateNumber)
		}
		if err := byNumber.Put(nk, []byte(o.ID)); err != nil {
			return err
		}
	}
	if err := orders.Put([]byte(o.ID), stored); err != nil {
		return err
	}
	if err := putIndexes(tx, o); err != nil {
		return fmt.Errorf("payments: index order %q: %w", o.ID, err)
	}
	if err := indexCard(tx, o); err != nil {
		return err
	}
	if err := setIndex(tx.Bucket(bucketPending), o.ID, hasPending(o), nil); err != nil {
		return err
	}
	exp := binary.BigEndian.AppendUint64(nil, uint64(o.ExpiresAt.UnixNano()))
	open := (o.Status == order.StatusRegistered || o.Status == order.Status3DS) && !o.ExpiresAt.IsZero()
	return setIndex(tx.Bucket(bucketOpen), o.ID, open, exp)
}

// indexCard writes the indexes of the card o stored, if any. A card's id,
// customer and token never change, so writing them again is harmless.
func indexCard(tx *bolt.Tx, o *order.Order) error {
	st := o.Stored
	if st == nil {
		return nil
	}
	if err := tx.Bucket(bucketCards).Put(numberKey(o.Merchant, st.ID), []byte(o.ID)); err != nil {
		return err
	}
	if st.ClientID != "" {
		if err := tx.Bucket(bucketCardsByClient).Put([]byte(o.Merchant+"\x00"+st.ClientID+"\x00"+st.ID), nil); err != nil {
			return err
		}
	}
	if o.Card != nil && o.Card.Token != "" {
		return tx.Bucket(bucketCardsByToken).Put([]byte(o.Merchant+"\x00"+o.Card.Token+"\x00"+st.ID), nil)
	}
	return nil
}

// indexEarlierCards puts the cards a data file stored before the card
// indexes existed (Processing.kz registrations) into them, once.
func indexEarlierCards(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(metaCardIndexes) != nil {
		return nil
	}
	err := tx.Bucket(bucketCards).ForEach(func(_, id []byte) error {
		o, err := getOrder(tx, nil, string(id))
		if err != nil {
			return err
		}
		return indexCard(tx, o)
	})
	if err != nil {
		return fmt.Errorf("indexing stored cards: %w", err)
	}
	return meta.Put(metaCardIndexes, []byte{1})
}

func setIndex(b *bolt.Bucket, id string, on bool, v []byte) error {
	if on {
		return b.Put([]byte(id), v)
	}
	return b.Delete([]byte(id))
}

func hasPending(o *order.Order) bool {
	for _, op := range o.Ops {
		if op.Status == order.OpPending {
			return true
		}
	}
	return false
}

func numberKey(merchant, number string) []byte {
	return []byte(merchant + "\x00" + number)
}
