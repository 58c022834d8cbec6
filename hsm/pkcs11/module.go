//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/tulpar-switch/tulpar/hsm"
)

// DefaultSessions is how many token sessions a Module keeps when
// hsm.pkcs11.sessions is 0.
const DefaultSessions = 4

// Module is the security module on a PKCS#11 token. It is safe for
// concurrent use; each operation takes one of its sessions.
type Module struct {
	cfg      hsm.Config
	lib      *p11.Ctx
	slot     uint
	pin      string
	sessions chan p11.SessionHandle
	size     int
	opened   int // sessions put in the pool, which Close takes back
	// des3Unwrap: the token unwraps with CKM_DES3_ECB (SoftHSM2 2.6 does
	// not); hostUnwrap: hsm.pkcs11.allow_host_unwrap.
	des3Unwrap, hostUnwrap bool
	now                    func() time.Time

	change sync.Mutex // one new key version at a time: versions are numbered from the token
	mu     sync.RWMutex
	keys   map[string][]*version // cache of the token's key versions, by id, oldest first

	closeOnce sync.Once
	closeErr  error
}

var _ hsm.Module = (*Module)(nil)

// required are the mechanisms every Module needs, and what for: a token
// without one is refused at start, not on the first payment.
var required = []struct {
	mech uint
	what string
}{
	{p11.CKM_AES_GCM, "PAN encryption"},
	{p11.CKM_SHA256_HMAC, "PAN tokens and CVV2 hashes"},
	{p11.CKM_AES_CMAC, "AES-CMAC MACs and AES key check values"},
	{p11.CKM_DES3_ECB, "the retail MAC and TDES key check values"},
	{p11.CKM_DES3_CBC, "the retail MAC"},
	{p11.CKM_AES_KEY_WRAP, "keys sent under an AES zone master key"},
	{p11.CKM_AES_KEY_GEN, "new keys"},
	{p11.CKM_DES3_KEY_GEN, "new TDES keys"},
	{p11.CKM_AES_ECB_ENCRYPT_DATA, "new keys (derived in the token)"},
	{p11.CKM_DES3_ECB_ENCRYPT_DATA, "new TDES keys (derived in the token)"},
}

