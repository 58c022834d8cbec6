//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/tulpar-switch/tulpar/hsm"
)

// metaFormat marks the CKA_ID of the key objects this package made; other
// objects in the token are left alone.
const metaFormat = "tulpar-key/1"

// meta is a key object's CKA_ID: what the token cannot say about the key
// (what it is for, which version, where it came from) and its check value.
type meta struct {
	Format  string        `json:"tulpar"`
	Type    hsm.KeyType   `json:"type"`
	Alg     hsm.Algorithm `json:"alg"`
	Version uint32        `json:"v"`
	// Part is "" for the key, partK1 for the K‖K object of a retail-MAC key.
	Part    string    `json:"part,omitempty"`
	KCV     string    `json:"kcv"`
	Created time.Time `json:"created"`
	Origin  string    `json:"origin"`
}

const partK1 = "k1"

func parseMeta(b []byte) (meta, bool) {
	var md meta
	if json.Unmarshal(b, &md) != nil || md.Format != metaFormat || md.Version == 0 {
		return meta{}, false
	}
	if alg, err := hsm.CheckAlgorithm(md.Type, md.Alg); err != nil || alg != md.Alg {
		return meta{}, false
	}
	return md, true
}

// version is one key version in the token.
type version struct {
	info hsm.KeyInfo
	obj  p11.ObjectHandle // the key
	k1   p11.ObjectHandle // retail MAC: K‖K
}

func isDES(alg hsm.Algorithm) bool {
	return alg == hsm.AlgTDES || alg == hsm.AlgRetailMAC || alg == hsm.AlgRetailMACPad2
}

func isRetail(alg hsm.Algorithm) bool {
	return alg == hsm.AlgRetailMAC || alg == hsm.AlgRetailMACPad2
}

func keyType(alg hsm.Algorithm) uint {
	switch {
	case isDES(alg):
		return p11.CKK_DES2
	case alg == hsm.AlgHMACSHA256:
		return p11.CKK_GENERIC_SECRET
	default:
		return p11.CKK_AES
	}
}

// usage is what a key object may do: only what its job needs.
type usage struct{ encrypt, decrypt, sign, verify, unwrap bool }

func (m *Module) usage(t hsm.KeyType, alg hsm.Algorithm) usage {
	switch t {
	case hsm.KeyZMK:
		// Decrypt only where a TDES key change must be decrypted for the
		// host to re-enter (no TDES unwrap in the token), and only when the
		// operator allowed it.
		return usage{unwrap: true, decrypt: alg == hsm.AlgTDES && !m.des3Unwrap && m.hostUnwrap}
	case hsm.KeyMAC:
		if isRetail(alg) {
			return usage{encrypt: true}
		}
		return usage{sign: true, verify: true}
	case hsm.KeyDEK:
		return usage{encrypt: true, decrypt: true}
	default: // CVK, token keys: HMAC
		return usage{sign: true, verify: true}
	}
}

func keyTemplate(id string, md meta, u usage) ([]*p11.Attribute, error) {
	rec, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	return []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, keyType(md.Alg)),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_LABEL, id),
		p11.NewAttribute(p11.CKA_ID, rec),
		p11.NewAttribute(p11.CKA_ENCRYPT, u.encrypt),
		p11.NewAttribute(p11.CKA_DECRYPT, u.decrypt),
		p11.NewAttribute(p11.CKA_SIGN, u.sign),
		p11.NewAttribute(p11.CKA_VERIFY, u.verify),
		p11.NewAttribute(p11.CKA_WRAP, false),
		p11.NewAttribute(p11.CKA_UNWRAP, u.unwrap),
		p11.NewAttribute(p11.CKA_DERIVE, false),
	}, nil
}

