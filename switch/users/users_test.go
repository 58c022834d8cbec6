package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/users"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newStore(t *testing.T) (*users.Store, *clock) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "u.db"), 0o600, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s, err := users.New(db, users.Config{}, c.Now)
	require.NoError(t, err)
	return s, c
}

var ctx = context.Background()

func TestCreateAndValidate(t *testing.T) {
	s, _ := newStore(t)
	for _, bad := range []users.NewUser{
		{Login: "ab", Role: users.RoleMerchant, Merchant: "shop"},
		{Login: "has space", Role: users.RoleMerchant, Merchant: "shop"},
		{Login: "anna", Role: "admin", Merchant: "shop"},
		{Login: "anna", Role: users.RoleMerchant},
		{Login: "anna", Role: users.RoleOperator, Merchant: "shop"},
	} {
		_, err := s.Create(ctx, bad, "test")
		require.ErrorIs(t, err, users.ErrInput, "%+v", bad)
	}
	_, err := s.Create(ctx, users.NewUser{Login: "anna", Role: users.RoleMerchant, Merchant: "shop", Password: "short"}, "test")
	require.ErrorIs(t, err, users.ErrWeakPassword)
	_, err = s.Create(ctx, users.NewUser{Login: "anna.kz", Role: users.RoleMerchant, Merchant: "shop", Password: "ANNA.KZ"}, "test")
	require.ErrorIs(t, err, users.ErrWeakPassword)

	pw, err := s.Create(ctx, users.NewUser{Login: " Anna@Shop.kz ", Role: users.RoleMerchant, Merchant: "shop"}, "op")
	require.NoError(t, err)
	require.Len(t, pw, 14, "a temporary password is made up")
	u, err := s.Get("anna@shop.kz")
	require.NoError(t, err)
	require.True(t, u.MustChange)
	require.NotContains(t, u.PasswordHash, pw)
	require.Contains(t, u.PasswordHash, "$argon2id$")
	_, err = s.Create(ctx, users.NewUser{Login: "anna@shop.kz", Role: users.RoleViewer, Merchant: "shop"}, "op")
	require.ErrorIs(t, err, users.ErrExists)

	got, err := s.Authenticate(ctx, users.SignIn{Login: "ANNA@shop.kz", Password: pw, IP: "10.0.0.1"})
	require.NoError(t, err)
	require.True(t, got.MustChange, "a temporary password signs in, to be changed")
	require.NoError(t, s.ChangePassword(ctx, "anna@shop.kz", pw, "a much better one", ""))
	u, _ = s.Get("anna@shop.kz")
	require.False(t, u.MustChange)
	require.ErrorIs(t, s.ChangePassword(ctx, "anna@shop.kz", "wrong current", "another good one", ""), users.ErrBadCredentials)
}

