//go:build !cgo

package pkcs11

import (
	"context"
	"errors"

	"github.com/tulpar-switch/tulpar/hsm"
)

// errNoCgo is every answer of a build without cgo: a PKCS#11 library is
// loaded with dlopen, which needs it.
var errNoCgo = errors.New("hsm.kind pkcs11: this tulpar was built without cgo (CGO_ENABLED=0) and cannot load a PKCS#11 library; build it with cgo")

// DefaultSessions is how many token sessions a Module keeps when
// hsm.pkcs11.sessions is 0.
const DefaultSessions = 4

// Module is the security module on a PKCS#11 token; without cgo it cannot
// be opened.
type Module struct{}

var _ hsm.Module = (*Module)(nil)

// Open fails: see errNoCgo.
func Open(hsm.Config) (*Module, error) { return nil, errNoCgo }

// New fails: see errNoCgo.
func New(hsm.Config) (*Module, error) { return nil, errNoCgo }

// Close does nothing.
func (*Module) Close() error { return nil }

// Create fails without cgo.
func (*Module) Create(context.Context, string, hsm.KeyType, hsm.Algorithm) (hsm.KeyInfo, error) {
	return hsm.KeyInfo{}, errNoCgo
}

// Rotate fails without cgo.
func (*Module) Rotate(context.Context, string) (hsm.KeyInfo, error) { return hsm.KeyInfo{}, errNoCgo }

// InitKeys fails without cgo.
func (*Module) InitKeys(context.Context) ([]hsm.KeyInfo, error) { return nil, errNoCgo }

// ImportComponents fails without cgo.
func (*Module) ImportComponents(context.Context, string, hsm.KeyType, hsm.Algorithm, [][]byte, string) (hsm.KeyInfo, error) {
	return hsm.KeyInfo{}, errNoCgo
}

// Key fails without cgo.
func (*Module) Key(context.Context, string) (hsm.KeyInfo, error) { return hsm.KeyInfo{}, errNoCgo }

// KeyVersion fails without cgo.
func (*Module) KeyVersion(context.Context, string, uint32) (hsm.KeyInfo, error) {
	return hsm.KeyInfo{}, errNoCgo
}

// Keys fails without cgo.
func (*Module) Keys(context.Context) ([]hsm.KeyInfo, error) { return nil, errNoCgo }

// GenerateMAC fails without cgo.
func (*Module) GenerateMAC(context.Context, string, []byte) ([]byte, error) { return nil, errNoCgo }

// VerifyMAC fails without cgo.
func (*Module) VerifyMAC(context.Context, string, []byte, []byte) error { return errNoCgo }

// ImportKey fails without cgo.
func (*Module) ImportKey(context.Context, hsm.ImportRequest) (hsm.KeyInfo, error) {
	return hsm.KeyInfo{}, errNoCgo
}

// KCV fails without cgo.
func (*Module) KCV(context.Context, string) (string, error) { return "", errNoCgo }

// EncryptPAN fails without cgo.
func (*Module) EncryptPAN(context.Context, string) ([]byte, error) { return nil, errNoCgo }

// DecryptPAN fails without cgo.
func (*Module) DecryptPAN(context.Context, []byte) (string, error) { return "", errNoCgo }

// TokenizePAN fails without cgo.
func (*Module) TokenizePAN(context.Context, string) (string, error) { return "", errNoCgo }

// PANTokens fails without cgo.
func (*Module) PANTokens(context.Context, string) ([]string, error) { return nil, errNoCgo }

// HashCVV fails without cgo.
func (*Module) HashCVV(context.Context, string, string, string) (string, error) { return "", errNoCgo }

// VerifyCVV fails without cgo.
func (*Module) VerifyCVV(context.Context, string, string, string, string) error { return errNoCgo }
