package hsm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// storeFormat names the key store file layout; it is checked on load.
const storeFormat = "tulpar-keystore/1"

// maxStoreFile bounds what is read from a key store file.
const maxStoreFile = 16 << 20

// storeFile is the key store as written to disk: JSON, every key version
// wrapped under the master key, nothing in clear. The wrapped bytes are
// kept exactly as first written; rewriting the file never re-wraps a key.
type storeFile struct {
	Format    string      `json:"format"`
	MasterKCV string      `json:"master_kcv"`
	Keys      []keyRecord `json:"keys"`
}

type keyRecord struct {
	ID        string          `json:"id"`
	Type      KeyType         `json:"type"`
	Algorithm Algorithm       `json:"alg"`
	Versions  []versionRecord `json:"versions"`
}

type versionRecord struct {
	Version uint32    `json:"version"`
	KCV     string    `json:"kcv"`
	Created time.Time `json:"created"`
	Origin  string    `json:"origin"`
	// Wrapped is nonce || AES-256-GCM(master key, key), with the key's id,
	// type, algorithm and version as associated data, so a wrapped key cannot
	// be moved to another record or relabelled as another type.
	Wrapped []byte `json:"wrapped"`
}

// KeyStore holds keys wrapped under a master key, in a JSON file or in memory
// only. Every key version is unwrapped once, when it is loaded or created, and
// kept ready for use; the clear keys never leave the package.
//
// A KeyStore is safe for concurrent use. Two processes changing the same file
// at once are not coordinated: the operator's `tulpar keys` commands are
// meant to run while the daemon is stopped, or against a copy.
type KeyStore struct {
	mu     sync.RWMutex
	path   string // "" for a memory store
	master MasterKey
	wrap   cipher.AEAD
	file   storeFile
	keys   map[string]*keyEntry
	now    func() time.Time
}

// keyEntry is one key with all its versions, oldest first.
type keyEntry struct {
	versions []*liveKey
}

func (e *keyEntry) current() *liveKey { return e.versions[len(e.versions)-1] }

func (e *keyEntry) version(v uint32) *liveKey {
	for _, k := range e.versions {
		if k.info.Version == v {
			return k
		}
	}
	return nil
}

// NewMemoryKeyStore returns an empty key store that lives only in memory.
func NewMemoryKeyStore(mk MasterKey) (*KeyStore, error) {
	return newKeyStore("", mk)
}

// CreateKeyStore creates an empty key store file (mode 0600). It fails if the
// file exists.
func CreateKeyStore(path string, mk MasterKey) (*KeyStore, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("key store %s: %w", path, os.ErrExist)
	}
	s, err := newKeyStore(path, mk)
	if err != nil {
		return nil, err
	}
	if err := s.persist(s.file); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenKeyStore loads a key store file, unwraps every key version under mk and
// checks each one against its recorded check value.
func OpenKeyStore(path string, mk MasterKey) (*KeyStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStoreFile+1))
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	if len(data) > maxStoreFile {
		return nil, fmt.Errorf("key store %s: larger than %d bytes: %w", path, maxStoreFile, ErrBadKeyStore)
	}
	s, err := newKeyStore(path, mk)
	if err != nil {
		return nil, err
	}
	if err := s.load(data); err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	return s, nil
}

func newKeyStore(path string, mk MasterKey) (*KeyStore, error) {
	if !mk.valid() {
		return nil, errors.New("key store: no master key")
	}
	b, err := aes.NewCipher(mk.k[:])
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	gcm, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	return &KeyStore{
		path:   path,
		master: mk,
		wrap:   gcm,
		file:   storeFile{Format: storeFormat, MasterKCV: mk.KCV(), Keys: []keyRecord{}},
		keys:   make(map[string]*keyEntry),
		now:    time.Now,
	}, nil
}

