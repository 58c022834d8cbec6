package hsm

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Kinds of security module, for Config.Kind.
const (
	// KindSoft is the software module, [Soft]: keys in a key store file
	// wrapped under a master key.
	KindSoft = "soft"
	// KindPKCS11 is a PKCS#11 token (a hardware security module, or
	// SoftHSM2 in tests): keys generated and used inside the token. Package
	// hsm/pkcs11 opens it; this package only knows its configuration.
	KindPKCS11 = "pkcs11"
)

// Config says which security module holds the keys, where their keys come
// from, and which key plays which role. The zero value is not usable; start
// from [DefaultConfig].
type Config struct {
	// Kind is KindSoft (the default when empty) or KindPKCS11.
	Kind string `yaml:"kind"`
	// PKCS11 is the token, for Kind pkcs11.
	PKCS11 PKCS11Config `yaml:"pkcs11"`

	// MasterKeyFile is a file holding the master key in hex, mode 0600
	// (`tulpar keys init-master` writes one). Empty: read MasterKeyEnv.
	MasterKeyFile string `yaml:"master_key_file"`
	// MasterKeyEnv names the environment variable holding the master key in
	// hex or base64 when MasterKeyFile is empty. Default TULPAR_MASTER_KEY.
	MasterKeyEnv string `yaml:"master_key_env"`
	// KeyStore is the key store file. Empty: an ephemeral in-memory store
	// with fresh keys for every role, for the demo and tests; nothing it
	// protects survives a restart.
	KeyStore string `yaml:"key_store"`

	// PANKey is the id of the data-encryption key for PANs at rest (in a
	// PKCS#11 token, ids are the keys' labels, as for every role). Default
	// "dek". Empty: EncryptPAN and DecryptPAN are refused.
	PANKey string `yaml:"pan_key"`
	// TokenKey is the id of the PAN token key. Default "token". Empty:
	// TokenizePAN is refused.
	TokenKey string `yaml:"token_key"`
	// CVVKey is the id of the CVV2 hashing key. Default "cvk". Empty:
	// HashCVV and VerifyCVV are refused (the switch itself never needs them;
	// the issuer simulator does).
	CVVKey string `yaml:"cvv_key"`
	// MACGrace is how long after a MAC key change a MAC made with the
	// previous version is still accepted, for messages already in flight when
	// the key changed. Default 2 minutes; negative: never.
	MACGrace time.Duration `yaml:"mac_grace"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		MasterKeyEnv: DefaultMasterKeyEnv,
		PANKey:       "dek",
		TokenKey:     "token",
		CVVKey:       "cvk",
		MACGrace:     2 * time.Minute,
	}
}

// PKCS11Config is a PKCS#11 token. The role keys (pan_key, token_key,
// cvv_key) and the links' MAC and zone master keys are found in the token by
// their id, which is the key object's label.
type PKCS11Config struct {
	// Module is the path of the token's PKCS#11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so for SoftHSM2. Required.
	Module string `yaml:"module"`
	// TokenLabel is the label the token was initialised with. Required.
	TokenLabel string `yaml:"token_label"`
	// PIN is the user PIN in clear. For tests and demos: a config file is
	// no place for a PIN. Set PIN or PINEnv, not both.
	PIN string `yaml:"pin"`
	// PINEnv names the environment variable holding the user PIN. Default
	// TULPAR_PKCS11_PIN when PIN is empty too.
	PINEnv string `yaml:"pin_env"`
	// Sessions is how many token sessions serve requests at once. Default 4.
	Sessions int `yaml:"sessions"`
	// AllowHostUnwrap lets a key change go through the switch's memory in
	// clear, for a moment, when the token cannot unwrap it itself: a key
	// under a TDES ZMK on a token without TDES-ECB unwrap (SoftHSM2 2.6 has
	// none), or a retail-MAC key under an AES ZMK (its DES halves cannot be
	// split inside any token). The token decrypts it and the switch
	// re-enters it at once. Default false: such key changes are refused,
	// and a TDES ZMK cannot be entered into such a token at all.
	AllowHostUnwrap bool `yaml:"allow_host_unwrap"`
}

// DefaultPKCS11PINEnv is the environment variable the token's user PIN is
// read from when neither hsm.pkcs11.pin nor hsm.pkcs11.pin_env is set.
const DefaultPKCS11PINEnv = "TULPAR_PKCS11_PIN"

// Validate checks the configuration; errors name the config key.
func (c Config) Validate() error {
	var errs []error
	switch c.Kind {
	case "", KindSoft:
	case KindPKCS11:
		p := c.PKCS11
		if p.Module == "" {
			errs = append(errs, errors.New("hsm.pkcs11.module: required for kind pkcs11 (the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)"))
		}
		if p.TokenLabel == "" {
			errs = append(errs, errors.New("hsm.pkcs11.token_label: required for kind pkcs11"))
		}
		if p.PIN != "" && p.PINEnv != "" {
			errs = append(errs, errors.New("hsm.pkcs11.pin and hsm.pkcs11.pin_env: set one, not both"))
		}
		if p.Sessions < 0 {
			errs = append(errs, fmt.Errorf("hsm.pkcs11.sessions: %d: want 0 (default) or more", p.Sessions))
		}
		if c.KeyStore != "" || c.MasterKeyFile != "" {
			errs = append(errs, errors.New("hsm.key_store and hsm.master_key_file: only for kind soft; a PKCS#11 token keeps its own keys"))
		}
	default:
		errs = append(errs, fmt.Errorf("hsm.kind: %q: want %s or %s", c.Kind, KindSoft, KindPKCS11))
	}
	for _, f := range []struct{ name, id string }{
		{"hsm.pan_key", c.PANKey}, {"hsm.token_key", c.TokenKey}, {"hsm.cvv_key", c.CVVKey},
	} {
		if f.id != "" && !ValidKeyID(f.id) {
			errs = append(errs, fmt.Errorf("%s: %q is not a valid key id", f.name, f.id))
		}
	}
	if c.Kind != KindPKCS11 && c.KeyStore != "" && c.MasterKeyFile == "" && c.MasterKeyEnv == "" {
		errs = append(errs, errors.New("hsm.master_key_file or hsm.master_key_env: one is needed to open hsm.key_store"))
	}
	return errors.Join(errs...)
}

// Role is a key the configuration names for one of the module's own jobs.
type Role struct {
	Name string  // the config key, e.g. "hsm.pan_key"
	ID   string  // the key id it names; "" when the role is switched off
	Type KeyType // the type the key must have
}

// Roles lists the key each configured role needs: every module checks at
// start-up that they exist with the right type, and `tulpar keys init`
// creates the missing ones.
func (c Config) Roles() []Role {
	return []Role{
		{"hsm.pan_key", c.PANKey, KeyDEK},
		{"hsm.token_key", c.TokenKey, KeyToken},
		{"hsm.cvv_key", c.CVVKey, KeyCVK},
	}
}

// Soft is the software security module: a [KeyStore] and the algorithms,
// in process. It is safe for concurrent use and never blocks.
type Soft struct {
	store *KeyStore
	cfg   Config
	now   func() time.Time
}

var _ Module = (*Soft)(nil)

// NewSoft returns a module over store. Every key the configuration names must
// be in the store with the right type, so a missing key is found at start-up,
// not on the first payment.
func NewSoft(store *KeyStore, cfg Config) (*Soft, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, r := range cfg.Roles() {
		if r.ID == "" {
			continue
		}
		info, err := store.Key(r.ID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (create it: tulpar keys create --type %s --id %s)", r.Name, err, r.Type, r.ID)
		}
		if info.Type != r.Type {
			return nil, fmt.Errorf("%s: key %s is a %s key, want %s: %w", r.Name, r.ID, info.Type, r.Type, ErrWrongKeyType)
		}
	}
	return &Soft{store: store, cfg: cfg, now: time.Now}, nil
}

// Open builds the module a configuration describes: it loads the master key
// and opens the key store file, or makes an ephemeral store when cfg.KeyStore
// is empty.
func Open(cfg Config) (*Soft, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kind == KindPKCS11 {
		return nil, errors.New("hsm: kind pkcs11: a PKCS#11 token is opened by package hsm/pkcs11, not hsm.Open")
	}
	if cfg.KeyStore == "" {
		return newEphemeral(cfg)
	}
	mk, err := LoadMasterKey(cfg.MasterKeyFile, cfg.MasterKeyEnv)
	if err != nil {
		return nil, fmt.Errorf("hsm: %w", err)
	}
	store, err := OpenKeyStore(cfg.KeyStore, mk)
	if err != nil {
		return nil, fmt.Errorf("hsm: %w", err)
	}
	return NewSoft(store, cfg)
}

// NewEphemeral returns a module over a memory store with a random master key
// and fresh keys for the default roles ("dek", "token", "cvk"). Add MAC keys
// with Store().Create or Store().ImportClear. For the demo and tests only:
// nothing it encrypts can be read after the process ends.
func NewEphemeral() (*Soft, error) { return newEphemeral(DefaultConfig()) }

func newEphemeral(cfg Config) (*Soft, error) {
	mk, err := GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	store, err := NewMemoryKeyStore(mk)
	if err != nil {
		return nil, err
	}
	for _, r := range cfg.Roles() {
		if r.ID == "" {
			continue
		}
		if _, err := store.Create(r.ID, r.Type, ""); err != nil {
			return nil, fmt.Errorf("ephemeral key store: %w", err)
		}
	}
	return NewSoft(store, cfg)
}

// Store is the module's key store, for key management.
func (m *Soft) Store() *KeyStore { return m.store }

// typed returns the current version of id, checking its type.
func (m *Soft) typed(id string, t KeyType) (*liveKey, error) {
	k, err := m.store.current(id)
	if err != nil {
		return nil, err
	}
	if k.info.Type != t {
		return nil, fmt.Errorf("key %s is a %s key, want %s: %w", id, k.info.Type, t, ErrWrongKeyType)
	}
	return k, nil
}

// GenerateMAC implements [Module].
func (m *Soft) GenerateMAC(_ context.Context, keyID string, data []byte) ([]byte, error) {
	k, err := m.typed(keyID, KeyMAC)
	if err != nil {
		return nil, fmt.Errorf("generate MAC: %w", err)
	}
	var out [macLen]byte
	k.mac(data, &out)
	return out[:], nil
}

// VerifyMAC implements [Module]. It accepts a MAC made under the current key
// version, or under the one before it for Config.MACGrace after the change.
func (m *Soft) VerifyMAC(_ context.Context, keyID string, data, mac []byte) error {
	vs, err := m.store.versions(keyID)
	if err != nil {
		return fmt.Errorf("verify MAC: %w", err)
	}
	cur := vs[len(vs)-1]
	if cur.info.Type != KeyMAC {
		return fmt.Errorf("verify MAC: key %s is a %s key: %w", keyID, cur.info.Type, ErrWrongKeyType)
	}
	if len(mac) != macLen {
		return fmt.Errorf("verify MAC with key %s: MAC of %d bytes, want %d: %w", keyID, len(mac), macLen, ErrMACMismatch)
	}
	var want [macLen]byte
	cur.mac(data, &want)
	if subtle.ConstantTimeCompare(want[:], mac) == 1 {
		return nil
	}
	if len(vs) > 1 && m.cfg.MACGrace > 0 && m.now().Sub(cur.info.Created) < m.cfg.MACGrace {
		vs[len(vs)-2].mac(data, &want)
		if subtle.ConstantTimeCompare(want[:], mac) == 1 {
			return nil
		}
	}
	return fmt.Errorf("verify MAC with key %s version %d: %w", keyID, cur.info.Version, ErrMACMismatch)
}

// KCV implements [Module].
func (m *Soft) KCV(_ context.Context, keyID string) (string, error) {
	k, err := m.store.current(keyID)
	if err != nil {
		return "", fmt.Errorf("KCV: %w", err)
	}
	return k.info.KCV, nil
}

// ImportKey implements [Module]. The same key sent twice (a bank repeating a
// key change it saw no answer to) is accepted once: the second import returns
// the version the first one made.
func (m *Soft) ImportKey(_ context.Context, req ImportRequest) (KeyInfo, error) {
	if req.Type == "" {
		req.Type = KeyMAC
	}
	fail := func(err error) (KeyInfo, error) {
		return KeyInfo{}, fmt.Errorf("import key %s under %s: %w", req.KeyID, req.ZMK, err)
	}
	if req.Type == KeyZMK {
		return fail(errors.New("a ZMK is not imported under another ZMK; enter it from components"))
	}
	if len(req.KCV) < minKCVDigits {
		return fail(errors.New("the bank's key check value is required"))
	}
	alg := req.Algorithm
	if existing, err := m.store.Key(req.KeyID); err == nil {
		if alg == "" {
			alg = existing.Algorithm
		}
	}
	if alg == "" {
		return fail(errors.New("algorithm is required for a new key"))
	}
	if _, err := checkTypeAlg(req.Type, alg); err != nil {
		return fail(err)
	}
	zmk, err := m.typed(req.ZMK, KeyZMK)
	if err != nil {
		return fail(err)
	}
	raw, err := zmk.unwrapUnder(req.Wrapped)
	if err != nil {
		return fail(err)
	}
	defer clear(raw)
	if len(raw) != keyLen[alg] {
		return fail(fmt.Errorf("unwrapped key is %d bytes, %s needs %d", len(raw), alg, keyLen[alg]))
	}
	kcv, err := kcvOf(alg, raw)
	if err != nil {
		return fail(err)
	}
	if !kcvMatches(kcv, req.KCV) {
		return fail(fmt.Errorf("%w: key unwraps to KCV %s, bank sent %s", ErrKCVMismatch, kcv, strings.ToUpper(req.KCV)))
	}
	if cur, err := m.store.Key(req.KeyID); err == nil && cur.KCV == kcv {
		return cur, nil
	}
	info, err := m.store.importKey(req.KeyID, req.Type, alg, raw, "imported under ZMK "+req.ZMK)
	if err != nil {
		return fail(err)
	}
	return info, nil
}

// ExportKey wraps the current version of keyID under a zone master key, for
// the bank's side of a key change (the issuer simulator sends 0800 with DE70
// 161). It returns the wrapped key and its check value.
func (m *Soft) ExportKey(_ context.Context, zmkID, keyID string) ([]byte, string, error) {
	zmk, err := m.typed(zmkID, KeyZMK)
	if err != nil {
		return nil, "", fmt.Errorf("export key %s under %s: %w", keyID, zmkID, err)
	}
	k, err := m.store.current(keyID)
	if err != nil {
		return nil, "", fmt.Errorf("export key %s under %s: %w", keyID, zmkID, err)
	}
	if k.info.Type == KeyZMK {
		return nil, "", fmt.Errorf("export key %s under %s: a ZMK is never exported", keyID, zmkID)
	}
	wrapped, err := zmk.wrapUnder(k.raw)
	if err != nil {
		return nil, "", fmt.Errorf("export key %s under %s: %w", keyID, zmkID, err)
	}
	return wrapped, k.info.KCV, nil
}

// InitKeyFiles gives cfg's files a fresh master key and a key store with
// the switch's default keys (PANKey, TokenKey, CVVKey), unless the key
// store exists already. The demo and tests that restart a switch on its
// data use it; a production switch gets its keys through `tulpar keys`.
func InitKeyFiles(cfg Config) error {
	if cfg.MasterKeyFile == "" || cfg.KeyStore == "" {
		return errors.New("hsm: init key files: master_key_file and key_store are required")
	}
	if _, err := os.Stat(cfg.KeyStore); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hsm: init key files: %w", err)
	}
	mk, err := GenerateMasterKey()
	if err != nil {
		return fmt.Errorf("hsm: init key files: %w", err)
	}
	if err := WriteMasterKeyFile(cfg.MasterKeyFile, mk); err != nil {
		return fmt.Errorf("hsm: init key files: %w", err)
	}
	store, err := CreateKeyStore(cfg.KeyStore, mk)
	if err != nil {
		return fmt.Errorf("hsm: init key files: %w", err)
	}
	for _, k := range []struct {
		id string
		t  KeyType
	}{{cfg.PANKey, KeyDEK}, {cfg.TokenKey, KeyToken}, {cfg.CVVKey, KeyCVK}} {
		if k.id == "" {
			continue
		}
		if _, err := store.Create(k.id, k.t, ""); err != nil {
			return fmt.Errorf("hsm: init key files: key %s: %w", k.id, err)
		}
	}
	return nil
}