// TestLockAfterThreeWrongPasswords is the manual's rule, for wrong
// passwords from a network the user works from: the third locks the
// account for 30 minutes, everywhere, and while locked even the right
// one is refused with the time it ends; then it opens again.
func TestLockAfterThreeWrongPasswords(t *testing.T) {
	s, c := newStore(t)
	_, err := s.Create(ctx, users.NewUser{Login: "bob", Role: users.RoleMerchant, Merchant: "shop", Password: "correct horse", Permanent: true}, "op")
	require.NoError(t, err)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "correct horse"})
	require.NoError(t, err, "bob works from here")
	tok, _, err := s.StartSession("bob", "")
	require.NoError(t, err)
	for i := 1; i <= 2; i++ {
		_, err := s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "wrong"})
		require.ErrorIs(t, err, users.ErrBadCredentials, "attempt %d", i)
	}
	_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "wrong"})
	var le *users.LockedError
	require.True(t, errors.As(err, &le), "the third wrong password locks: %v", err)
	require.Equal(t, c.Now().Add(30*time.Minute), le.Until)
	_, _, err = s.Session(tok)
	require.ErrorIs(t, err, users.ErrNoSession, "a lock ends the sessions")

	c.Add(10 * time.Minute)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "correct horse"})
	require.True(t, errors.As(err, &le), "the right password is refused while locked")
	require.Equal(t, 20*time.Minute, le.Until.Sub(c.Now()))
	_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "correct horse", IP: "198.51.100.7"})
	require.ErrorIs(t, err, users.ErrLocked, "and from anywhere else")

	c.Add(20 * time.Minute)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "correct horse"})
	require.NoError(t, err, "30 minutes later it opens")

	// The operator unlocks before the time.
	for range 3 {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "wrong"})
	}
	require.ErrorIs(t, err, users.ErrLocked)
	require.NoError(t, s.Unlock("bob", "op"))
	_, err = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "correct horse"})
	require.NoError(t, err)

	// Or resets the password: a temporary one, unlocked, to be changed.
	for range 3 {
		_, _ = s.Authenticate(ctx, users.SignIn{Login: "bob", Password: "wrong"})
	}
	temp, err := s.ResetPassword(ctx, "bob", "op")
	require.NoError(t, err)
	u, err := s.Authenticate(ctx, users.SignIn{Login: "bob", Password: temp})
	require.NoError(t, err)
	require.True(t, u.MustChange)

	evs, err := s.Events(users.EventFilter{Login: "bob"}, 0, 100)
	require.NoError(t, err)
	kinds := map[users.EventKind]int{}
	for _, e := range evs {
		kinds[e.Kind]++
	}
	require.Equal(t, 3, kinds[users.EventLocked])
	require.Equal(t, 2, kinds[users.EventSignInLocked])
	require.Equal(t, 9, kinds[users.EventSignInFailed])
	require.Equal(t, 1, kinds[users.EventUnlocked])
	require.Equal(t, 1, kinds[users.EventPasswordReset])
	require.Equal(t, users.EventSignIn, evs[0].Kind, "newest first")

	// Unknown logins fail the same way, and are logged.
	_, err = s.Authenticate(ctx, users.SignIn{Login: "nobody", Password: "x"})
	require.ErrorIs(t, err, users.ErrBadCredentials)
}

// TestStrangersLockLeavesTheUsersNetworks: anyone who knows a login can
// fail three times on purpose. From networks the user has not signed in
// from, that locks only such networks: the user's own keeps signing in,
// keeps its sessions, and does not wipe the guesser's count.
func TestStrangersLockLeavesTheUsersNetworks(t *testing.T) {
	s, c := newStore(t)
	_, err := s.Create(ctx, users.NewUser{Login: "dana", Role: users.RoleMerchant, Merchant: "shop", Password: "correct horse", Permanent: true}, "op")
	require.NoError(t, err)
	office, home := "203.0.113.10", "2001:db8:7:7::1"
	for _, ip := range []string{office, home} {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: ip})
		require.NoError(t, err)
	}
	tok, _, err := s.StartSession("dana", office)
	require.NoError(t, err)

	guesser := users.SignIn{Login: "dana", Password: "wrong", IP: "198.51.100.66"}
	for range 2 {
		_, err = s.Authenticate(ctx, guesser)
		require.ErrorIs(t, err, users.ErrBadCredentials)
	}
	_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: office})
	require.NoError(t, err)
	_, err = s.Authenticate(ctx, guesser)
	var le *users.LockedError
	require.True(t, errors.As(err, &le), "the office's sign-in did not wipe the guesser's two: %v", err)
	require.True(t, le.Now)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: "192.0.2.200"})
	require.ErrorIs(t, err, users.ErrLocked, "every stranger is refused, the right password too")

	_, _, err = s.Session(tok)
	require.NoError(t, err, "the strangers' lock leaves the user's sessions")
	_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: office})
	require.NoError(t, err, "the office still signs in")
	_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: "2001:db8:7:7:abcd::2"})
	require.NoError(t, err, "so does another machine of the home /64")
	u, err := s.Get("dana")
	require.NoError(t, err)
	require.True(t, u.Locked(c.Now()))
	require.False(t, u.LockedEverywhere(c.Now()))
	var list strings.Builder
	users.WriteList(&list, []users.User{*u}, c.Now())
	require.Contains(t, list.String(), "except from its networks")

	// Wrong passwords from a network of the user's lock it everywhere.
	for range 3 {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "wrong", IP: office})
	}
	require.ErrorIs(t, err, users.ErrLocked)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: home})
	require.ErrorIs(t, err, users.ErrLocked, "locked at home too")
	_, _, err = s.Session(tok)
	require.ErrorIs(t, err, users.ErrNoSession, "and its sessions end")
	require.NoError(t, s.Unlock("dana", "op"))

	// A network is the user's for KnownFor after its last sign-in.
	c.Add(31 * 24 * time.Hour)
	for range 3 {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "wrong", IP: "198.51.100.66"})
	}
	require.ErrorIs(t, err, users.ErrLocked)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "dana", Password: "correct horse", IP: office})
	require.ErrorIs(t, err, users.ErrLocked, "an office not seen for 31 days is a stranger again")

	evs, err := s.Events(users.EventFilter{Login: "dana"}, 0, 100)
	require.NoError(t, err)
	var locks []string
	for _, e := range evs {
		if e.Kind == users.EventLocked {
			locks = append(locks, e.Detail)
		}
	}
	require.Len(t, locks, 3)
	require.Contains(t, locks[1], "everywhere", "newest first")
	require.Contains(t, locks[2], "except from the networks the user signed in from")
}

