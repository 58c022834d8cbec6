package users

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Session is a signed-in browser.
type Session struct {
	Login   string    `json:"login"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
	IP      string    `json:"ip,omitempty"`
	// CSRF is the token every form of this session carries.
	CSRF string `json:"csrf"`
}

// ErrNoSession is a token that names no live session (unknown, ended,
// idle too long, too old).
var ErrNoSession = errors.New("users: no such session")

// touchEvery is how stale Seen may be before a request rewrites it: the
// idle timeout is then at most this much late, and browsing writes to the
// disk at most once a minute per session.
const touchEvery = time.Minute

func tokenKey(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// StartSession opens a session for a signed-in user and returns its token
// (the cookie's value).
func (s *Store) StartSession(login, ip string) (string, *Session, error) {
	token := randomToken()
	now := s.now().UTC()
	sess := &Session{Login: NormLogin(login), Created: now, Seen: now, IP: ip, CSRF: randomToken()}
	v, err := json.Marshal(sess)
	if err != nil {
		return "", nil, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		// Sessions nobody ended go when a new one starts: the bucket
		// stays the size of the live ones.
		if err := s.sweep(b, now); err != nil {
			return err
		}
		return b.Put(tokenKey(token), v)
	})
	if err != nil {
		return "", nil, fmt.Errorf("users: session: %w", err)
	}
	return token, sess, nil
}

// Session returns the live session of token and its user, and counts the
// request as activity.
func (s *Store) Session(token string) (*Session, *User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, ErrNoSession
	}
	k := tokenKey(token)
	var sess Session
	var u *User
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get(k)
		if v == nil {
			return ErrNoSession
		}
		if err := json.Unmarshal(v, &sess); err != nil {
			return err
		}
		var err error
		u, err = getUser(tx.Bucket(bucketUsers), sess.Login)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		err = ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	if s.expired(&sess, now) || u.Disabled {
		_ = s.EndSession(token)
		return nil, nil, ErrNoSession
	}
	if now.Sub(sess.Seen) >= touchEvery {
		sess.Seen = now
		v, _ := json.Marshal(sess)
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSessions)
			if b.Get(k) == nil { // ended meanwhile
				return ErrNoSession
			}
			return b.Put(k, v)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return &sess, u, nil
}

func (s *Store) expired(sess *Session, now time.Time) bool {
	return now.Sub(sess.Seen) >= s.cfg.SessionIdle || now.Sub(sess.Created) >= s.cfg.SessionMax
}

// EndSession ends the session of token (sign-out).
func (s *Store) EndSession(token string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Delete(tokenKey(token)) })
}

// sweep deletes the expired sessions.
func (s *Store) sweep(b *bolt.Bucket, now time.Time) error {
	var dead [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var sess Session
		if json.Unmarshal(v, &sess) != nil || s.expired(&sess, now) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// endSessions ends every session of login.
func endSessions(tx *bolt.Tx, login string) error { return endSessionsBut(tx, login, "") }

// endSessionsBut ends every session of login but keep's.
func endSessionsBut(tx *bolt.Tx, login, keep string) error {
	b := tx.Bucket(bucketSessions)
	var keepKey []byte
	if keep != "" {
		keepKey = tokenKey(keep)
	}
	var dead [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var sess Session
		if json.Unmarshal(v, &sess) != nil || sess.Login == login && string(k) != string(keepKey) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
