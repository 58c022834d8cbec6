package hsm

import (
	"fmt"
	"strings"
)

// MinComponents is the fewest clear components a key may be entered from:
// dual control, so that no one custodian ever holds the key.
const MinComponents = 2

// ImportComponents is the key ceremony: custodians each enter a clear
// component, the components are XORed into the key, and the key is stored
// under id only if its check value matches kcv, the one agreed with the other
// side (a bank, for a zone master key). Nothing is stored on any error.
//
// Each custodian compares their own component's check value first
// ([ComponentKCV], which `tulpar keys import-zmk` prints as each is typed).
// kcv is compared as [Soft.ImportKey] compares a bank's: the leading hex digits
// both sides have, at least 4, in any case.
//
// The combined key never leaves the package (it is stored, then cleared);
// the caller clears the components.
func (s *KeyStore) ImportComponents(id string, t KeyType, alg Algorithm, components [][]byte, kcv string) (KeyInfo, error) {
	key, err := combineComponents(alg, components, kcv)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("import key %s: %w", id, err)
	}
	defer clear(key)
	return s.importKey(id, t, alg, key, fmt.Sprintf("entered in clear, %d components", len(components)))
}

// combineComponents XORs the components into a key of algorithm alg and
// checks the key's check value against kcv.
func combineComponents(alg Algorithm, components [][]byte, kcv string) ([]byte, error) {
	n, ok := keyLen[alg]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q", alg)
	}
	if len(components) < MinComponents {
		return nil, fmt.Errorf("%d component(s): dual control needs at least %d", len(components), MinComponents)
	}
	if len(kcv) < minKCVDigits {
		return nil, fmt.Errorf("the agreed check value is required (at least %d hex digits)", minKCVDigits)
	}
	key := make([]byte, n)
	for i, c := range components {
		if len(c) != n {
			clear(key)
			return nil, fmt.Errorf("component %d has %d bytes; %s keys have %d", i+1, len(c), alg, n)
		}
		for j := range c {
			key[j] ^= c[j]
		}
	}
	got, err := kcvOf(alg, key)
	if err != nil {
		clear(key)
		return nil, err
	}
	if !kcvMatches(got, kcv) {
		clear(key)
		return nil, fmt.Errorf("%w: components combine to KCV %s, expected %s; nothing stored", ErrKCVMismatch, got, strings.ToUpper(kcv))
	}
	return key, nil
}

// minKCVDigits is the fewest hex digits of a check value that are compared:
// banks send from 4 digits to the whole encrypted zero block.
const minKCVDigits = 4

// KCVMatches compares a key check value a module computed with one a bank
// sent or custodians agreed, as every module must: the leading hex digits
// both have, in any case, and at least 4 of them.
func KCVMatches(got, sent string) bool { return kcvMatches(got, sent) }

// kcvMatches compares a computed check value with one someone sent or
// agreed: the leading hex digits both have, case-insensitively, and at least
// minKCVDigits of them.
func kcvMatches(got, want string) bool {
	got, want = strings.ToUpper(got), strings.ToUpper(want)
	n := min(len(got), len(want))
	return n >= minKCVDigits && got[:n] == want[:n]
}