// TestKnownNetworksBounded: a user keeps the last maxKnown networks.
func TestKnownNetworksBounded(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.Create(ctx, users.NewUser{Login: "erik", Role: users.RoleViewer, Merchant: "shop", Password: "correct horse", Permanent: true}, "op")
	require.NoError(t, err)
	for i := range 12 {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "erik", Password: "correct horse", IP: fmt.Sprintf("192.0.2.%d", i)})
		require.NoError(t, err)
	}
	_, err = s.Authenticate(ctx, users.SignIn{Login: "erik", Password: "correct horse", IP: "192.0.2.5"})
	require.NoError(t, err)
	u, err := s.Get("erik")
	require.NoError(t, err)
	require.Len(t, u.Known, 8)
	require.Equal(t, "192.0.2.5", u.Known[7].Network, "a sign-in again moves it to the end")
	require.Equal(t, "192.0.2.4", u.Known[0].Network, "the oldest are forgotten")
}

func TestSessions(t *testing.T) {
	s, c := newStore(t)
	_, err := s.Create(ctx, users.NewUser{Login: "carol", Role: users.RoleOperator, Password: "operator pass", Permanent: true}, "cli")
	require.NoError(t, err)
	tok, sess, err := s.StartSession("carol", "127.0.0.1")
	require.NoError(t, err)
	require.NotEmpty(t, sess.CSRF)
	got, u, err := s.Session(tok)
	require.NoError(t, err)
	require.Equal(t, sess.CSRF, got.CSRF)
	require.Equal(t, users.RoleOperator, u.Role)
	_, _, err = s.Session("forged")
	require.ErrorIs(t, err, users.ErrNoSession)

	// Activity keeps it alive; 30 minutes of none ends it.
	for range 5 {
		c.Add(20 * time.Minute)
		_, _, err = s.Session(tok)
		require.NoError(t, err)
	}
	c.Add(30 * time.Minute)
	_, _, err = s.Session(tok)
	require.ErrorIs(t, err, users.ErrNoSession)

	// Sign-out; a password change ends the others but the current one.
	a, _, _ := s.StartSession("carol", "")
	b, _, _ := s.StartSession("carol", "")
	require.NoError(t, s.EndSession(a))
	_, _, err = s.Session(a)
	require.ErrorIs(t, err, users.ErrNoSession)
	d, _, _ := s.StartSession("carol", "")
	require.NoError(t, s.ChangePassword(ctx, "carol", "operator pass", "a new operator pass", d))
	_, _, err = s.Session(b)
	require.ErrorIs(t, err, users.ErrNoSession)
	_, _, err = s.Session(d)
	require.NoError(t, err)
	require.NoError(t, s.SetDisabled("carol", true, "op"))
	_, _, err = s.Session(d)
	require.ErrorIs(t, err, users.ErrNoSession)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "carol", Password: "a new operator pass"})
	require.ErrorIs(t, err, users.ErrDisabled)
}

