package hsm

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// PAN ciphertext layout (formats 1 and 2):
//
//	offset  size  field
//	0       1     format: 0x01 software module, 0x02 PKCS#11 token
//	1       1     n, length of the key id (1..64)
//	2       n     key id
//	2+n     4     key version, big-endian
//	6+n     12    AES-GCM nonce, random
//	18+n    ...   AES-256-GCM of the PAN's ASCII digits, 16-byte tag last
//
// The associated data is the header, bytes [0, 6+n): moving a ciphertext to
// another key id or version, or changing the format byte, fails
// authentication exactly like a change to the encrypted bytes.
//
// Format 2 is format 1 made inside a PKCS#11 token (package hsm/pkcs11):
// the same bytes, AES-256-GCM computed by the token (CKM_AES_GCM) under a
// key that never leaves it. Its own format byte says which module can open
// it, so that a ciphertext brought to the other module is refused as such
// rather than as a damaged one.
const (
	PANFormatSoft   byte = 0x01
	PANFormatPKCS11 byte = 0x02
	// PANNonceSize and PANTagSize are those of the AES-GCM inside.
	PANNonceSize = 12
	PANTagSize   = 16

	panFormat1   = PANFormatSoft
	panNonceSize = PANNonceSize
	panTagSize   = PANTagSize
	minPANLen    = 12
	maxPANLen    = 19
)

// PANCiphertext is a parsed PAN ciphertext: which module and key version
// can open it.
type PANCiphertext struct {
	Format  byte // PANFormatSoft or PANFormatPKCS11
	KeyID   string
	Version uint32

	header, nonce, sealed []byte
}

// Header is the ciphertext's header, the associated data of its AES-GCM.
func (c PANCiphertext) Header() []byte { return c.header }

// Nonce is the AES-GCM nonce.
func (c PANCiphertext) Nonce() []byte { return c.nonce }

// Sealed is the AES-GCM output: the encrypted PAN, then the tag.
func (c PANCiphertext) Sealed() []byte { return c.sealed }

// AppendPANHeader appends the header of a PAN ciphertext to dst: format,
// key id and version. The caller appends the nonce and the AES-256-GCM of
// the PAN with the header as associated data. keyID must be valid
// ([ValidKeyID]).
func AppendPANHeader(dst []byte, format byte, keyID string, version uint32) []byte {
	dst = append(dst, format, byte(len(keyID)))
	dst = append(dst, keyID...)
	return binary.BigEndian.AppendUint32(dst, version)
}

// ParsePANCiphertext reads the header of what [Module.EncryptPAN] returned,
// without decrypting, so that a job can find the PANs still under an old key
// version. Errors wrap [ErrBadCiphertext].
func ParsePANCiphertext(b []byte) (PANCiphertext, error) {
	if len(b) < 2 {
		return PANCiphertext{}, fmt.Errorf("%w: %d bytes", ErrBadCiphertext, len(b))
	}
	if b[0] != PANFormatSoft && b[0] != PANFormatPKCS11 {
		return PANCiphertext{}, fmt.Errorf("%w: unknown format %#02x", ErrBadCiphertext, b[0])
	}
	n := int(b[1])
	hdr := 2 + n + 4
	if n == 0 || n > 64 || len(b) < hdr+panNonceSize+minPANLen+panTagSize || len(b) > hdr+panNonceSize+maxPANLen+panTagSize {
		return PANCiphertext{}, fmt.Errorf("%w: bad length", ErrBadCiphertext)
	}
	id := string(b[2 : 2+n])
	if !ValidKeyID(id) {
		return PANCiphertext{}, fmt.Errorf("%w: bad key id", ErrBadCiphertext)
	}
	return PANCiphertext{
		Format:  b[0],
		KeyID:   id,
		Version: binary.BigEndian.Uint32(b[2+n : hdr]),
		header:  b[:hdr],
		nonce:   b[hdr : hdr+panNonceSize],
		sealed:  b[hdr+panNonceSize:],
	}, nil
}

// ValidPAN reports whether s is what every module accepts as a PAN: 12 to
// 19 ASCII digits. Luhn is not checked: that is the card network's rule, not
// a storage rule, and test cards break it.
func ValidPAN(s string) bool { return validPAN(s) }

