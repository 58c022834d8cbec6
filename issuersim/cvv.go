package issuersim

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// ErrCVVMismatch is what the built-in CVVChecker returns for a wrong CVV2.
var ErrCVVMismatch = errors.New("issuersim: CVV2 mismatch")

// CVVChecker hashes a card's CVV2 for the card book and checks a CVV2
// against that hash. hsm.Module satisfies it, so the daemon can hand the
// simulator the real module; the bank treats any error from VerifyCVV as
// a failed CVV2 check (and logs errors other than a mismatch).
type CVVChecker interface {
	HashCVV(ctx context.Context, pan, expiry, cvv string) (string, error)
	VerifyCVV(ctx context.Context, pan, expiry, cvv, hash string) error
}

// hmacCVV is the built-in CVVChecker: HMAC-SHA256 over PAN, expiry and
// CVV2 under a key. Without the key a hash cannot be brute-forced from its
// 1,000 candidate CVV2s, which a plain hash could.
type hmacCVV struct{ key []byte }

func newHMACCVV(key []byte) (*hmacCVV, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	return &hmacCVV{key: append([]byte(nil), key...)}, nil
}

func (h *hmacCVV) sum(pan, expiry, cvv string) []byte {
	m := hmac.New(sha256.New, h.key)
	// Separators keep ("12","3") and ("1","23") apart.
	m.Write([]byte(pan + "|" + expiry + "|" + cvv))
	return m.Sum(nil)
}

func (h *hmacCVV) HashCVV(_ context.Context, pan, expiry, cvv string) (string, error) {
	return hex.EncodeToString(h.sum(pan, expiry, cvv)), nil
}

func (h *hmacCVV) VerifyCVV(_ context.Context, pan, expiry, cvv, hash string) error {
	want, err := hex.DecodeString(hash)
	if err != nil || !hmac.Equal(want, h.sum(pan, expiry, cvv)) {
		return ErrCVVMismatch
	}
	return nil
}