// twinTemplate is a session copy of a key that may compute its check value:
// TDES keys encrypt, the others (AES, and HMAC keys taken as AES-256 keys,
// as the software module does) sign with CMAC.
func twinTemplate(alg hsm.Algorithm) []*p11.Attribute {
	kt := uint(p11.CKK_AES)
	if isDES(alg) {
		kt = p11.CKK_DES2
	}
	return []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, kt),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_ENCRYPT, isDES(alg)),
		p11.NewAttribute(p11.CKA_DECRYPT, false),
		p11.NewAttribute(p11.CKA_SIGN, !isDES(alg)),
		p11.NewAttribute(p11.CKA_VERIFY, false),
		p11.NewAttribute(p11.CKA_WRAP, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
		p11.NewAttribute(p11.CKA_DERIVE, false),
	}
}

// material makes key objects that all hold the same secret: derived in the
// token, unwrapped in the token, or entered from clear bytes.
type material interface {
	// object makes an object of template tmpl holding the key or, with
	// half, the left half of a double-length DES key twice (K‖K).
	object(s p11.SessionHandle, half bool, tmpl []*p11.Attribute) (p11.ObjectHandle, error)
}

func doubleLeft(b []byte) []byte { return append(b[:8:8], b[:8]...) }

// derived keys are the token's encryption of data under a random session
// key: ECB, so the K‖K object of a retail-MAC key is the derivation of the
// data's first block twice.
type derived struct {
	lib      *p11.Ctx
	base     p11.ObjectHandle
	mech     uint
	data     []byte
	valueLen int // CKA_VALUE_LEN for AES and generic keys, 0 for DES
}

func (d derived) object(s p11.SessionHandle, half bool, tmpl []*p11.Attribute) (p11.ObjectHandle, error) {
	data := d.data
	if half {
		data = doubleLeft(data)
	}
	if d.valueLen > 0 {
		tmpl = append(slices.Clip(tmpl), p11.NewAttribute(p11.CKA_VALUE_LEN, d.valueLen))
	}
	prm, free, err := derivationString(data)
	if err != nil {
		return 0, err
	}
	defer free()
	return d.lib.DeriveKey(s, []*p11.Mechanism{p11.NewMechanism(d.mech, prm)}, d.base, tmpl)
}

var errNoSplit = errors.New("a retail-MAC key's DES halves cannot be split out of a key unwrapped with AES key wrap")

// unwrapped keys come from a bank's key under a ZMK, unwrapped by the
// token. Under TDES-ECB each half is its own block, so K‖K is the
// unwrapping of the first block twice.
type unwrapped struct {
	lib  *p11.Ctx
	zmk  p11.ObjectHandle
	mech uint
	blob []byte
}

func (u unwrapped) object(s p11.SessionHandle, half bool, tmpl []*p11.Attribute) (p11.ObjectHandle, error) {
	blob := u.blob
	if half {
		if u.mech != p11.CKM_DES3_ECB {
			return 0, errNoSplit
		}
		blob = doubleLeft(blob)
	}
	return u.lib.UnwrapKey(s, []*p11.Mechanism{p11.NewMechanism(u.mech, nil)}, u.zmk, blob, tmpl)
}

// clearKey is a key the switch holds in clear for a moment: a ZMK from
// components, or a key change the token could not unwrap itself.
type clearKey struct {
	lib   *p11.Ctx
	value []byte
}

func (c clearKey) object(s p11.SessionHandle, half bool, tmpl []*p11.Attribute) (p11.ObjectHandle, error) {
	v := c.value
	if half {
		v = doubleLeft(v)
		defer clear(v)
	}
	return c.lib.CreateObject(s, append(slices.Clip(tmpl), p11.NewAttribute(p11.CKA_VALUE, v)))
}

// kcvOf computes a key's check value in the token, on a session twin.
func (m *Module) kcvOf(s p11.SessionHandle, alg hsm.Algorithm, mat material) (string, error) {
	twin, err := mat.object(s, false, twinTemplate(alg))
	if err != nil {
		return "", err
	}
	defer m.lib.DestroyObject(s, twin)
	var out []byte
	if isDES(alg) {
		if err = m.lib.EncryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_DES3_ECB, nil)}, twin); err == nil {
			out, err = m.lib.Encrypt(s, make([]byte, 8))
		}
	} else {
		if err = m.lib.SignInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_CMAC, nil)}, twin); err == nil {
			out, err = m.lib.Sign(s, make([]byte, 16))
		}
	}
	if err != nil {
		return "", fmt.Errorf("check value: %w", err)
	}
	if len(out) < 3 {
		return "", errors.New("check value: short output from the token")
	}
	return strings.ToUpper(hex.EncodeToString(out[:3])), nil
}

