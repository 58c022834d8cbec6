package issuersim

import (
	"context"
	"fmt"

	"github.com/tulpar-switch/tulpar/hsm"
)

// cvkID is the id of the CVV2 key in the bank's own software module.
const cvkID = "cvk"

// CVVChecker hashes a card's CVV2 for the card book and checks a CVV2
// against that hash. hsm.Module satisfies it. The bank treats any error
// from VerifyCVV as a failed CVV2 check, and logs the errors that are not
// hsm.ErrCVVMismatch.
type CVVChecker interface {
	HashCVV(ctx context.Context, pan, expiry, cvv string) (string, error)
	VerifyCVV(ctx context.Context, pan, expiry, cvv, hash string) error
}

var _ CVVChecker = (*hsm.Soft)(nil)

// newCVVChecker returns the bank's own software module with one key, the
// CVK: key (32 bytes, HMAC-SHA256) when given, a fresh random one
// otherwise, which is enough because the hashes never leave the process.
func newCVVChecker(key []byte) (CVVChecker, error) {
	mk, err := hsm.GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	store, err := hsm.NewMemoryKeyStore(mk)
	if err != nil {
		return nil, err
	}
	if len(key) > 0 {
		_, err = store.ImportClear(cvkID, hsm.KeyCVK, hsm.AlgHMACSHA256, key)
	} else {
		_, err = store.Create(cvkID, hsm.KeyCVK, hsm.AlgHMACSHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("CVV key: %w", err)
	}
	return hsm.NewSoft(store, hsm.Config{CVVKey: cvkID})
}
