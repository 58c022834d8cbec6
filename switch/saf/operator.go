package saf

import (
	"context"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// What operators see and do: the queue's contents, the dead letters, and
// putting a dead letter back in line.

// Pending returns bank's queued items, head first.
func (q *Queue) Pending(bank string) ([]Item, error) {
	var items []Item
	err := q.db.View(func(tx *bolt.Tx) error {
		b := bankBucket(tx, bank)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			it, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("bank %q position %x: %w", bank, k, err)
			}
			items = append(items, it)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("saf: pending: %w", err)
	}
	return items, nil
}

// DeadLetters returns every dead letter of every bank, by ID.
func (q *Queue) DeadLetters() ([]Item, error) {
	var items []Item
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
			it, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("dead letter %x: %w", k, err)
			}
			items = append(items, it)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("saf: dead letters: %w", err)
	}
	return items, nil
}

// Retry moves dead letter id back to the tail of its bank's queue with its
// attempts reset; it keeps its ID, EnqueuedAt and LastError. The first
// attempt after Retry is not a repeat (Attempts is 0 again), which suits the
// usual reason for a retry: the operator fixed what made the bank reject it.
func (q *Queue) Retry(ctx context.Context, id uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := q.cfg.Update(func(tx *bolt.Tx) error {
		dead := tx.Bucket(bucketDead)
		v := dead.Get(u64(id))
		if v == nil {
			return ErrNotDeadLetter
		}
		it, err := decodeItem(v)
		if err != nil {
			return err
		}
		bank, err := tx.Bucket(bucketPending).CreateBucketIfNotExists([]byte(it.Queue))
		if err != nil {
			return err
		}
		pos, err := tx.Bucket(bucketMeta).NextSequence()
		if err != nil {
			return err
		}
		it.Attempts = 0
		it.NextAttemptAt = time.Time{}
		if err := bank.Put(u64(pos), encodeItem(nil, &it)); err != nil {
			return err
		}
		if err := dead.Delete(u64(id)); err != nil {
			return err
		}
		name := it.Queue
		tx.OnCommit(func() {
			q.log.Info().Str("queue", name).Uint64("id", id).Msg("saf dead letter requeued")
			q.Notify(name)
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("saf: retry %d: %w", id, err)
	}
	return nil
}

// QueueStats describes one bank's queue at one instant.
type QueueStats struct {
	Queue       string
	Depth       int           // items pending, the head included
	DeadLetters int           // items in the dead letters
	OldestAge   time.Duration // age of the oldest pending item; 0 when none
	// The head's state: how stuck the bank's queue is.
	HeadAttempts      int
	HeadNextAttemptAt time.Time
	HeadLastError     string
}

// Stats returns every bank that has pending items or dead letters, by name.
// It reads every item, decoding the head of each queue and only the queue
// and time of the others (itemStamp): the metrics scrape calls it, and a
// bank that is down can hold tens of thousands.
func (q *Queue) Stats() ([]QueueStats, error) {
	now := q.cfg.Now()
	byBank := make(map[string]*QueueStats)
	get := func(bank []byte) *QueueStats {
		s := byBank[string(bank)]
		if s == nil {
			s = &QueueStats{Queue: string(bank)}
			byBank[s.Queue] = s
		}
		return s
	}
	err := q.db.View(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		err := pending.ForEachBucket(func(name []byte) error {
			c := pending.Bucket(name).Cursor()
			k, v := c.First()
			if k == nil {
				return nil
			}
			head, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("bank %q position %x: %w", name, k, err)
			}
			s := get([]byte(head.Queue))
			s.HeadAttempts, s.HeadNextAttemptAt, s.HeadLastError = head.Attempts, head.NextAttemptAt, head.LastError
			for ; k != nil; k, v = c.Next() {
				queue, enqueued, err := itemStamp(v)
				if err != nil {
					return fmt.Errorf("bank %q position %x: %w", name, k, err)
				}
				s := get(queue)
				s.Depth++
				if age := now.Sub(fromUnixNano(enqueued)); age > s.OldestAge {
					s.OldestAge = age
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
			queue, _, err := itemStamp(v)
			if err != nil {
				return fmt.Errorf("dead letter %x: %w", k, err)
			}
			get(queue).DeadLetters++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("saf: stats: %w", err)
	}
	out := make([]QueueStats, 0, len(byBank))
	for _, s := range byBank {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out, nil
}