// generate returns fresh key material of alg, derived from a random session
// key the token generates, and the function that destroys that key.
func (m *Module) generate(s p11.SessionHandle, alg hsm.Algorithm) (material, func(), error) {
	n := alg.KeyLen()
	genMech, deriveMech, valueLen := uint(p11.CKM_AES_KEY_GEN), uint(p11.CKM_AES_ECB_ENCRYPT_DATA), n
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, false), p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false), p11.NewAttribute(p11.CKA_DERIVE, true),
		p11.NewAttribute(p11.CKA_ENCRYPT, false), p11.NewAttribute(p11.CKA_DECRYPT, false),
	}
	if isDES(alg) {
		genMech, deriveMech, valueLen = p11.CKM_DES3_KEY_GEN, p11.CKM_DES3_ECB_ENCRYPT_DATA, 0
	} else {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_VALUE_LEN, 32))
	}
	base, err := m.lib.GenerateKey(s, []*p11.Mechanism{p11.NewMechanism(genMech, nil)}, tmpl)
	if err != nil {
		return nil, nil, fmt.Errorf("generate: %w", err)
	}
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		m.lib.DestroyObject(s, base)
		return nil, nil, err
	}
	return derived{lib: m.lib, base: base, mech: deriveMech, data: data, valueLen: valueLen},
		func() { m.lib.DestroyObject(s, base) }, nil
}

// find returns the objects matching tmpl.
func (m *Module) find(s p11.SessionHandle, tmpl []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := m.lib.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	var all []p11.ObjectHandle
	for {
		hs, _, err := m.lib.FindObjects(s, 100)
		if err != nil {
			m.lib.FindObjectsFinal(s)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	return all, m.lib.FindObjectsFinal(s)
}

// load reads the versions of key id from the token, oldest first. Only
// complete versions count: a crash between the objects of one version
// leaves it unseen.
func (m *Module) load(s p11.SessionHandle, id string) ([]*version, error) {
	hs, err := m.find(s, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_LABEL, id),
	})
	if err != nil {
		return nil, fmt.Errorf("key %s: find: %w", id, err)
	}
	byV := map[uint32]*version{}
	for _, h := range hs {
		attrs, err := m.lib.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
		if err != nil {
			continue
		}
		md, ok := parseMeta(attrs[0].Value)
		if !ok {
			continue
		}
		v := byV[md.Version]
		if v == nil {
			v = &version{}
			byV[md.Version] = v
		}
		switch md.Part {
		case "":
			v.obj = h
			v.info = hsm.KeyInfo{ID: id, Type: md.Type, Algorithm: md.Alg, Version: md.Version, KCV: md.KCV, Created: md.Created, Origin: md.Origin}
		case partK1:
			v.k1 = h
		}
	}
	var vs []*version
	for _, v := range byV {
		if v.obj == 0 || (isRetail(v.info.Algorithm) && v.k1 == 0) {
			continue
		}
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].info.Version < vs[j].info.Version })
	for _, v := range vs[min(1, len(vs)):] {
		if v.info.Type != vs[0].info.Type || v.info.Algorithm != vs[0].info.Algorithm {
			return nil, fmt.Errorf("key %s: versions of different types in the token", id)
		}
	}
	return vs, nil
}

// versions returns the versions of key id, from the cache or the token.
func (m *Module) versions(s p11.SessionHandle, id string) ([]*version, error) {
	m.mu.RLock()
	vs, ok := m.keys[id]
	m.mu.RUnlock()
	if ok {
		return vs, nil
	}
	vs, err := m.load(s, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("key %s: %w", id, hsm.ErrUnknownKey)
	}
	m.mu.Lock()
	m.keys[id] = vs
	m.mu.Unlock()
	return vs, nil
}