func validPAN(s string) bool {
	if len(s) < minPANLen || len(s) > maxPANLen {
		return false
	}
	return allDigits(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// EncryptPAN implements [Module].
func (m *Soft) EncryptPAN(_ context.Context, pan string) ([]byte, error) {
	if m.cfg.PANKey == "" {
		return nil, errors.New("encrypt PAN: no PAN key configured (hsm.pan_key)")
	}
	if !validPAN(pan) {
		return nil, fmt.Errorf("encrypt PAN: %w", ErrInvalidPAN)
	}
	k, err := m.typed(m.cfg.PANKey, KeyDEK)
	if err != nil {
		return nil, fmt.Errorf("encrypt PAN: %w", err)
	}
	id := k.info.ID
	hdr := 2 + len(id) + 4
	out := AppendPANHeader(make([]byte, 0, hdr+panNonceSize+len(pan)+panTagSize), panFormat1, id, k.info.Version)
	out = out[:hdr+panNonceSize]
	nonce := out[hdr : hdr+panNonceSize]
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("encrypt PAN with key %s: nonce: %w", id, err)
	}
	var p [maxPANLen]byte
	n := copy(p[:], pan)
	out = k.aead.Seal(out, nonce, p[:n], out[:hdr])
	clear(p[:])
	return out, nil
}

// DecryptPAN implements [Module]. Any version of any data-encryption key in
// the store opens the ciphertexts it made.
func (m *Soft) DecryptPAN(_ context.Context, ciphertext []byte) (string, error) {
	c, err := ParsePANCiphertext(ciphertext)
	if err != nil {
		return "", fmt.Errorf("decrypt PAN: %w", err)
	}
	if c.Format != panFormat1 {
		return "", fmt.Errorf("decrypt PAN: %w: made by a PKCS#11 token, not the software module", ErrBadCiphertext)
	}
	k, err := m.store.version(c.KeyID, c.Version)
	if err != nil {
		return "", fmt.Errorf("decrypt PAN: %w", err)
	}
	if k.info.Type != KeyDEK {
		return "", fmt.Errorf("decrypt PAN: key %s is a %s key: %w", c.KeyID, k.info.Type, ErrWrongKeyType)
	}
	var p [maxPANLen + panTagSize]byte
	plain, err := k.aead.Open(p[:0], c.nonce, c.sealed, c.header)
	if err != nil {
		return "", fmt.Errorf("decrypt PAN with key %s version %d: %w", c.KeyID, c.Version, ErrBadCiphertext)
	}
	pan := string(plain)
	clear(p[:])
	if !validPAN(pan) {
		return "", fmt.Errorf("decrypt PAN with key %s version %d: %w", c.KeyID, c.Version, ErrBadCiphertext)
	}
	return pan, nil
}

// tokenBytes is how much of the HMAC a token keeps: 192 bits, far beyond any
// collision among the cards one acquirer will ever see.
const tokenBytes = 24

// TokenizePAN implements [Module]: "tk<version>_" and 32 characters of
// base64url of HMAC-SHA256 under the token key. The same PAN always gives the
// same token under one key version; the version is in the token so that,
// after the token key rotates, [Soft.PANTokens] can find older payments.
func (m *Soft) TokenizePAN(_ context.Context, pan string) (string, error) {
	if m.cfg.TokenKey == "" {
		return "", errors.New("tokenize PAN: no token key configured (hsm.token_key)")
	}
	if !validPAN(pan) {
		return "", fmt.Errorf("tokenize PAN: %w", ErrInvalidPAN)
	}
	k, err := m.typed(m.cfg.TokenKey, KeyToken)
	if err != nil {
		return "", fmt.Errorf("tokenize PAN: %w", err)
	}
	return token(k, pan), nil
}

// PANTokens returns the tokens of a PAN under every version of the token key,
// newest first: the keys to search for "all payments of this card" across
// token key rotations.
func (m *Soft) PANTokens(_ context.Context, pan string) ([]string, error) {
	if m.cfg.TokenKey == "" {
		return nil, errors.New("tokenize PAN: no token key configured (hsm.token_key)")
	}
	if !validPAN(pan) {
		return nil, fmt.Errorf("tokenize PAN: %w", ErrInvalidPAN)
	}
	vs, err := m.store.versions(m.cfg.TokenKey)
	if err != nil {
		return nil, fmt.Errorf("tokenize PAN: %w", err)
	}
	out := make([]string, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].info.Type != KeyToken {
			return nil, fmt.Errorf("tokenize PAN: key %s: %w", m.cfg.TokenKey, ErrWrongKeyType)
		}
		out = append(out, token(vs[i], pan))
	}
	return out, nil
}

// panTokenDomain and cvvDomain separate the HMAC inputs of tokens and CVV2
// hashes, so that no token can be taken for a CVV2 hash or back.
const (
	panTokenDomain = "tulpar-pan-token/1\x00"
	cvvDomain      = "tulpar-cvv2/1\x00"
)

func token(k *liveKey, pan string) string {
	var sum [64]byte
	mac := k.hmacSum(sum[:0], panTokenDomain, pan)
	return FormatPANToken(k.info.Version, mac)
}

