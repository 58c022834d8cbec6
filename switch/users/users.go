package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/authguard"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// Role is what a user may see and do.
type Role string

// Roles.
const (
	// RoleOperator sees every merchant, manages users and reads the audit
	// log.
	RoleOperator Role = "operator"
	// RoleMerchant is a merchant's user: its orders, their actions
	// (complete, cancel, refund), reports, exports and the merchant's
	// settings.
	RoleMerchant Role = "merchant"
	// RoleViewer is a merchant's user who only reads: orders, reports and
	// exports, no action and no merchant setting.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOperator || r == RoleMerchant || r == RoleViewer }

// Buckets (see the package doc).
var (
	bucketUsers    = []byte("users")
	bucketSessions = []byte("users.sessions")
	bucketAudit    = []byte("users.audit")
)

// Errors a caller decides on.
var (
	ErrNotFound = errors.New("users: no such user")
	ErrExists   = errors.New("users: login taken")
	// ErrBadCredentials is every failed sign-in that is not a lock: an
	// unknown login and a wrong password are not told apart.
	ErrBadCredentials = errors.New("users: wrong login or password")
	ErrDisabled       = errors.New("users: account disabled")
	ErrInput          = errors.New("users: invalid input")
)

// LockedError refuses a sign-in while the account is locked.
type LockedError struct {
	Until time.Time
	// Now: this attempt's wrong password locked it.
	Now bool
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("users: account locked until %s", e.Until.UTC().Format(time.RFC3339))
}

// ErrLocked is what a *LockedError is.
var ErrLocked = errors.New("users: account locked")

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// User is one account.
type User struct {
	Login string `json:"login"`
	// Merchant is the payments merchant id a merchant's user belongs to;
	// empty for operators.
	Merchant     string `json:"merchant,omitempty"`
	Role         Role   `json:"role"`
	PasswordHash string `json:"password_hash"`
	// MustChange: the password is temporary and must be changed before
	// anything else.
	MustChange bool `json:"must_change,omitempty"`
	// Failures counts wrong passwords in a row from networks the user has
	// not signed in from (strangers'), and LockedUntil is the lock they
	// bring: it refuses every network but the Known ones.
	Failures    int       `json:"failures,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// KnownFailures counts wrong passwords in a row from Known networks,
	// and KnownLockedUntil is the lock they bring, which refuses every
	// network (LockedUntil is set with it).
	KnownFailures    int       `json:"known_failures,omitempty"`
	KnownLockedUntil time.Time `json:"known_locked_until,omitzero"`
	// Known are the networks (switch/clientip.NetworkOf) the user signed in
	// from, each until Config.KnownFor after its last sign-in there; the
	// most recent last, at most maxKnown.
	Known    []KnownNetwork `json:"known,omitempty"`
	Disabled bool           `json:"disabled,omitempty"`
	Email    string         `json:"email,omitempty"`
	Language string         `json:"language,omitempty"`
	// Columns are the register's columns, in order (the cabinet's names).
	Columns []string `json:"columns,omitempty"`
	// Filters are the register's saved filter templates.
	Filters   []SavedFilter `json:"filters,omitempty"`
	Created   time.Time     `json:"created"`
	CreatedBy string        `json:"created_by,omitempty"`
	// PasswordSet is when the password was last set.
	PasswordSet time.Time `json:"password_set,omitzero"`
	LastSignIn  time.Time `json:"last_sign_in,omitzero"`
}

// SavedFilter is a named filter template: the register's query string.
type SavedFilter struct {
	Name  string `json:"name"`
	Query string `json:"query"`
}

// KnownNetwork is a network a user signed in from, and until when that
// sign-in exempts it from the strangers' lock.
type KnownNetwork struct {
	Network string    `json:"network"`
	Until   time.Time `json:"until"`
}

// unlock lifts both locks and clears both counts. The Known networks stay:
// they are where the user works, and a password reset is no reason to
// treat them as strangers (guessing a temporary password is hopeless at
// the cabinet's guard's rate per address anyway).
func (u *User) unlock() {
	u.Failures, u.LockedUntil, u.KnownFailures, u.KnownLockedUntil = 0, time.Time{}, 0, time.Time{}
}

// maxKnown bounds the networks remembered for one user: an office, a
// home, a phone's carriers.
const maxKnown = 8

// Locked reports whether the account is locked at now, for strangers at
// least (LockedEverywhere says whether for the Known networks too).
func (u *User) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

// LockedEverywhere reports whether the account is locked at now for its
// Known networks too.
func (u *User) LockedEverywhere(now time.Time) bool { return now.Before(u.KnownLockedUntil) }

// knownAt reports whether the user signed in from network within
// Config.KnownFor before now.
func (u *User) knownAt(network string, now time.Time) bool {
	for _, k := range u.Known {
		if k.Network == network {
			return now.Before(k.Until)
		}
	}
	return false
}

// lockedAt is the lock that applies to a sign-in from network at now: the
// Known networks' own, or the strangers'.
func (u *User) lockedAt(network string, now time.Time) (until time.Time, locked bool) {
	until = u.LockedUntil
	if u.knownAt(network, now) {
		until = u.KnownLockedUntil
	}
	return until, now.Before(until)
}

// remember makes network known for knownFor from now, the most recent
// last; networks whose time is over are forgotten.
func (u *User) remember(network string, now time.Time, knownFor time.Duration) {
	ks := slices.DeleteFunc(u.Known, func(k KnownNetwork) bool {
		return k.Network == network || !now.Before(k.Until)
	})
	if len(ks) >= maxKnown {
		ks = ks[len(ks)-maxKnown+1:]
	}
	u.Known = append(ks, KnownNetwork{Network: network, Until: now.Add(knownFor)})
}

// Config tunes the store; zero fields take the defaults.
type Config struct {
	// MaxFailures wrong passwords in a row lock the account. Default 3.
	MaxFailures int `yaml:"max_failures"`
	// LockFor is how long. Default 30m.
	LockFor time.Duration `yaml:"lock_for"`
	// KnownFor is how long a network the user signed in from stays
	// exempt from the lock strangers' wrong passwords bring. Default 720h
	// (30 days).
	KnownFor time.Duration `yaml:"known_for"`
	// SessionIdle ends a session without requests for that long. Default
	// 30m.
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionMax ends any session that old. Default 12h.
	SessionMax time.Duration `yaml:"session_max"`
	// Guard runs the password hashes, a bounded number at once (the
	// daemon gives the cabinet's, which also limits failures per client
	// address). Nil: a guard of the store's own, MaxHashing at a time.
	Guard *authguard.Guard `yaml:"-"`
}

func (c Config) withDefaults() Config {
	if c.MaxFailures <= 0 {
		c.MaxFailures = 3
	}
	if c.LockFor <= 0 {
		c.LockFor = 30 * time.Minute
	}
	if c.KnownFor <= 0 {
		c.KnownFor = 30 * 24 * time.Hour
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.SessionMax <= 0 {
		c.SessionMax = 12 * time.Hour
	}
	return c
}

// Validate checks the config; errors name the key.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFailures < 0 || c.MaxFailures > 100 {
		errs = append(errs, errors.New("max_failures: 1 to 100 (0 for the default, 3)"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"lock_for", c.LockFor}, {"known_for", c.KnownFor}, {"session_idle", c.SessionIdle}, {"session_max", c.SessionMax}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", d.key))
		}
	}
	if c.SessionIdle > 0 && c.SessionMax > 0 && c.SessionIdle > c.SessionMax {
		errs = append(errs, errors.New("session_idle: longer than session_max"))
	}
	return errors.Join(errs...)
}

// NewGuard is the cabinet's switch/authguard policy, registered on reg
// when it is not nil: MaxHashing password hashes at once, and the guard's
// default bound on the failures one client address may cause across
// logins. The guard's own lock of a credential is set out of reach: the
// account lock is this store's, persistent (the package doc says why), so
// the manual's rule has one owner and one count.
func NewGuard(reg prometheus.Registerer) (*authguard.Guard, error) {
	g, err := authguard.New(authguard.Config{MaxFailures: math.MaxInt32, MaxHashing: MaxHashing}, "cabinet", reg)
	if err != nil {
		return nil, fmt.Errorf("users: guard: %w", err)
	}
	return g, nil
}

// Store keeps the users, their sessions and the audit log in the switch's
// data file. It is safe for concurrent use.
type Store struct {
	db  journal.Transactor
	cfg Config
	h   *hasher
	now func() time.Time
}

// New creates the buckets if needed. now may be nil (time.Now).
func New(db journal.Transactor, cfg Config, now func() time.Time) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	full := cfg.withDefaults()
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketUsers, bucketSessions, bucketAudit} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		return seedKnown(tx, now(), full.KnownFor)
	})
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	gate := cfg.Guard
	if gate == nil {
		if gate, err = NewGuard(nil); err != nil {
			return nil, err
		}
	}
	h, err := newHasher(gate)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, cfg: full, h: h, now: now}, nil
}

// seedKnown gives the users who signed in within knownFor but know no
// network (accounts from before the switch kept them) the networks of
// their sign-ins in the audit log since then: otherwise a guesser could
// keep such a user out with the strangers' lock, and no sign-in would
// ever make the user's own network known. It reads the audit log back to
// knownFor ago, once: a seeded user knows a network from then on.
func seedKnown(tx *bolt.Tx, now time.Time, knownFor time.Duration) error {
	ub := tx.Bucket(bucketUsers)
	since := now.Add(-knownFor)
	want := map[string]*User{}
	if err := ub.ForEach(func(k, v []byte) error {
		var u User
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("users: decode %s: %w", k, err)
		}
		if len(u.Known) == 0 && u.LastSignIn.After(since) {
			want[u.Login] = &u
		}
		return nil
	}); err != nil || len(want) == 0 {
		return err
	}
	c := tx.Bucket(bucketAudit).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("users: audit event %x: %w", k, err)
		}
		if e.Time.Before(since) {
			break
		}
		u := want[e.Login]
		if e.Kind != EventSignIn || u == nil || len(u.Known) == maxKnown {
			continue
		}
		network := clientip.NetworkOf(e.IP)
		if !u.knownAt(network, now) {
			// Newest first: the list is built backwards and turned after.
			u.Known = append(u.Known, KnownNetwork{Network: network, Until: e.Time.Add(knownFor)})
		}
	}
	for _, u := range want {
		if len(u.Known) == 0 {
			continue
		}
		slices.Reverse(u.Known)
		if err := putUser(ub, u); err != nil {
			return err
		}
	}
	return nil
}

// Config is the store's config with its defaults.
func (s *Store) Config() Config { return s.cfg }

// NormLogin is a login as stored: trimmed, lower-case.
func NormLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

func validLogin(l string) bool {
	if len(l) < 3 || len(l) > 64 {
		return false
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c)) {
			return false
		}
	}
	return true
}

// NewUser describes an account to create.
type NewUser struct {
	Login    string
	Role     Role
	Merchant string
	Email    string
	Language string
	// Password, when empty, is made up (TempPassword) and returned.
	// Either way it must be changed at the first sign-in, unless
	// Permanent.
	Password  string
	Permanent bool
}

// Create adds a user and returns its password (the one given, or a
// temporary one made up). by names who creates it, for the audit log.
func (s *Store) Create(ctx context.Context, n NewUser, by string) (string, error) {
	login := NormLogin(n.Login)
	switch {
	case !validLogin(login):
		return "", fmt.Errorf("%w: login: 3 to 64 of a-z 0-9 . _ - @", ErrInput)
	case !n.Role.Valid():
		return "", fmt.Errorf("%w: role: operator, merchant or viewer", ErrInput)
	case n.Role == RoleOperator && n.Merchant != "":
		return "", fmt.Errorf("%w: merchant: an operator belongs to no merchant", ErrInput)
	case n.Role != RoleOperator && n.Merchant == "":
		return "", fmt.Errorf("%w: merchant: required for a merchant's user", ErrInput)
	}
	pw := n.Password
	if pw == "" {
		pw = TempPassword()
	}
	if err := checkPassword(login, pw); err != nil {
		return "", err
	}
	hash, err := s.h.hash(ctx, pw)
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	u := User{Login: login, Merchant: n.Merchant, Role: n.Role, PasswordHash: hash, MustChange: !n.Permanent,
		Email: strings.TrimSpace(n.Email), Language: n.Language, Created: now, CreatedBy: by, PasswordSet: now}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(login)) != nil {
			return fmt.Errorf("%w: %s", ErrExists, login)
		}
		if err := putUser(b, &u); err != nil {
			return err
		}
		return record(tx, Event{Time: now, Actor: by, Kind: EventUserCreated, Login: login, Merchant: n.Merchant, Detail: string(n.Role)})
	})
	if err != nil {
		return "", err
	}
	return pw, nil
}

// Get returns a user.
func (s *Store) Get(login string) (*User, error) {
	var u *User
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUser(tx.Bucket(bucketUsers), NormLogin(login))
		return err
	})
	return u, err
}

// List returns every user, by login.
func (s *Store) List() ([]User, error) {
	var out []User
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(_, v []byte) error {
			var u User
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Login < out[j].Login })
	return out, err
}

// Count is how many users there are.
func (s *Store) Count() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketUsers).Stats().KeyN
		return nil
	})
	return n, err
}

// SignIn is a sign-in attempt's context, for the audit log.
type SignIn struct {
	Login, Password, IP string
}

// Authenticate checks a sign-in: a locked account is refused (a
// *LockedError) without a look at the password; a wrong password counts,
// and the MaxFailures-th in a row locks the account (the error is then a
// *LockedError too); the right one clears the count. Every attempt is in
// the audit log.
//
// Which lock and which count depend on where the attempt comes from
// (a.IP's network, switch/clientip.NetworkOf). Wrong passwords from a
// network the user has not signed in from within Config.KnownFor lock the
// account for such networks only, and leave its sessions: anyone who
// knows a login can fail on purpose, and the manual's lock would
// otherwise let them keep the user out of the cabinet for good. From a
// known network they lock it everywhere and end its sessions, as the
// manual has it. A right password clears only its own side's count, so
// the user signing in at the office does not wipe a guesser's (one from a
// network not yet known does: the strangers' count is of failures in a
// row).
func (s *Store) Authenticate(ctx context.Context, a SignIn) (*User, error) {
	login := NormLogin(a.Login)
	u, err := s.Get(login)
	if errors.Is(err, ErrNotFound) {
		// The same work as for a real user, and the same answer.
		if _, err := s.h.verify(ctx, "", a.Password); err != nil {
			return nil, err
		}
		s.recordQuietly(Event{Kind: EventSignInFailed, Login: login, IP: a.IP, Detail: "unknown login"})
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	network := clientip.NetworkOf(a.IP)
	if until, locked := u.lockedAt(network, s.now()); locked {
		s.recordQuietly(Event{Kind: EventSignInLocked, Login: login, Merchant: u.Merchant, IP: a.IP})
		return nil, &LockedError{Until: until}
	}
	checked := u.PasswordHash
	ok, err := s.h.verify(ctx, checked, a.Password)
	if err != nil {
		return nil, err
	}
	var out *User
	var result error
	err = s.update(login, func(tx *bolt.Tx, u *User) error {
		now := s.now().UTC()
		if until, locked := u.lockedAt(network, now); locked { // locked meanwhile by a parallel attempt
			result = &LockedError{Until: until}
			return record(tx, Event{Time: now, Kind: EventSignInLocked, Login: login, Merchant: u.Merchant, IP: a.IP})
		}
		if u.PasswordHash != checked {
			// Changed or reset while the hash ran: what was checked is no
			// longer the password. Not counted: the password may be right.
			result = ErrBadCredentials
			return record(tx, Event{Time: now, Kind: EventSignInFailed, Login: login, Merchant: u.Merchant, IP: a.IP,
				Detail: "the password changed during the sign-in"})
		}
		if u.Disabled {
			result = ErrDisabled
			return record(tx, Event{Time: now, Kind: EventSignInFailed, Login: login, Merchant: u.Merchant, IP: a.IP, Detail: "disabled"})
		}
		known := u.knownAt(network, now)
		if !ok {
			return s.wrongPassword(tx, u, a.IP, known, now, &result)
		}
		if known {
			u.KnownFailures = 0
		} else {
			u.Failures = 0
		}
		u.LastSignIn = now
		u.remember(network, now, s.cfg.KnownFor)
		c := *u
		out = &c
		return record(tx, Event{Time: now, Kind: EventSignIn, Login: login, Merchant: u.Merchant, IP: a.IP})
	})
	if err != nil {
		return nil, err
	}
	return out, result
}

// wrongPassword counts a wrong password on its side (known network or
// stranger), locks that side at the MaxFailures-th, and sets result.
func (s *Store) wrongPassword(tx *bolt.Tx, u *User, ip string, known bool, now time.Time, result *error) error {
	count, side := &u.Failures, "from a network the user has not signed in from"
	if known {
		count, side = &u.KnownFailures, "from a network the user signed in from"
	}
	*count++
	if err := record(tx, Event{Time: now, Kind: EventSignInFailed, Login: u.Login, Merchant: u.Merchant, IP: ip,
		Detail: fmt.Sprintf("wrong password (%d of %d) %s", *count, s.cfg.MaxFailures, side)}); err != nil {
		return err
	}
	*result = ErrBadCredentials
	if *count < s.cfg.MaxFailures {
		return nil
	}
	*count = 0
	until := now.Add(s.cfg.LockFor)
	*result = &LockedError{Until: until, Now: true}
	detail := fmt.Sprintf("until %s, except from the networks the user signed in from", until.Format(time.RFC3339))
	if known {
		u.KnownLockedUntil = until
		detail = fmt.Sprintf("until %s, everywhere", until.Format(time.RFC3339))
		if err := endSessions(tx, u.Login); err != nil {
			return err
		}
	}
	u.LockedUntil = until
	return record(tx, Event{Time: now, Kind: EventLocked, Login: u.Login, Merchant: u.Merchant, IP: ip, Detail: detail})
}

// ChangePassword sets a user's own new password after checking the
// current one; it ends the user's other sessions (keep names the one
// that stays, or "").
func (s *Store) ChangePassword(ctx context.Context, login, current, next, keepToken string) error {
	login = NormLogin(login)
	u, err := s.Get(login)
	if err != nil {
		return err
	}
	if err := checkPassword(login, next); err != nil {
		return err
	}
	if ok, err := s.h.verify(ctx, u.PasswordHash, current); err != nil {
		return err
	} else if !ok {
		s.recordQuietly(Event{Kind: EventPasswordChangeFailed, Actor: login, Login: login, Merchant: u.Merchant})
		return ErrBadCredentials
	}
	if current == next {
		return fmt.Errorf("%w: the new password is the current one", ErrWeakPassword)
	}
	hash, err := s.h.hash(ctx, next)
	if err != nil {
		return err
	}
	return s.update(login, func(tx *bolt.Tx, u *User) error {
		u.PasswordHash, u.MustChange, u.PasswordSet = hash, false, s.now().UTC()
		if err := endSessionsBut(tx, login, keepToken); err != nil {
			return err
		}
		return record(tx, Event{Time: s.now().UTC(), Kind: EventPasswordChanged, Actor: login, Login: login, Merchant: u.Merchant})
	})
}

// ResetPassword gives a user a temporary password (returned), to be
// changed at the next sign-in; it unlocks the account and ends its
// sessions. by is the operator.
func (s *Store) ResetPassword(ctx context.Context, login, by string) (string, error) {
	login = NormLogin(login)
	pw := TempPassword()
	hash, err := s.h.hash(ctx, pw)
	if err != nil {
		return "", err
	}
	err = s.update(login, func(tx *bolt.Tx, u *User) error {
		u.PasswordHash, u.MustChange, u.PasswordSet = hash, true, s.now().UTC()
		u.unlock()
		if err := endSessions(tx, login); err != nil {
			return err
		}
		return record(tx, Event{Time: s.now().UTC(), Kind: EventPasswordReset, Actor: by, Login: login, Merchant: u.Merchant})
	})
	if err != nil {
		return "", err
	}
	return pw, nil
}

// Unlock lifts both locks and clears both counts of wrong passwords.
func (s *Store) Unlock(login, by string) error {
	login = NormLogin(login)
	return s.update(login, func(tx *bolt.Tx, u *User) error {
		u.unlock()
		return record(tx, Event{Time: s.now().UTC(), Kind: EventUnlocked, Actor: by, Login: login, Merchant: u.Merchant})
	})
}

// SetDisabled disables (ending its sessions) or enables an account.
func (s *Store) SetDisabled(login string, disabled bool, by string) error {
	login = NormLogin(login)
	return s.update(login, func(tx *bolt.Tx, u *User) error {
		u.Disabled = disabled
		kind := EventEnabled
		if disabled {
			kind = EventDisabled
			if err := endSessions(tx, login); err != nil {
				return err
			}
		}
		return record(tx, Event{Time: s.now().UTC(), Kind: kind, Actor: by, Login: login, Merchant: u.Merchant})
	})
}

// Prefs are what users change about themselves.
type Prefs struct {
	Email    *string
	Language *string
	Columns  []string // nil: unchanged
	Filters  []SavedFilter
	// SetFilters: Filters replaces the saved filters (even with none).
	SetFilters bool
}

// SetPrefs changes a user's own preferences.
func (s *Store) SetPrefs(login string, p Prefs) (*User, error) {
	login = NormLogin(login)
	var out *User
	err := s.update(login, func(tx *bolt.Tx, u *User) error {
		var changed []string
		if p.Email != nil {
			e := strings.TrimSpace(*p.Email)
			if len(e) > 254 || e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>")) {
				return fmt.Errorf("%w: email", ErrInput)
			}
			u.Email = e
			changed = append(changed, "email")
		}
		if p.Language != nil {
			u.Language = *p.Language
		}
		if p.Columns != nil {
			u.Columns = append([]string(nil), p.Columns...)
		}
		if p.SetFilters {
			if len(p.Filters) > 50 {
				return fmt.Errorf("%w: at most 50 saved filters", ErrInput)
			}
			u.Filters = append([]SavedFilter(nil), p.Filters...)
		}
		c := *u
		out = &c
		if len(changed) > 0 {
			return record(tx, Event{Time: s.now().UTC(), Kind: EventSettings, Actor: login, Login: login, Merchant: u.Merchant, Detail: strings.Join(changed, ", ")})
		}
		return nil
	})
	return out, err
}

// update changes one user in a transaction.
func (s *Store) update(login string, fn func(tx *bolt.Tx, u *User) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		u, err := getUser(b, login)
		if err != nil {
			return err
		}
		if err := fn(tx, u); err != nil {
			return err
		}
		return putUser(b, u)
	})
}

func getUser(b *bolt.Bucket, login string) (*User, error) {
	v := b.Get([]byte(login))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, login)
	}
	var u User
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("users: decode %s: %w", login, err)
	}
	return &u, nil
}

func putUser(b *bolt.Bucket, u *User) error {
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return b.Put([]byte(u.Login), v)
}