// typed returns the current version of id, checking its type.
func (m *Module) typed(s p11.SessionHandle, id string, t hsm.KeyType) (*version, error) {
	vs, err := m.versions(s, id)
	if err != nil {
		return nil, err
	}
	v := vs[len(vs)-1]
	if v.info.Type != t {
		return nil, fmt.Errorf("key %s is a %s key, want %s: %w", id, v.info.Type, t, hsm.ErrWrongKeyType)
	}
	return v, nil
}

// versionOf returns one version of id.
func (m *Module) versionOf(s p11.SessionHandle, id string, ver uint32) (*version, error) {
	vs, err := m.versions(s, id)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.info.Version == ver {
			return v, nil
		}
	}
	return nil, fmt.Errorf("key %s version %d: %w", id, ver, hsm.ErrUnknownKey)
}

// newKey is a key version to add.
type newKey struct {
	id     string
	t      hsm.KeyType
	alg    hsm.Algorithm
	origin string
	// material makes the key material in session s, and what to undo after.
	material func(s p11.SessionHandle) (material, func(), error)
	kcv      string // the check value it must have; "" none
	fresh    bool   // the id must be new (create)
	same     bool   // an import: the current version, if it is this key, is the answer
}

// add makes a new version of a key in the token: it computes the check
// value on a twin first, so a key that fails it is never stored, then makes
// the key's objects (the K‖K half first, so that a version is complete once
// its key object exists).
func (m *Module) add(ctx context.Context, nk newKey) (hsm.KeyInfo, error) {
	if !hsm.ValidKeyID(nk.id) {
		return hsm.KeyInfo{}, fmt.Errorf("key id %q: want 1 to 64 letters, digits, '_' or '-'", nk.id)
	}
	m.change.Lock()
	defer m.change.Unlock()
	var info hsm.KeyInfo
	err := m.do(ctx, func(s p11.SessionHandle) error {
		vs, err := m.load(s, nk.id)
		if err != nil {
			return err
		}
		var cur *version
		if len(vs) > 0 {
			cur = vs[len(vs)-1]
			if nk.fresh {
				return hsm.ErrKeyExists
			}
			if cur.info.Type != nk.t || cur.info.Algorithm != nk.alg {
				return fmt.Errorf("the token has it as %s %s, not %s %s", cur.info.Type, cur.info.Algorithm, nk.t, nk.alg)
			}
		}
		mat, undo, err := nk.material(s)
		if err != nil {
			return err
		}
		if undo != nil {
			defer undo()
		}
		kcv, err := m.kcvOf(s, nk.alg, mat)
		if err != nil {
			return err
		}
		if nk.kcv != "" && !hsm.KCVMatches(kcv, nk.kcv) {
			return fmt.Errorf("%w: key has KCV %s, expected %s; nothing stored", hsm.ErrKCVMismatch, kcv, strings.ToUpper(nk.kcv))
		}
		if cur != nil && nk.same && cur.info.KCV == kcv {
			info = cur.info
			info.Current = true
			return nil
		}
		md := meta{Format: metaFormat, Type: nk.t, Alg: nk.alg, Version: 1, KCV: kcv,
			Created: m.now().UTC().Truncate(time.Second), Origin: nk.origin}
		if cur != nil {
			md.Version = cur.info.Version + 1
		}
		v := &version{info: hsm.KeyInfo{ID: nk.id, Type: md.Type, Algorithm: md.Alg, Version: md.Version, KCV: kcv, Created: md.Created, Origin: md.Origin}}
		if isRetail(nk.alg) {
			half := md
			half.Part = partK1
			tmpl, err := keyTemplate(nk.id, half, usage{encrypt: true})
			if err != nil {
				return err
			}
			if v.k1, err = mat.object(s, true, tmpl); err != nil {
				return err
			}
		}
		tmpl, err := keyTemplate(nk.id, md, m.usage(nk.t, nk.alg))
		if err != nil {
			return err
		}
		if v.obj, err = mat.object(s, false, tmpl); err != nil {
			if v.k1 != 0 {
				m.lib.DestroyObject(s, v.k1)
			}
			return err
		}
		m.mu.Lock()
		m.keys[nk.id] = append(slices.Clip(vs), v)
		m.mu.Unlock()
		info = v.info
		info.Current = true
		return nil
	})
	return info, err
}

