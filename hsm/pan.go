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

// PAN ciphertext layout (format 1):
//
//	offset  size  field
//	0       1     format, 0x01
//	1       1     n, length of the key id (1..64)
//	2       n     key id
//	2+n     4     key version, big-endian
//	6+n     12    AES-GCM nonce, random
//	18+n    ...   AES-256-GCM of the PAN's ASCII digits, 16-byte tag last
//
// The associated data is the header, bytes [0, 6+n): moving a ciphertext to
// another key id or version, or changing the format byte, fails
// authentication exactly like a change to the encrypted bytes.
const (
	panFormat1   = 0x01
	panNonceSize = 12
	panTagSize   = 16
	minPANLen    = 12
	maxPANLen    = 19
)

// PANCiphertext is a parsed PAN ciphertext: which key version can open it.
type PANCiphertext struct {
	KeyID   string
	Version uint32

	header, nonce, sealed []byte
}

// ParsePANCiphertext reads the header of what [Module.EncryptPAN] returned,
// without decrypting, so that a job can find the PANs still under an old key
// version. Errors wrap [ErrBadCiphertext].
func ParsePANCiphertext(b []byte) (PANCiphertext, error) {
	if len(b) < 2 {
		return PANCiphertext{}, fmt.Errorf("%w: %d bytes", ErrBadCiphertext, len(b))
	}
	if b[0] != panFormat1 {
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
		KeyID:   id,
		Version: binary.BigEndian.Uint32(b[2+n : hdr]),
		header:  b[:hdr],
		nonce:   b[hdr : hdr+panNonceSize],
		sealed:  b[hdr+panNonceSize:],
	}, nil
}

// validPAN reports whether s is 12 to 19 ASCII digits. Luhn is not checked:
// that is the card network's rule, not a storage rule, and test cards break it.
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
	out := make([]byte, hdr+panNonceSize, hdr+panNonceSize+len(pan)+panTagSize)
	out[0] = panFormat1
	out[1] = byte(len(id))
	copy(out[2:], id)
	binary.BigEndian.PutUint32(out[2+len(id):], k.info.Version)
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

func token(k *liveKey, pan string) string {
	var sum [64]byte
	mac := k.hmacSum(sum[:0], "tulpar-pan-token/1\x00", pan)
	var buf [48]byte
	b := append(buf[:0], "tk"...)
	b = strconv.AppendUint(b, uint64(k.info.Version), 10)
	b = append(b, '_')
	b = base64.RawURLEncoding.AppendEncode(b, mac[:tokenBytes])
	return string(b)
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
	return k.info.ID + "." + strconv.FormatUint(uint64(k.info.Version), 10) + "." + base64.RawURLEncoding.EncodeToString(mac), nil
}

// VerifyCVV implements [Module], under the CVK version the hash names.
func (m *Soft) VerifyCVV(_ context.Context, pan, expiry, cvv, hash string) error {
	if err := m.checkCVVInput(pan, expiry, cvv); err != nil {
		return fmt.Errorf("verify CVV2: %w", err)
	}
	id, rest, ok1 := strings.Cut(hash, ".")
	ver, b64, ok2 := strings.Cut(rest, ".")
	v, err := strconv.ParseUint(ver, 10, 32)
	want, err2 := base64.RawURLEncoding.DecodeString(b64)
	if !ok1 || !ok2 || err != nil || err2 != nil || len(want) != 32 || !ValidKeyID(id) {
		return errors.New("verify CVV2: stored hash is not in the form HashCVV makes")
	}
	k, err := m.store.version(id, uint32(v))
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
	return k.hmacSum(dst, "tulpar-cvv2/1\x00", pan, "\x00", expiry, "\x00", cvv)
}

func (m *Soft) checkCVVInput(pan, expiry, cvv string) error {
	if m.cfg.CVVKey == "" {
		return errors.New("no CVV key configured (hsm.cvv_key)")
	}
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