// Open opens the token cfg.PKCS11 names, logs in and checks that every key
// the configuration's roles name is there with the right type, so that a
// missing key is found at start-up.
func Open(cfg hsm.Config) (*Module, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.checkRoles(context.Background()); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// New opens the token without checking the role keys: for `tulpar keys`,
// which creates them.
func New(cfg hsm.Config) (*Module, error) {
	if cfg.Kind != hsm.KindPKCS11 {
		return nil, fmt.Errorf("pkcs11: hsm.kind is %q, not %s", cfg.Kind, hsm.KindPKCS11)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pc := cfg.PKCS11
	pin := pc.PIN
	if pin == "" {
		env := pc.PINEnv
		if env == "" {
			env = hsm.DefaultPKCS11PINEnv
		}
		if pin = os.Getenv(env); pin == "" {
			return nil, fmt.Errorf("hsm.pkcs11.pin_env: environment variable %s (the token's user PIN) is not set", env)
		}
	}
	size := pc.Sessions
	if size == 0 {
		size = DefaultSessions
	}
	lib, err := acquireLibrary(pc.Module)
	if err != nil {
		return nil, err
	}
	m := &Module{cfg: cfg, lib: lib, pin: pin, size: size, sessions: make(chan p11.SessionHandle, size),
		hostUnwrap: pc.AllowHostUnwrap, now: time.Now, keys: map[string][]*version{}}
	if err := m.open(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// open finds the slot, checks the mechanisms and fills the session pool.
func (m *Module) open() error {
	label := m.cfg.PKCS11.TokenLabel
	slots, err := m.lib.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("pkcs11: C_GetSlotList: %w", err)
	}
	found := false
	for _, s := range slots {
		ti, err := m.lib.GetTokenInfo(s)
		if err == nil && strings.TrimRight(ti.Label, " \x00") == label {
			m.slot, found = s, true
			break
		}
	}
	if !found {
		return fmt.Errorf("hsm.pkcs11.token_label: no token labelled %q in %s", label, m.cfg.PKCS11.Module)
	}
	mechs, err := m.lib.GetMechanismList(m.slot)
	if err != nil {
		return fmt.Errorf("pkcs11: token %s: C_GetMechanismList: %w", label, err)
	}
	have := map[uint]bool{}
	for _, mc := range mechs {
		have[mc.Mechanism] = true
	}
	var missing []string
	for _, r := range required {
		if !have[r.mech] {
			missing = append(missing, fmt.Sprintf("%#x (%s)", r.mech, r.what))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("pkcs11: token %s lacks mechanisms: %s", label, strings.Join(missing, ", "))
	}
	info, err := m.lib.GetMechanismInfo(m.slot, []*p11.Mechanism{p11.NewMechanism(p11.CKM_DES3_ECB, nil)})
	m.des3Unwrap = err == nil && info.Flags&p11.CKF_UNWRAP != 0
	for range m.size {
		s, err := m.newSession()
		if err != nil {
			return err
		}
		m.sessions <- s
		m.opened++
	}
	return nil
}

// newSession opens a read-write session and makes sure the application is
// logged in (a login holds for all its sessions).
func (m *Module) newSession() (p11.SessionHandle, error) {
	s, err := m.lib.OpenSession(m.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: token %s: C_OpenSession: %w", m.cfg.PKCS11.TokenLabel, err)
	}
	if err := m.lib.Login(s, p11.CKU_USER, m.pin); err != nil && !is(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
		m.lib.CloseSession(s)
		if is(err, p11.CKR_PIN_INCORRECT) {
			return 0, fmt.Errorf("hsm.pkcs11: token %s refused the user PIN: %w", m.cfg.PKCS11.TokenLabel, err)
		}
		return 0, fmt.Errorf("pkcs11: token %s: C_Login: %w", m.cfg.PKCS11.TokenLabel, err)
	}
	return s, nil
}

// brokenSession lists the return values after which a session is replaced
// rather than reused.
var brokenSession = []uint{
	p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED, p11.CKR_DEVICE_ERROR, p11.CKR_DEVICE_REMOVED,
	p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_OPERATION_ACTIVE, p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_GENERAL_ERROR,
}

// do runs fn with a session of the pool, waiting for one as long as ctx
// allows. A session fn leaves in a bad state is closed and replaced.
func (m *Module) do(ctx context.Context, fn func(s p11.SessionHandle) error) error {
	var s p11.SessionHandle
	select {
	case s = <-m.sessions:
	case <-ctx.Done():
		return fmt.Errorf("pkcs11: waiting for a token session: %w", ctx.Err())
	}
	err := fn(s)
	for _, rv := range brokenSession {
		if is(err, rv) {
			m.lib.CloseSession(s)
			fresh, oerr := m.newSession()
			if oerr != nil {
				// The pool shrinks by one; Close counts on it being full,
				// so put back a handle that is known to be closed.
				m.sessions <- s
				return errors.Join(err, oerr)
			}
			s = fresh
			break
		}
	}
	m.sessions <- s
	return err
}

// Close closes the module's sessions and, if it is the library's last
// user, finalises the library. It waits for operations in flight.
func (m *Module) Close() error {
	if m == nil {
		return nil
	}
	m.closeOnce.Do(func() {
		if m.lib == nil {
			return
		}
		for range m.opened {
			m.lib.CloseSession(<-m.sessions)
		}
		m.pin = ""
		m.closeErr = releaseLibrary(m.cfg.PKCS11.Module)
	})
	return m.closeErr
}

// checkRoles finds every role key, with its type.
func (m *Module) checkRoles(ctx context.Context) error {
	for _, r := range m.cfg.Roles() {
		if r.ID == "" {
			continue
		}
		info, err := m.Key(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("%s: %w (create it: tulpar keys init --pkcs11-module ... or tulpar keys create --type %s --id %s)", r.Name, err, r.Type, r.ID)
		}
		if info.Type != r.Type {
			return fmt.Errorf("%s: key %s is a %s key, want %s: %w", r.Name, r.ID, info.Type, r.Type, hsm.ErrWrongKeyType)
		}
	}
	return nil
}