// Create generates a new key, version 1, in the token. An empty algorithm
// takes the type's default.
func (m *Module) Create(ctx context.Context, id string, t hsm.KeyType, alg hsm.Algorithm) (hsm.KeyInfo, error) {
	alg, err := hsm.CheckAlgorithm(t, alg)
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("create key %s: %w", id, err)
	}
	if err := m.zmkUsable(t, alg); err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("create key %s: %w", id, err)
	}
	info, err := m.add(ctx, newKey{id: id, t: t, alg: alg, origin: "generated in the token", fresh: true,
		material: func(s p11.SessionHandle) (material, func(), error) { return m.generate(s, alg) }})
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("create key %s: %w", id, err)
	}
	return info, nil
}

// Rotate generates a new version of an existing key in the token.
func (m *Module) Rotate(ctx context.Context, id string) (hsm.KeyInfo, error) {
	cur, err := m.Key(ctx, id)
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	info, err := m.add(ctx, newKey{id: id, t: cur.Type, alg: cur.Algorithm, origin: "generated in the token",
		material: func(s p11.SessionHandle) (material, func(), error) { return m.generate(s, cur.Algorithm) }})
	if err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	return info, nil
}

// InitKeys creates, in the token, every role key the configuration names
// that is not there yet, and returns those it created.
func (m *Module) InitKeys(ctx context.Context) ([]hsm.KeyInfo, error) {
	var made []hsm.KeyInfo
	for _, r := range m.cfg.Roles() {
		if r.ID == "" {
			continue
		}
		if _, err := m.Key(ctx, r.ID); err == nil {
			continue
		} else if !errors.Is(err, hsm.ErrUnknownKey) {
			return made, fmt.Errorf("%s: %w", r.Name, err)
		}
		info, err := m.Create(ctx, r.ID, r.Type, "")
		if err != nil {
			return made, fmt.Errorf("%s: %w", r.Name, err)
		}
		made = append(made, info)
	}
	return made, m.checkRoles(ctx)
}

// errHostUnwrap says why a key change needs allow_host_unwrap.
var errHostUnwrap = errors.New("the token cannot unwrap this key itself; set hsm.pkcs11.allow_host_unwrap " +
	"(tulpar keys: --allow-host-unwrap) to let it decrypt the key for the switch to enter at once")

// zmkUsable refuses a TDES ZMK that could never import anything: the
// token has no TDES-ECB unwrap and the host may not do it.
func (m *Module) zmkUsable(t hsm.KeyType, alg hsm.Algorithm) error {
	if t == hsm.KeyZMK && alg == hsm.AlgTDES && !m.des3Unwrap && !m.hostUnwrap {
		return fmt.Errorf("a TDES zone master key: %w", errHostUnwrap)
	}
	return nil
}

