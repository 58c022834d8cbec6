package users

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EventKind names what an audit event records.
type EventKind string

// Event kinds.
const (
	EventSignIn               EventKind = "sign_in"
	EventSignInFailed         EventKind = "sign_in_failed"
	EventSignInLocked         EventKind = "sign_in_refused_locked"
	EventLocked               EventKind = "locked"
	EventUnlocked             EventKind = "unlocked"
	EventSignOut              EventKind = "sign_out"
	EventPasswordChanged      EventKind = "password_changed"
	EventPasswordChangeFailed EventKind = "password_change_failed"
	EventPasswordReset        EventKind = "password_reset"
	EventUserCreated          EventKind = "user_created"
	EventDisabled             EventKind = "user_disabled"
	EventEnabled              EventKind = "user_enabled"
	EventSettings             EventKind = "settings_changed"
	// Actions on orders and what users take out of the cabinet; the
	// cabinet records them (Record).
	EventComplete EventKind = "complete"
	EventCancel   EventKind = "cancel"
	EventRefund   EventKind = "refund"
	EventExport   EventKind = "export"
	EventDenied   EventKind = "denied" // a request for what the user may not see or do
	// A payment link or invoice made or switched off in the cabinet.
	EventLinkCreated  EventKind = "payment_link_created"
	EventLinkDisabled EventKind = "payment_link_disabled"
)

// Event is one entry of the audit log.
type Event struct {
	Seq  uint64    `json:"-"`
	Time time.Time `json:"time"`
	// Actor is who did it (a login; empty for a sign-in attempt, whose
	// Login is who it was for).
	Actor    string    `json:"actor,omitempty"`
	Kind     EventKind `json:"kind"`
	Login    string    `json:"login,omitempty"`
	Merchant string    `json:"merchant,omitempty"`
	Order    string    `json:"order,omitempty"`
	IP       string    `json:"ip,omitempty"`
	// Detail says more: an amount and the outcome, what was exported.
	Detail string `json:"detail,omitempty"`
}

// Record appends an event to the audit log.
func (s *Store) Record(e Event) error {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	return s.db.Update(func(tx *bolt.Tx) error { return record(tx, e) })
}

// recordQuietly records an event whose loss must not change the answer
// (a failed sign-in is refused either way).
func (s *Store) recordQuietly(e Event) { _ = s.Record(e) }

func record(tx *bolt.Tx, e Event) error {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), v)
}

// EventFilter selects events; zero fields select all.
type EventFilter struct {
	// Login matches the actor or the user the event is about.
	Login    string
	Merchant string
	Kind     EventKind
}

// Events returns up to limit events matching f, newest first, before the
// event numbered before (0: from the newest). The last event's Seq is the
// next page's before.
func (s *Store) Events(f EventFilter, before uint64, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(binary.BigEndian.AppendUint64(nil, before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("users: audit event %x: %w", k, err)
			}
			e.Seq = binary.BigEndian.Uint64(k)
			if f.Login != "" && e.Login != f.Login && e.Actor != f.Login || f.Merchant != "" && e.Merchant != f.Merchant ||
				f.Kind != "" && e.Kind != f.Kind {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
