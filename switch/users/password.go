package users

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/tulpar-switch/tulpar/switch/authguard"
)

// Password hashing: argon2id at OWASP's minimum memory cost, the same as
// the merchant API's. Parameters are in each hash (PHC string), so they
// can be raised later without invalidating stored passwords.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	// MaxHashing is how many hashes a store computes at once when its
	// Config names no guard: each takes 19 MiB.
	MaxHashing = 2
)

// Password rules.
const (
	MinPassword = 10
	MaxPassword = 128
)

// ErrWeakPassword is wrapped when a new password breaks the rules.
var ErrWeakPassword = errors.New("password too weak")

// checkPassword applies the rules to a new password for login.
func checkPassword(login, pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPassword:
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPassword)
	case len(pw) > MaxPassword:
		return fmt.Errorf("%w: at most %d bytes", ErrWeakPassword, MaxPassword)
	case strings.EqualFold(pw, login):
		return fmt.Errorf("%w: must not be the login", ErrWeakPassword)
	}
	return nil
}

// hasher computes argon2id hashes in the slots of an authguard.Guard:
// the guard owns how many expensive password checks run at once, for the
// cabinet as for the merchant API, so a flood of sign-ins waits (briefly,
// then is told the switch is busy) rather than takes the memory.
type hasher struct {
	gate  *authguard.Guard
	dummy phc // verified for unknown logins, so they take as long as known ones
}

func newHasher(gate *authguard.Guard) (*hasher, error) {
	h := &hasher{gate: gate}
	d, err := h.hash(context.Background(), "a password no user has")
	if err != nil {
		return nil, err
	}
	h.dummy, err = parsePHC(d)
	return h, err
}

// run computes f in one of the gate's slots.
func (h *hasher) run(ctx context.Context, f func()) error {
	_, err := h.gate.Check(ctx, func() bool { f(); return true })
	if err != nil {
		return fmt.Errorf("users: waiting to check a password: %w", err)
	}
	return nil
}

// hash returns pw's argon2id PHC string.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("users: salt: %w", err)
	}
	var key []byte
	if err := h.run(ctx, func() { key = argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen) }); err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verify checks pw against a stored hash ("" or unparsable: against the
// dummy, and false).
func (h *hasher) verify(ctx context.Context, stored, pw string) (bool, error) {
	p, err := parsePHC(stored)
	known := err == nil
	if !known {
		p = h.dummy
	}
	var k []byte
	if err := h.run(ctx, func() { k = argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key))) }); err != nil {
		return false, err
	}
	return known && subtle.ConstantTimeCompare(k, p.key) == 1, nil
}

type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parsePHC(s string) (phc, error) {
	var p phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, errors.New("not an argon2id PHC string")
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, fmt.Errorf("parameter %q is not a number", k)
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			p.threads = uint8(min(n, 255))
		default:
			return p, fmt.Errorf("unknown parameter %q", k)
		}
	}
	// Bounded cost: a stored hash cannot make a sign-in take more than
	// 64 MiB or 10 passes.
	if p.memory < 8*uint32(max(p.threads, 1)) || p.memory > 64*1024 || p.time == 0 || p.time > 10 || p.threads == 0 {
		return p, errors.New("parameters out of range")
	}
	var err error
	b64 := base64.RawStdEncoding
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, errors.New("bad salt")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 {
		return p, errors.New("bad hash")
	}
	return p, nil
}

// tempAlphabet leaves out characters read one for another (0/O, 1/l/I).
const tempAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// TempPassword is a random temporary password of 14 characters.
func TempPassword() string {
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = tempAlphabet[int(b[i])%len(tempAlphabet)]
	}
	return string(b)
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
