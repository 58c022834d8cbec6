//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/tulpar-switch/tulpar/hsm"
)

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