func TestPrefsAndEvents(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.Create(ctx, users.NewUser{Login: "dana", Role: users.RoleViewer, Merchant: "m1", Password: "viewer pass", Permanent: true}, "op")
	require.NoError(t, err)
	email, lang := "dana@shop.kz", "kk"
	u, err := s.SetPrefs("dana", users.Prefs{Email: &email, Language: &lang, Columns: []string{"rrn", "number"},
		Filters: []users.SavedFilter{{Name: "Declined", Query: "status=declined"}}, SetFilters: true})
	require.NoError(t, err)
	require.Equal(t, "kk", u.Language)
	require.Equal(t, []string{"rrn", "number"}, u.Columns)
	bad := "not an address"
	_, err = s.SetPrefs("dana", users.Prefs{Email: &bad})
	require.ErrorIs(t, err, users.ErrInput)

	for i := range 30 {
		require.NoError(t, s.Record(users.Event{Actor: "dana", Kind: users.EventExport, Merchant: "m1", Detail: string(rune('a' + i%26))}))
	}
	page, err := s.Events(users.EventFilter{Merchant: "m1", Kind: users.EventExport}, 0, 10)
	require.NoError(t, err)
	require.Len(t, page, 10)
	next, err := s.Events(users.EventFilter{Merchant: "m1", Kind: users.EventExport}, page[9].Seq, 100)
	require.NoError(t, err)
	require.Len(t, next, 20)
	require.Greater(t, page[9].Seq, next[0].Seq)
	all, err := s.Events(users.EventFilter{}, 0, 1000)
	require.NoError(t, err)
	require.Len(t, all, 32, "the creation, the settings change and the exports")
}

// TestKnownSeededFromTheAuditLog: an account from before the store kept
// networks knows those of its sign-ins in the last KnownFor, from the
// audit log, so a guesser cannot keep it out with the strangers' lock.
func TestKnownSeededFromTheAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s, err := users.New(db, users.Config{}, c.Now)
	require.NoError(t, err)
	_, err = s.Create(ctx, users.NewUser{Login: "old", Role: users.RoleMerchant, Merchant: "shop", Password: "correct horse", Permanent: true}, "op")
	require.NoError(t, err)
	for _, ip := range []string{"192.0.2.1", "203.0.113.10", "2001:db8:1:2::5"} {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "old", Password: "correct horse", IP: ip})
		require.NoError(t, err)
		c.Add(20 * 24 * time.Hour)
	}
	// Now 192.0.2.1 was 60 days ago, 203.0.113.10 40 and 2001:db8:1:2::5
	// 20. Take the account back to before networks were kept.
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("users"))
		var raw map[string]any
		require.NoError(t, json.Unmarshal(b.Get([]byte("old")), &raw))
		delete(raw, "known")
		v, err := json.Marshal(raw)
		require.NoError(t, err)
		return b.Put([]byte("old"), v)
	}))
	s, err = users.New(db, users.Config{}, c.Now)
	require.NoError(t, err)
	u, err := s.Get("old")
	require.NoError(t, err)
	require.Equal(t, []string{"2001:db8:1:2::/64"}, networks(u), "the sign-ins within 30 days, no older")

	for range 3 {
		_, err = s.Authenticate(ctx, users.SignIn{Login: "old", Password: "wrong", IP: "198.51.100.66"})
	}
	require.ErrorIs(t, err, users.ErrLocked)
	_, err = s.Authenticate(ctx, users.SignIn{Login: "old", Password: "correct horse", IP: "2001:db8:1:2::9"})
	require.NoError(t, err, "the user's own network still signs in")
}

func networks(u *users.User) []string {
	var out []string
	for _, k := range u.Known {
		out = append(out, k.Network)
	}
	return out
}

// TestPasswordResetDuringASignIn: an operator's reset that lands while an
// attempt's hash runs wins; the old password does not sign in.
func TestPasswordResetDuringASignIn(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "u.db"), 0o600, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var s *users.Store
	var armed, fired bool
	now := func() time.Time {
		// Authenticate reads the clock once after reading the account and
		// before the hash: the reset lands there.
		if armed && !fired {
			fired = true
			_, err := s.ResetPassword(ctx, "frank", "op")
			require.NoError(t, err)
		}
		return base
	}
	s, err = users.New(db, users.Config{}, now)
	require.NoError(t, err)
	_, err = s.Create(ctx, users.NewUser{Login: "frank", Role: users.RoleMerchant, Merchant: "shop", Password: "correct horse", Permanent: true}, "op")
	require.NoError(t, err)
	armed = true
	_, err = s.Authenticate(ctx, users.SignIn{Login: "frank", Password: "correct horse", IP: "192.0.2.1"})
	require.True(t, fired)
	require.ErrorIs(t, err, users.ErrBadCredentials, "the password it checked was reset meanwhile")
	u, err := s.Get("frank")
	require.NoError(t, err)
	require.True(t, u.MustChange)
	require.Zero(t, u.Failures, "not counted")
}
