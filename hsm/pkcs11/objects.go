//go:build cgo

package pkcs11

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
