package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/tulpar-switch/tulpar/switch/authguard"
)

// Passwords are argon2id with OWASP's minimum memory cost (19 MiB, two
// passes): every wrong password costs the caller that much, and the cache
// below keeps a merchant's honest calls from paying it each time.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns the argon2id PHC string of pw for password_hash.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("api: empty password")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("api: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parsePHC(s string) (phc, error) {
	var p phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, errors.New("not an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("argon2 version %q not supported", parts[2])
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
			if n > 255 {
				return p, errors.New("parameter p too large")
			}
			p.threads = uint8(n)
		default:
			return p, fmt.Errorf("unknown parameter %q", k)
		}
	}
	if p.memory < 8*uint32(max(p.threads, 1)) || p.time == 0 || p.threads == 0 || p.memory > 4<<20 || p.time > 100 {
		return p, errors.New("parameters m, t, p out of range")
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

func (p phc) verify(pw string) bool {
	k := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(k, p.key) == 1
}

// SHA256Hex is how tokens and API keys are stored in the config.
func SHA256Hex(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// authn checks credentials. Every comparison of secret material is
// constant-time; lookups are by SHA-256 of the secret, which tells an
// attacker nothing they could time.
type authn struct {
	guard   *authguard.Guard
	users   map[string]userCred
	secrets map[[32]byte]secretCred // sha256(token or key) → merchant
	dummy   phc                     // verified for unknown users, so they take as long as known ones

	// ok caches, per user, an HMAC of the last password that verified,
	// under a key that lives only in this process; a later call with the
	// same password is checked against it instead of paying argon2 again.
	mu     sync.Mutex
	ok     map[string]okEntry
	macKey []byte
	now    func() time.Time
}

// okEntry is a verified password's HMAC and when it stops being trusted:
// a changed password in the config must not live on in the cache.
type okEntry struct {
	sum     []byte
	expires time.Time
}

// okFor is how long a verified password spares its user argon2.
const okFor = 5 * time.Minute

// errLocked is a sign-in refused before any check: the credential or the
// client address is locked for retryAfter.
type errLocked struct{ retryAfter time.Duration }

func (e *errLocked) Error() string {
	return fmt.Sprintf("too many failed sign-ins; retry in %d s", int(e.retryAfter.Seconds()+0.999))
}

type userCred struct {
	m   *MerchantConfig
	phc phc
}

type secretCred struct {
	m      *MerchantConfig
	apiKey bool // an API key (JSON API); otherwise an RBS token
	hash   [32]byte
}

func newAuthn(cfg *Config, guard *authguard.Guard) (*authn, error) {
	a := &authn{guard: guard, users: map[string]userCred{}, secrets: map[[32]byte]secretCred{}, ok: map[string]okEntry{}, macKey: make([]byte, 32)}
	if _, err := rand.Read(a.macKey); err != nil {
		return nil, err
	}
	dummy, err := HashPassword("dummy password for unknown users")
	if err != nil {
		return nil, err
	}
	a.dummy, _ = parsePHC(dummy)
	a.now = time.Now
	for i := range cfg.Merchants {
		m := &cfg.Merchants[i]
		if m.UserName != "" {
			p, err := parsePHC(m.PasswordHash)
			if err != nil {
				return nil, fmt.Errorf("api: merchants[%d].password_hash: %w", i, err)
			}
			a.users[m.UserName] = userCred{m, p}
		}
		add := func(h string, apiKey bool) {
			var k [32]byte
			b, _ := hex.DecodeString(h)
			copy(k[:], b)
			a.secrets[k] = secretCred{m, apiKey, k}
		}
		if m.Token != "" {
			add(m.Token, false)
		}
		for _, k := range m.APIKeys {
			add(k, true)
		}
	}
	return a, nil
}

// password checks an RBS user name and password from addr. It answers
// *errLocked while the user or the address is locked out, and
// authguard.ErrBusy when too many checks run at once; a wrong password is
// (nil, nil) and counts towards the lockout.
func (a *authn) password(ctx context.Context, user, pw, addr string) (*MerchantConfig, error) {
	cred := "user:" + user
	if wait, ok := a.guard.Allow(cred, addr); !ok {
		return nil, &errLocked{wait}
	}
	u, known := a.users[user]
	mac := hmac.New(sha256.New, a.macKey)
	mac.Write([]byte(pw))
	sum := mac.Sum(nil)
	if known {
		a.mu.Lock()
		cached := a.ok[user]
		a.mu.Unlock()
		if cached.sum != nil && a.now().Before(cached.expires) && hmac.Equal(cached.sum, sum) {
			a.guard.Succeeded(cred, addr)
			return u.m, nil
		}
	}
	var good bool
	ok, err := a.guard.Check(ctx, func() bool {
		if !known {
			a.dummy.verify(pw) // unknown users take as long as known ones
			return false
		}
		good = u.phc.verify(pw)
		return good
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		a.guard.Failed(cred, addr)
		return nil, nil
	}
	a.guard.Succeeded(cred, addr)
	a.mu.Lock()
	a.ok[user] = okEntry{sum, a.now().Add(okFor)}
	a.mu.Unlock()
	return u.m, nil
}

// secret checks an RBS token or a JSON API key from addr: cheap to check,
// but guessing them is limited by address like passwords.
func (a *authn) secret(s string, apiKey bool, addr string) (*MerchantConfig, error) {
	if wait, ok := a.guard.Allow("secret", addr); !ok {
		return nil, &errLocked{wait}
	}
	if s == "" {
		return nil, nil
	}
	h := sha256.Sum256([]byte(s))
	c, ok := a.secrets[h]
	if !ok || c.apiKey != apiKey || subtle.ConstantTimeCompare(c.hash[:], h[:]) != 1 {
		// No per-credential lockout for a secret nobody holds: only the
		// address is counted.
		a.guard.Failed("secret:"+addr, addr)
		return nil, nil
	}
	return c.m, nil
}
