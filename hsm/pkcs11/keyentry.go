//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/tulpar-switch/tulpar/hsm"
)

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