// ImportComponents enters a key from clear components (the key ceremony):
// they are XORed in the switch's memory, the key is created in the token,
// and it is kept only if its check value, computed by the token, matches
// kcv. The combined key is cleared; the caller clears the components.
func (m *Module) ImportComponents(ctx context.Context, id string, t hsm.KeyType, alg hsm.Algorithm, components [][]byte, kcv string) (hsm.KeyInfo, error) {
	fail := func(err error) (hsm.KeyInfo, error) { return hsm.KeyInfo{}, fmt.Errorf("import key %s: %w", id, err) }
	if alg == "" {
		return fail(errors.New("no algorithm given"))
	}
	if _, err := hsm.CheckAlgorithm(t, alg); err != nil {
		return fail(err)
	}
	if err := m.zmkUsable(t, alg); err != nil {
		return fail(err)
	}
	if len(components) < hsm.MinComponents {
		return fail(fmt.Errorf("%d component(s): dual control needs at least %d", len(components), hsm.MinComponents))
	}
	if len(kcv) < 4 {
		return fail(errors.New("the agreed check value is required (at least 4 hex digits)"))
	}
	n := alg.KeyLen()
	key := make([]byte, n)
	defer clear(key)
	for i, c := range components {
		if len(c) != n {
			return fail(fmt.Errorf("component %d has %d bytes; %s keys have %d", i+1, len(c), alg, n))
		}
		for j := range c {
			key[j] ^= c[j]
		}
	}
	info, err := m.add(ctx, newKey{id: id, t: t, alg: alg, kcv: kcv,
		origin: fmt.Sprintf("entered in clear, %d components", len(components)),
		material: func(p11.SessionHandle) (material, func(), error) {
			return clearKey{lib: m.lib, value: key}, nil, nil
		}})
	if err != nil {
		return fail(err)
	}
	return info, nil
}

// ImportKey implements [hsm.Module]: a key a bank sent under a zone master
// key, unwrapped in the token (see the package doc for when it cannot be),
// stored as a new version only if its check value matches the bank's. The
// same key sent twice is accepted once.
func (m *Module) ImportKey(ctx context.Context, req hsm.ImportRequest) (hsm.KeyInfo, error) {
	if req.Type == "" {
		req.Type = hsm.KeyMAC
	}
	fail := func(err error) (hsm.KeyInfo, error) {
		return hsm.KeyInfo{}, fmt.Errorf("import key %s under %s: %w", req.KeyID, req.ZMK, err)
	}
	if req.Type == hsm.KeyZMK {
		return fail(errors.New("a ZMK is not imported under another ZMK; enter it from components"))
	}
	if len(req.KCV) < 4 {
		return fail(errors.New("the bank's key check value is required"))
	}
	alg := req.Algorithm
	if alg == "" {
		if cur, err := m.Key(ctx, req.KeyID); err == nil {
			alg = cur.Algorithm
		}
	}
	if alg == "" {
		return fail(errors.New("algorithm is required for a new key"))
	}
	if _, err := hsm.CheckAlgorithm(req.Type, alg); err != nil {
		return fail(err)
	}
	info, err := m.add(ctx, newKey{id: req.KeyID, t: req.Type, alg: alg, kcv: req.KCV, same: true,
		origin: "imported under ZMK " + req.ZMK,
		material: func(s p11.SessionHandle) (material, func(), error) {
			zmk, err := m.typed(s, req.ZMK, hsm.KeyZMK)
			if err != nil {
				return nil, nil, err
			}
			return m.unwrapMaterial(s, zmk, alg, req.Wrapped)
		}})
	if err != nil {
		return fail(err)
	}
	return info, nil
}

// unwrapMaterial is the key in blob under zmk: unwrapped by the token where
// it can, or decrypted by the token for the switch to enter when it cannot
// and the operator allowed it.
func (m *Module) unwrapMaterial(s p11.SessionHandle, zmk *version, alg hsm.Algorithm, blob []byte) (material, func(), error) {
	n := alg.KeyLen()
	if zmk.info.Algorithm == hsm.AlgTDES {
		if len(blob) != n {
			return nil, nil, fmt.Errorf("a %s key under a TDES ZMK is %d bytes, got %d", alg, n, len(blob))
		}
		if m.des3Unwrap {
			return unwrapped{lib: m.lib, zmk: zmk.obj, mech: p11.CKM_DES3_ECB, blob: blob}, nil, nil
		}
		if !m.hostUnwrap {
			return nil, nil, errHostUnwrap
		}
		raw, err := m.decryptECB(s, zmk.obj, blob)
		if err != nil {
			return nil, nil, err
		}
		return clearKey{lib: m.lib, value: raw}, func() { clear(raw) }, nil
	}
	if len(blob) != n+8 {
		return nil, nil, fmt.Errorf("a %s key under an AES ZMK (RFC 3394) is %d bytes, got %d", alg, n+8, len(blob))
	}
	kw := unwrapped{lib: m.lib, zmk: zmk.obj, mech: p11.CKM_AES_KEY_WRAP, blob: blob}
	if !isRetail(alg) {
		return kw, nil, nil
	}
	if !m.hostUnwrap {
		return nil, nil, fmt.Errorf("%w: %w", errNoSplit, errHostUnwrap)
	}
	raw, err := m.unwrapToHost(s, kw)
	if err != nil {
		return nil, nil, err
	}
	return clearKey{lib: m.lib, value: raw}, func() { clear(raw) }, nil
}