// load parses and checks a key store file. It is the parser of outside input
// that FuzzLoadKeyStore exercises.
func (s *KeyStore) load(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f storeFile
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%w: %v", ErrBadKeyStore, err)
	}
	if f.Format != storeFormat {
		return fmt.Errorf("%w: format %q, want %q", ErrBadKeyStore, f.Format, storeFormat)
	}
	if !strings.EqualFold(f.MasterKCV, s.master.KCV()) {
		return fmt.Errorf("%w: store was made under master key KCV %q, this one is %s", ErrWrongMasterKey, f.MasterKCV, s.master.KCV())
	}
	keys := make(map[string]*keyEntry, len(f.Keys))
	for _, rec := range f.Keys {
		if !ValidKeyID(rec.ID) {
			return fmt.Errorf("%w: invalid key id %q", ErrBadKeyStore, rec.ID)
		}
		if _, dup := keys[rec.ID]; dup {
			return fmt.Errorf("%w: key %s appears twice", ErrBadKeyStore, rec.ID)
		}
		if alg, err := checkTypeAlg(rec.Type, rec.Algorithm); err != nil || alg != rec.Algorithm {
			return fmt.Errorf("%w: key %s: type %q with algorithm %q", ErrBadKeyStore, rec.ID, rec.Type, rec.Algorithm)
		}
		if len(rec.Versions) == 0 {
			return fmt.Errorf("%w: key %s has no versions", ErrBadKeyStore, rec.ID)
		}
		e := &keyEntry{}
		for i, v := range rec.Versions {
			if v.Version == 0 || (i > 0 && v.Version <= rec.Versions[i-1].Version) {
				return fmt.Errorf("%w: key %s: versions out of order", ErrBadKeyStore, rec.ID)
			}
			raw, err := s.unwrap(rec, v)
			if err != nil {
				return fmt.Errorf("key %s version %d: %w", rec.ID, v.Version, err)
			}
			lk, err := newLiveKey(KeyInfo{
				ID: rec.ID, Type: rec.Type, Algorithm: rec.Algorithm, Version: v.Version,
				Created: v.Created, Origin: v.Origin,
			}, raw)
			if err != nil {
				return fmt.Errorf("%w: key %s version %d: %v", ErrBadKeyStore, rec.ID, v.Version, err)
			}
			if !strings.EqualFold(lk.info.KCV, v.KCV) {
				return fmt.Errorf("%w: key %s version %d: check value %s, recorded %q", ErrBadKeyStore, rec.ID, v.Version, lk.info.KCV, v.KCV)
			}
			e.versions = append(e.versions, lk)
		}
		keys[rec.ID] = e
	}
	if f.Keys == nil {
		f.Keys = []keyRecord{}
	}
	s.file, s.keys = f, keys
	return nil
}

func wrapAAD(id string, t KeyType, alg Algorithm, version uint32) []byte {
	aad := make([]byte, 0, 64)
	aad = append(aad, storeFormat...)
	for _, f := range []string{id, string(t), string(alg)} {
		aad = append(aad, 0)
		aad = append(aad, f...)
	}
	aad = append(aad, 0)
	return binary.BigEndian.AppendUint32(aad, version)
}

func (s *KeyStore) wrapKey(id string, t KeyType, alg Algorithm, version uint32, raw []byte) ([]byte, error) {
	nonce := make([]byte, s.wrap.NonceSize(), s.wrap.NonceSize()+len(raw)+s.wrap.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return s.wrap.Seal(nonce, nonce, raw, wrapAAD(id, t, alg, version)), nil
}

func (s *KeyStore) unwrap(rec keyRecord, v versionRecord) ([]byte, error) {
	ns := s.wrap.NonceSize()
	if len(v.Wrapped) < ns+s.wrap.Overhead() {
		return nil, fmt.Errorf("%w: wrapped key too short", ErrBadKeyStore)
	}
	raw, err := s.wrap.Open(nil, v.Wrapped[:ns], v.Wrapped[ns:], wrapAAD(rec.ID, rec.Type, rec.Algorithm, v.Version))
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key fails authentication", ErrBadKeyStore)
	}
	return raw, nil
}

