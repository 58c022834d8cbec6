package hsm

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MustMasterKey returns a fresh master key.
func MustMasterKey(tb testing.TB) MasterKey {
	tb.Helper()
	mk, err := GenerateMasterKey()
	require.NoError(tb, err)
	return mk
}

func TestKeyStoreCreateRotateReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	mk := MustMasterKey(t)
	s, err := CreateKeyStore(path, mk)
	require.NoError(t, err)

	for _, c := range []struct {
		id  string
		typ KeyType
		alg Algorithm
	}{
		{"zmk-bank-a", KeyZMK, AlgTDES},
		{"zmk-bank-b", KeyZMK, AlgAES256},
		{"mac-bank-a", KeyMAC, AlgRetailMAC},
		{"mac-bank-b", KeyMAC, AlgCMAC128},
		{"dek", KeyDEK, ""},
		{"cvk", KeyCVK, ""},
		{"token", KeyToken, ""},
	} {
		info, err := s.Create(c.id, c.typ, c.alg)
		require.NoError(t, err, c.id)
		assert.Equal(t, uint32(1), info.Version)
		assert.Len(t, info.KCV, 6)
		assert.True(t, info.Current)
	}
	_, err = s.Create("dek", KeyDEK, "")
	assert.ErrorIs(t, err, ErrKeyExists)

	v2, err := s.Rotate("dek")
	require.NoError(t, err)
	assert.Equal(t, uint32(2), v2.Version)
	_, err = s.Rotate("nope")
	assert.ErrorIs(t, err, ErrUnknownKey)

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	again, err := OpenKeyStore(path, mk)
	require.NoError(t, err)
	assert.Equal(t, s.Keys(), again.Keys())
	cur, err := again.Key("dek")
	require.NoError(t, err)
	assert.Equal(t, v2.KCV, cur.KCV)
	assert.Equal(t, uint32(2), cur.Version)
	old, err := again.KeyVersion("dek", 1)
	require.NoError(t, err)
	assert.False(t, old.Current)

	// Nothing of any clear key is in the file, in any encoding.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for id, e := range s.keys {
		for _, k := range e.versions {
			for _, enc := range [][]byte{k.raw, []byte(hex.EncodeToString(k.raw)), []byte(strings.ToUpper(hex.EncodeToString(k.raw))), []byte(base64.StdEncoding.EncodeToString(k.raw))} {
				assert.False(t, bytes.Contains(data, enc), "clear key %s v%d in the store file", id, k.info.Version)
			}
		}
	}
	assert.False(t, bytes.Contains(data, []byte(hex.EncodeToString(mk.k[:]))), "master key in the store file")
}

func TestKeyStoreRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")
	mk := MustMasterKey(t)
	s, err := CreateKeyStore(path, mk)
	require.NoError(t, err)
	_, err = s.Create("mac-a", KeyMAC, AlgCMAC256)
	require.NoError(t, err)
	_, err = CreateKeyStore(path, mk)
	assert.ErrorIs(t, err, os.ErrExist, "never overwrite a key store")

	good, err := os.ReadFile(path)
	require.NoError(t, err)
	var f storeFile
	require.NoError(t, json.Unmarshal(good, &f))

	edit := func(change func(*storeFile)) []byte {
		var c storeFile
		require.NoError(t, json.Unmarshal(good, &c))
		change(&c)
		b, err := json.Marshal(c)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name string
		data []byte
		mk   MasterKey
		want error
	}{
		{"wrong master key", good, MustMasterKey(t), ErrWrongMasterKey},
		{"flipped bit in a wrapped key", edit(func(c *storeFile) { c.Keys[0].Versions[0].Wrapped[20] ^= 1 }), mk, ErrBadKeyStore},
		{"key relabelled as another type", edit(func(c *storeFile) { c.Keys[0].Type = KeyDEK; c.Keys[0].Algorithm = AlgAES256 }), mk, ErrBadKeyStore},
		{"key moved to another id", edit(func(c *storeFile) { c.Keys[0].ID = "mac-b" }), mk, ErrBadKeyStore},
		{"version renumbered", edit(func(c *storeFile) { c.Keys[0].Versions[0].Version = 7 }), mk, ErrBadKeyStore},
		{"wrong recorded KCV", edit(func(c *storeFile) { c.Keys[0].Versions[0].KCV = "000000" }), mk, ErrBadKeyStore},
		{"unknown format", edit(func(c *storeFile) { c.Format = "tulpar-keystore/9" }), mk, ErrBadKeyStore},
		{"not JSON", []byte("{"), mk, ErrBadKeyStore},
		{"unknown field", []byte(`{"format":"tulpar-keystore/1","clear_key":"00"}`), mk, ErrBadKeyStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			require.NoError(t, os.WriteFile(p, tc.data, 0o600))
			_, err := OpenKeyStore(p, tc.mk)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestKeyStoreValidation(t *testing.T) {
	s, err := NewMemoryKeyStore(MustMasterKey(t))
	require.NoError(t, err)
	_, err = s.Create("bad id!", KeyMAC, "")
	assert.Error(t, err)
	_, err = s.Create("x", "pin", "")
	assert.ErrorContains(t, err, "unknown key type")
	_, err = s.Create("x", KeyDEK, AlgRetailMAC)
	assert.ErrorContains(t, err, "cannot have algorithm")
	_, err = s.ImportClear("x", KeyMAC, AlgCMAC128, make([]byte, 15))
	assert.ErrorContains(t, err, "must be 16 bytes")
	_, err = s.ImportClear("x", KeyMAC, AlgCMAC128, bytes.Repeat([]byte{1}, 16))
	require.NoError(t, err)
	_, err = s.ImportClear("x", KeyMAC, AlgCMAC256, bytes.Repeat([]byte{1}, 32))
	assert.ErrorContains(t, err, "not mac aes-cmac-256")
	assert.Len(t, s.Keys(), 1, "failed calls change nothing")
}

func TestGeneratedTDESKeysHaveOddParity(t *testing.T) {
	for range 20 {
		k, err := generateKey(AlgRetailMAC)
		require.NoError(t, err)
		for _, b := range k {
			ones := 0
			for v := b; v != 0; v >>= 1 {
				ones += int(v & 1)
			}
			require.Equal(t, 1, ones%2, "byte %02X", b)
		}
	}
}

func TestMasterKeyNeverPrinted(t *testing.T) {
	mk := MustMasterKey(t)
	clearHex := hex.EncodeToString(mk.k[:])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		out := fmt.Sprintf(verb, mk)
		assert.NotContains(t, strings.ToLower(out), clearHex[:16], verb)
		assert.Contains(t, out, mk.KCV(), verb)
	}
	b, _ := json.Marshal(struct{ K MasterKey }{mk})
	assert.NotContains(t, strings.ToLower(string(b)), clearHex[:16])
	assert.Equal(t, strings.ToUpper(clearHex), mk.ExportHex())
}

func TestMasterKeySources(t *testing.T) {
	dir := t.TempDir()
	mk := MustMasterKey(t)

	path := filepath.Join(dir, "master.key")
	require.NoError(t, WriteMasterKeyFile(path, mk))
	assert.ErrorIs(t, WriteMasterKeyFile(path, mk), os.ErrExist, "never overwrite a master key")
	got, err := LoadMasterKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, mk.KCV(), got.KCV())

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadMasterKeyFile(path)
	assert.ErrorContains(t, err, "chmod 600")

	for name, enc := range map[string]string{
		"hex":       mk.ExportHex(),
		"hex lower": strings.ToLower(mk.ExportHex()) + "\n",
		"base64":    base64.StdEncoding.EncodeToString(mk.k[:]),
		"base64url": base64.RawURLEncoding.EncodeToString(mk.k[:]),
	} {
		t.Setenv("TULPAR_TEST_MK", enc)
		got, err := LoadMasterKey("", "TULPAR_TEST_MK")
		require.NoError(t, err, name)
		assert.Equal(t, mk.KCV(), got.KCV(), name)
	}
	t.Setenv("TULPAR_TEST_MK", "0011")
	_, err = LoadMasterKey("", "TULPAR_TEST_MK")
	assert.ErrorContains(t, err, "TULPAR_TEST_MK")
	assert.NotContains(t, err.Error(), "0011", "the error never repeats the value")
	_, err = LoadMasterKey("", "TULPAR_TEST_UNSET_VARIABLE")
	assert.ErrorContains(t, err, "not set")
}
