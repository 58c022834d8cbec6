package hsm

import (
	"crypto/aes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// DefaultMasterKeyEnv is the environment variable a master key is read from
// when no file is configured.
const DefaultMasterKeyEnv = "TULPAR_MASTER_KEY"

// MasterKey is the 256-bit local master key every other key is wrapped under.
// Printing it with any fmt verb shows only its check value; the key itself
// leaves only through [MasterKey.ExportHex].
type MasterKey struct {
	k *[32]byte
}

// GenerateMasterKey returns a fresh random master key.
func GenerateMasterKey() (MasterKey, error) {
	var k [32]byte
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return MasterKey{}, fmt.Errorf("master key: %w", err)
	}
	return MasterKey{k: &k}, nil
}

// ParseMasterKey reads a master key written as 64 hex digits or as standard
// or URL-safe base64 of 32 bytes. Surrounding white space is ignored. The
// error never repeats the input.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	if b, err := hex.DecodeString(s); err == nil && len(s) == 64 {
		raw = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
				raw = b
				break
			}
		}
	}
	if len(raw) != 32 {
		return MasterKey{}, errors.New("master key: want 32 bytes as 64 hex digits or base64")
	}
	var k [32]byte
	copy(k[:], raw)
	clear(raw)
	return MasterKey{k: &k}, nil
}

// LoadMasterKeyFile reads a master key file written by [WriteMasterKeyFile].
// Like ssh with a private key, it refuses a file that group or others can
// read or write.
func LoadMasterKeyFile(path string) (MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("master key file %s: mode %04o lets others read it; chmod 600 it", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	defer clear(b)
	mk, err := ParseMasterKey(string(b))
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	return mk, nil
}

// MasterKeyFromEnv reads a master key from an environment variable.
func MasterKeyFromEnv(name string) (MasterKey, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return MasterKey{}, fmt.Errorf("master key: environment variable %s is not set", name)
	}
	mk, err := ParseMasterKey(v)
	if err != nil {
		return MasterKey{}, fmt.Errorf("environment variable %s: %w", name, err)
	}
	return mk, nil
}

// LoadMasterKey reads the master key from file when it is not empty, and
// otherwise from the environment variable env ([DefaultMasterKeyEnv] when
// empty).
func LoadMasterKey(file, env string) (MasterKey, error) {
	if file != "" {
		return LoadMasterKeyFile(file)
	}
	if env == "" {
		env = DefaultMasterKeyEnv
	}
	return MasterKeyFromEnv(env)
}

// WriteMasterKeyFile writes mk in hex to a new file readable only by its
// owner. It never overwrites: losing the old master key loses every key
// wrapped under it.
func WriteMasterKeyFile(path string, mk MasterKey) error {
	if !mk.valid() {
		return errors.New("master key file: no key")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	_, err = io.WriteString(f, hex.EncodeToString(mk.k[:])+"\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("master key file %s: %w", path, err)
	}
	return nil
}

func (mk MasterKey) valid() bool { return mk.k != nil }

// KCV returns the master key's check value (AES-CMAC of zeros, 3 bytes), which
// the key store records so that a wrong master key is named as such.
func (mk MasterKey) KCV() string {
	if !mk.valid() {
		return ""
	}
	b, _ := aes.NewCipher(mk.k[:])
	return aesKCV(newCMAC(b))
}

// ExportHex returns the clear key in hex. It exists for one caller: the
// one-time display when an operator creates a master key to keep in a safe
// or an environment variable. Nothing else may call it.
func (mk MasterKey) ExportHex() string {
	if !mk.valid() {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(mk.k[:]))
}

// String shows the check value, never the key.
func (mk MasterKey) String() string {
	if !mk.valid() {
		return "hsm.MasterKey(none)"
	}
	return "hsm.MasterKey(KCV " + mk.KCV() + ")"
}

// GoString is String, so %#v shows no key either.
func (mk MasterKey) GoString() string { return mk.String() }

// Format makes every verb (%x and %v included) print String.
func (mk MasterKey) Format(f fmt.State, _ rune) { io.WriteString(f, mk.String()) }
