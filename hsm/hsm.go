package hsm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Module is what the rest of Tulpar asks of a security module. Every method
// takes a context because a real HSM is a network peer; [Soft] never blocks
// and ignores it.
//
// Callers that need only part of it (a bank link needs the two MAC methods)
// should declare their own smaller interface, which Module satisfies.
type Module interface {
	// GenerateMAC returns the 8-byte MAC of data for DE64/DE128 under the
	// current version of the MAC key keyID, with the key's algorithm.
	GenerateMAC(ctx context.Context, keyID string, data []byte) ([]byte, error)
	// VerifyMAC checks an 8-byte MAC; a mismatch is [ErrMACMismatch].
	VerifyMAC(ctx context.Context, keyID string, data, mac []byte) error
	// ImportKey stores a key a bank sent wrapped under a zone master key
	// (0800 key change, DE70 161) after checking its key check value.
	ImportKey(ctx context.Context, req ImportRequest) (KeyInfo, error)
	// KCV returns the key check value of the current version of keyID.
	KCV(ctx context.Context, keyID string) (string, error)

	// EncryptPAN protects a PAN for storage under the current data key.
	EncryptPAN(ctx context.Context, pan string) ([]byte, error)
	// DecryptPAN opens what EncryptPAN returned, under whichever key version
	// the ciphertext names.
	DecryptPAN(ctx context.Context, ciphertext []byte) (string, error)
	// TokenizePAN returns a keyed, deterministic token of a PAN, so that the
	// payments of one card can be found without decrypting anything.
	TokenizePAN(ctx context.Context, pan string) (string, error)

	// HashCVV returns a keyed hash of a card's CVV2 for the simulator's card
	// book; the CVV2 itself is never stored.
	HashCVV(ctx context.Context, pan, expiry, cvv string) (string, error)
	// VerifyCVV checks a CVV2 against what HashCVV returned; a mismatch is
	// [ErrCVVMismatch].
	VerifyCVV(ctx context.Context, pan, expiry, cvv, hash string) error
}

// Errors a caller may need to tell apart. They are wrapped with the key id and
// the operation; test with errors.Is.
var (
	ErrUnknownKey     = errors.New("unknown key")
	ErrKeyExists      = errors.New("key already exists")
	ErrWrongKeyType   = errors.New("key has the wrong type for this operation")
	ErrMACMismatch    = errors.New("MAC mismatch")
	ErrKCVMismatch    = errors.New("key check value mismatch")
	ErrBadCiphertext  = errors.New("PAN ciphertext rejected")
	ErrCVVMismatch    = errors.New("CVV2 mismatch")
	ErrInvalidPAN     = errors.New("not a PAN: want 12 to 19 digits")
	ErrBadKeyStore    = errors.New("key store file is damaged")
	ErrWrongMasterKey = errors.New("master key does not open this key store")
)

// KeyType says what a key may be used for. A key is used for exactly one
// purpose: a MAC key never encrypts a PAN.
type KeyType string

// Key types.
const (
	KeyZMK   KeyType = "zmk"   // zone master key: wraps keys exchanged with a bank
	KeyMAC   KeyType = "mac"   // MAC key of one bank link
	KeyDEK   KeyType = "dek"   // data-encryption key: PANs at rest
	KeyCVK   KeyType = "cvk"   // card verification key: keyed CVV2 hashes
	KeyToken KeyType = "token" // PAN tokens
)

// Algorithm is how a key is used; it is fixed for all versions of a key.
type Algorithm string