// decryptECB is the host-assisted import under a TDES ZMK.
func (m *Module) decryptECB(s p11.SessionHandle, zmk p11.ObjectHandle, blob []byte) ([]byte, error) {
	if err := m.lib.DecryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_DES3_ECB, nil)}, zmk); err != nil {
		return nil, fmt.Errorf("decrypt under the ZMK (was it entered with allow_host_unwrap?): %w", err)
	}
	raw, err := m.lib.Decrypt(s, blob)
	if err != nil {
		return nil, fmt.Errorf("decrypt under the ZMK: %w", err)
	}
	return raw, nil
}

// unwrapToHost is the host-assisted import of a retail-MAC key under an
// AES ZMK: unwrapped into a session object that may be read, read, and
// destroyed.
func (m *Module) unwrapToHost(s p11.SessionHandle, kw unwrapped) ([]byte, error) {
	h, err := kw.object(s, false, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_SENSITIVE, false),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
	})
	if err != nil {
		return nil, fmt.Errorf("unwrap: %w", err)
	}
	defer m.lib.DestroyObject(s, h)
	attrs, err := m.lib.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
	if err != nil {
		return nil, fmt.Errorf("unwrap: %w", err)
	}
	return attrs[0].Value, nil
}

// Key describes the current version of a key.
func (m *Module) Key(ctx context.Context, id string) (hsm.KeyInfo, error) {
	var info hsm.KeyInfo
	err := m.do(ctx, func(s p11.SessionHandle) error {
		vs, err := m.versions(s, id)
		if err != nil {
			return err
		}
		info = vs[len(vs)-1].info
		info.Current = true
		return nil
	})
	return info, err
}

// KeyVersion describes one version of a key.
func (m *Module) KeyVersion(ctx context.Context, id string, ver uint32) (hsm.KeyInfo, error) {
	var info hsm.KeyInfo
	err := m.do(ctx, func(s p11.SessionHandle) error {
		vs, err := m.versions(s, id)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.info.Version == ver {
				info = v.info
				info.Current = v == vs[len(vs)-1]
				return nil
			}
		}
		return fmt.Errorf("key %s version %d: %w", id, ver, hsm.ErrUnknownKey)
	})
	return info, err
}

// Keys describes every version of every key of this package in the token,
// by id then version.
func (m *Module) Keys(ctx context.Context) ([]hsm.KeyInfo, error) {
	var out []hsm.KeyInfo
	err := m.do(ctx, func(s p11.SessionHandle) error {
		hs, err := m.find(s, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_TOKEN, true),
		})
		if err != nil {
			return err
		}
		ids := map[string]bool{}
		for _, h := range hs {
			attrs, err := m.lib.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, nil), p11.NewAttribute(p11.CKA_ID, nil)})
			if err != nil {
				continue
			}
			if _, ok := parseMeta(attrs[1].Value); ok {
				ids[string(attrs[0].Value)] = true
			}
		}
		for id := range ids {
			vs, err := m.load(s, id)
			if err != nil {
				return err
			}
			for i, v := range vs {
				info := v.info
				info.Current = i == len(vs)-1
				out = append(out, info)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Version < out[j].Version
	})
	return out, err
}

// KCV implements [hsm.Module]: the check value the token computed when the
// current version was made.
func (m *Module) KCV(ctx context.Context, keyID string) (string, error) {
	info, err := m.Key(ctx, keyID)
	if err != nil {
		return "", fmt.Errorf("KCV: %w", err)
	}
	return info.KCV, nil
}