// PANTokenMessage is what a PAN token is the HMAC-SHA256 of, under the
// token key: every module computes it over these bytes, so that the same key
// gives the same tokens in any of them.
func PANTokenMessage(pan string) []byte { return []byte(panTokenDomain + pan) }

// FormatPANToken writes a token from its key version and the HMAC-SHA256 of
// [PANTokenMessage]: "tk<version>_" and base64url of the first 24 bytes.
func FormatPANToken(version uint32, mac []byte) string {
	var buf [48]byte
	b := append(buf[:0], "tk"...)
	b = strconv.AppendUint(b, uint64(version), 10)
	b = append(b, '_')
	b = base64.RawURLEncoding.AppendEncode(b, mac[:tokenBytes])
	return string(b)
}

// CVVMessage is what a CVV2 hash is the HMAC-SHA256 of, under the CVK.
func CVVMessage(pan, expiry, cvv string) []byte {
	return []byte(cvvDomain + pan + "\x00" + expiry + "\x00" + cvv)
}

// FormatCVVHash writes a CVV2 hash: "<key id>.<version>.<base64url of the
// HMAC-SHA256 of [CVVMessage]>".
func FormatCVVHash(keyID string, version uint32, mac []byte) string {
	return keyID + "." + strconv.FormatUint(uint64(version), 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// ParseCVVHash reads what [FormatCVVHash] wrote: the CVK version to verify
// under, and the HMAC to compare.
func ParseCVVHash(hash string) (keyID string, version uint32, mac []byte, err error) {
	id, rest, ok1 := strings.Cut(hash, ".")
	ver, b64, ok2 := strings.Cut(rest, ".")
	v, err1 := strconv.ParseUint(ver, 10, 32)
	want, err2 := base64.RawURLEncoding.DecodeString(b64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || len(want) != 32 || !ValidKeyID(id) {
		return "", 0, nil, errors.New("stored hash is not in the form HashCVV makes")
	}
	return id, uint32(v), want, nil
}

// CheckCVVInput checks what every module checks before hashing a CVV2: a
// PAN, a 4-digit expiry, a 3- or 4-digit CVV2. The error names the field,
// never its value.
func CheckCVVInput(pan, expiry, cvv string) error {
	if !validPAN(pan) {
		return ErrInvalidPAN
	}
	if len(expiry) != 4 || !allDigits(expiry) {
		return errors.New("expiry: want 4 digits")
	}
	if (len(cvv) != 3 && len(cvv) != 4) || !allDigits(cvv) {
		return errors.New("CVV2: want 3 or 4 digits")
	}
	return nil
}

// HashCVV implements [Module]: "<key id>.<version>.<base64url of
// HMAC-SHA256(CVK, PAN, expiry, CVV2)>". Without the CVK the thousand
// possible CVV2 values cannot be tried against it.
func (m *Soft) HashCVV(_ context.Context, pan, expiry, cvv string) (string, error) {
	if err := m.checkCVVInput(pan, expiry, cvv); err != nil {
		return "", fmt.Errorf("hash CVV2: %w", err)
	}
	k, err := m.typed(m.cfg.CVVKey, KeyCVK)
	if err != nil {
		return "", fmt.Errorf("hash CVV2: %w", err)
	}
	var sum [64]byte
	mac := cvvMAC(k, sum[:0], pan, expiry, cvv)
	return FormatCVVHash(k.info.ID, k.info.Version, mac), nil
}

// VerifyCVV implements [Module], under the CVK version the hash names.
func (m *Soft) VerifyCVV(_ context.Context, pan, expiry, cvv, hash string) error {
	if err := m.checkCVVInput(pan, expiry, cvv); err != nil {
		return fmt.Errorf("verify CVV2: %w", err)
	}
	id, v, want, err := ParseCVVHash(hash)
	if err != nil {
		return fmt.Errorf("verify CVV2: %w", err)
	}
	k, err := m.store.version(id, v)
	if err != nil {
		return fmt.Errorf("verify CVV2: %w", err)
	}
	if k.info.Type != KeyCVK {
		return fmt.Errorf("verify CVV2: key %s is a %s key: %w", id, k.info.Type, ErrWrongKeyType)
	}
	var sum [64]byte
	got := cvvMAC(k, sum[:0], pan, expiry, cvv)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("verify CVV2 with key %s version %d: %w", id, v, ErrCVVMismatch)
	}
	return nil
}

func cvvMAC(k *liveKey, dst []byte, pan, expiry, cvv string) []byte {
	return k.hmacSum(dst, cvvDomain, pan, "\x00", expiry, "\x00", cvv)
}

func (m *Soft) checkCVVInput(pan, expiry, cvv string) error {
	if m.cfg.CVVKey == "" {
		return errors.New("no CVV key configured (hsm.cvv_key)")
	}
	return CheckCVVInput(pan, expiry, cvv)
}