// Path is the key store file, or "" for a memory store.
func (s *KeyStore) Path() string { return s.path }

// MasterKCV is the check value of the master key the store is wrapped under.
func (s *KeyStore) MasterKCV() string { return s.file.MasterKCV }

// Create generates a new key, version 1. An empty algorithm takes the type's
// default (see [Algorithms]).
func (s *KeyStore) Create(id string, t KeyType, alg Algorithm) (KeyInfo, error) {
	alg, err := checkTypeAlg(t, alg)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("create key %s: %w", id, err)
	}
	raw, err := generateKey(alg)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("create key %s: %w", id, err)
	}
	defer clear(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; ok {
		return KeyInfo{}, fmt.Errorf("create key %s: %w", id, ErrKeyExists)
	}
	return s.addVersionLocked(id, t, alg, raw, "generated")
}

// Rotate generates a new version of an existing key. The new version protects
// new data from now on; the old ones stay for decryption and verification.
func (s *KeyStore) Rotate(id string) (KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[id]
	if !ok {
		return KeyInfo{}, fmt.Errorf("rotate key %s: %w", id, ErrUnknownKey)
	}
	cur := e.current().info
	raw, err := generateKey(cur.Algorithm)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	defer clear(raw)
	return s.addVersionLocked(id, cur.Type, cur.Algorithm, raw, "generated")
}

// ImportClear stores a key given in clear: a new key, or a new version of an
// existing one of the same type and algorithm. It is the key ceremony's way in
// (components already combined) and the way tests load published test keys;
// keys from a bank arrive wrapped, through [Soft.ImportKey].
func (s *KeyStore) ImportClear(id string, t KeyType, alg Algorithm, key []byte) (KeyInfo, error) {
	return s.importKey(id, t, alg, key, "entered in clear")
}

func (s *KeyStore) importKey(id string, t KeyType, alg Algorithm, key []byte, origin string) (KeyInfo, error) {
	if alg == "" {
		return KeyInfo{}, fmt.Errorf("import key %s: no algorithm given", id)
	}
	if _, err := checkTypeAlg(t, alg); err != nil {
		return KeyInfo{}, fmt.Errorf("import key %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[id]; ok {
		cur := e.current().info
		if cur.Type != t || cur.Algorithm != alg {
			return KeyInfo{}, fmt.Errorf("import key %s: store has it as %s %s, not %s %s", id, cur.Type, cur.Algorithm, t, alg)
		}
	}
	return s.addVersionLocked(id, t, alg, key, origin)
}

// addVersionLocked wraps raw, writes the file with the new version and only
// then makes the version visible, so a failed write changes nothing.
func (s *KeyStore) addVersionLocked(id string, t KeyType, alg Algorithm, raw []byte, origin string) (KeyInfo, error) {
	if !ValidKeyID(id) {
		return KeyInfo{}, fmt.Errorf("key id %q: want 1 to 64 letters, digits, '_' or '-'", id)
	}
	if n := keyLen[alg]; len(raw) != n {
		return KeyInfo{}, fmt.Errorf("key %s: %s key must be %d bytes, got %d", id, alg, n, len(raw))
	}
	version := uint32(1)
	e := s.keys[id]
	if e != nil {
		version = e.current().info.Version + 1
	}
	lk, err := newLiveKey(KeyInfo{
		ID: id, Type: t, Algorithm: alg, Version: version,
		Created: s.now().UTC().Truncate(time.Second), Origin: origin,
	}, bytes.Clone(raw))
	if err != nil {
		return KeyInfo{}, fmt.Errorf("key %s: %w", id, err)
	}
	wrapped, err := s.wrapKey(id, t, alg, version, raw)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("key %s: wrap: %w", id, err)
	}
	vr := versionRecord{Version: version, KCV: lk.info.KCV, Created: lk.info.Created, Origin: origin, Wrapped: wrapped}

	next := storeFile{Format: s.file.Format, MasterKCV: s.file.MasterKCV, Keys: make([]keyRecord, 0, len(s.file.Keys)+1)}
	found := false
	for _, rec := range s.file.Keys {
		if rec.ID == id {
			rec.Versions = append(slices.Clip(rec.Versions), vr)
			found = true
		}
		next.Keys = append(next.Keys, rec)
	}
	if !found {
		next.Keys = append(next.Keys, keyRecord{ID: id, Type: t, Algorithm: alg, Versions: []versionRecord{vr}})
		sort.Slice(next.Keys, func(i, j int) bool { return next.Keys[i].ID < next.Keys[j].ID })
	}
	if err := s.persist(next); err != nil {
		return KeyInfo{}, err
	}
	s.file = next
	if e == nil {
		e = &keyEntry{}
		s.keys[id] = e
	}
	// A new slice, so readers holding the old one never see it change.
	e.versions = append(slices.Clip(e.versions), lk)
	info := lk.info
	info.Current = true
	return info, nil
}