// Algorithms. The MAC algorithms are named for the standard a bank's
// interface specification will quote.
const (
	AlgTDES   Algorithm = "tdes"    // double-length TDES (ZMK)
	AlgAES256 Algorithm = "aes-256" // ZMK (RFC 3394 wrap) or DEK (AES-256-GCM)
	// AlgRetailMAC is ISO 9797-1 MAC algorithm 3 with padding method 1
	// (ANSI X9.19). Zero padding cannot tell data from the same data with
	// zero bytes added up to the block end; ISO 8583 framing carries the
	// length, so banks still use it, but prefer pad 2 or CMAC where offered.
	AlgRetailMAC     Algorithm = "iso9797-3"
	AlgRetailMACPad2 Algorithm = "iso9797-3-pad2" // ISO 9797-1 MAC alg 3, padding method 2
	AlgCMAC128       Algorithm = "aes-cmac-128"   // AES-128-CMAC, SP 800-38B
	AlgCMAC256       Algorithm = "aes-cmac-256"   // AES-256-CMAC, SP 800-38B
	AlgHMACSHA256    Algorithm = "hmac-sha256"    // CVK and token keys
)

// algorithms lists, per key type, the algorithms it may have; the first one
// is the default.
var algorithms = map[KeyType][]Algorithm{
	KeyZMK:   {AlgTDES, AlgAES256},
	KeyMAC:   {AlgRetailMAC, AlgRetailMACPad2, AlgCMAC128, AlgCMAC256},
	KeyDEK:   {AlgAES256},
	KeyCVK:   {AlgHMACSHA256},
	KeyToken: {AlgHMACSHA256},
}

// keyLen is the clear key length of each algorithm in bytes.
var keyLen = map[Algorithm]int{
	AlgTDES:          16,
	AlgAES256:        32,
	AlgRetailMAC:     16,
	AlgRetailMACPad2: 16,
	AlgCMAC128:       16,
	AlgCMAC256:       32,
	AlgHMACSHA256:    32,
}

// KeyTypes returns the key types, for help texts.
func KeyTypes() []KeyType { return []KeyType{KeyZMK, KeyMAC, KeyDEK, KeyCVK, KeyToken} }

// Algorithms returns the algorithms a key of type t may have; the first one
// is the default.
func Algorithms(t KeyType) []Algorithm { return append([]Algorithm(nil), algorithms[t]...) }

// KeyLen is the length of a clear key of the algorithm in bytes; 0 for an
// unknown algorithm.
func (a Algorithm) KeyLen() int { return keyLen[a] }

// CheckAlgorithm validates a key type and algorithm pair and returns the
// algorithm, the type's default when alg is empty.
func CheckAlgorithm(t KeyType, alg Algorithm) (Algorithm, error) { return checkTypeAlg(t, alg) }

// checkTypeAlg validates a type and algorithm pair, defaulting an empty
// algorithm.
func checkTypeAlg(t KeyType, alg Algorithm) (Algorithm, error) {
	allowed, ok := algorithms[t]
	if !ok {
		return "", fmt.Errorf("unknown key type %q (want one of %v)", t, KeyTypes())
	}
	if alg == "" {
		return allowed[0], nil
	}
	for _, a := range allowed {
		if a == alg {
			return alg, nil
		}
	}
	return "", fmt.Errorf("key type %s cannot have algorithm %q (want one of %v)", t, alg, allowed)
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidKeyID reports whether id can name a key: 1 to 64 of letters, digits,
// '_' and '-', starting with a letter or digit. Ids appear inside PAN
// ciphertexts and CVV hashes, hence the short, plain alphabet.
func ValidKeyID(id string) bool { return keyIDPattern.MatchString(id) }

// KeyInfo describes one version of a key. It never holds key material.
type KeyInfo struct {
	ID        string
	Type      KeyType
	Algorithm Algorithm
	Version   uint32
	KCV       string    // key check value, 6 upper-case hex digits
	Created   time.Time // when this version entered the store
	Origin    string    // "generated", "imported under ZMK <id>", "entered in clear"
	Current   bool      // the version that protects new data
}

// ImportRequest is a key a bank sent wrapped under a zone master key.
type ImportRequest struct {
	ZMK       string    // id of the zone master key it is wrapped under
	KeyID     string    // id to store it under: a new key, or a new version of this one
	Type      KeyType   // default KeyMAC
	Algorithm Algorithm // required for a new key; must match for an existing one
	Wrapped   []byte    // TDES-ECB under a tdes ZMK, RFC 3394 key wrap under an aes-256 ZMK
	KCV       string    // the check value the bank sent with it (hex, at least 4 digits)
}