// persist writes f atomically: a temporary file in the same directory,
// synced, renamed over the old one, and the directory synced.
func (s *KeyStore) persist(f storeFile) error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("key store %s: %w", s.path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("key store %s: %w", s.path, err)
	}
	tmpName := tmp.Name()
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmpName, s.path)
	}
	if err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("key store %s: write: %w", s.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Keys describes every version of every key, by id then version.
func (s *KeyStore) Keys() []KeyInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []KeyInfo
	for _, e := range s.keys {
		for _, k := range e.versions {
			info := k.info
			info.Current = k == e.current()
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// Key describes the current version of a key.
func (s *KeyStore) Key(id string) (KeyInfo, error) {
	k, err := s.current(id)
	if err != nil {
		return KeyInfo{}, err
	}
	info := k.info
	info.Current = true
	return info, nil
}

// KeyVersion describes one version of a key.
func (s *KeyStore) KeyVersion(id string, version uint32) (KeyInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.keys[id]
	if !ok {
		return KeyInfo{}, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	k := e.version(version)
	if k == nil {
		return KeyInfo{}, fmt.Errorf("key %s version %d: %w", id, version, ErrUnknownKey)
	}
	info := k.info
	info.Current = k == e.current()
	return info, nil
}

func (s *KeyStore) current(id string) (*liveKey, error) {
	s.mu.RLock()
	e, ok := s.keys[id]
	var k *liveKey
	if ok {
		k = e.current()
	}
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	return k, nil
}

// versions returns the versions of a key, oldest first. The slice is never
// modified after it is published, so it is safe to read without the lock.
func (s *KeyStore) versions(id string) ([]*liveKey, error) {
	s.mu.RLock()
	e, ok := s.keys[id]
	var vs []*liveKey
	if ok {
		vs = e.versions
	}
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	return vs, nil
}

func (s *KeyStore) version(id string, v uint32) (*liveKey, error) {
	s.mu.RLock()
	e, ok := s.keys[id]
	var k *liveKey
	if ok {
		k = e.version(v)
	}
	s.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("key %s version %d: %w", id, v, ErrUnknownKey)
	}
	return k, nil
}

// generateKey returns fresh random key material for alg; TDES keys get odd
// parity, as banks' HSMs expect when the key is exchanged.
func generateKey(alg Algorithm) ([]byte, error) {
	n, ok := keyLen[alg]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q", alg)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return nil, err
	}
	switch alg {
	case AlgTDES, AlgRetailMAC, AlgRetailMACPad2:
		setOddParity(raw)
		// K1 == K2 would make the double-length key single DES.
		if bytes.Equal(raw[:8], raw[8:]) {
			return generateKey(alg)
		}
	}
	return raw, nil
}
