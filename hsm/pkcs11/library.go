//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// libraries are the PKCS#11 libraries loaded in this process. C_Initialize
// and C_Finalize act on the whole process, so Modules on one library share
// its initialisation and the last one to close finalises it. The library is
// never unloaded: unloading a library that links OpenSSL (SoftHSM2 does) is
// not safe, and loading it again is what initialising it again needs.
var libraries = struct {
	sync.Mutex
	m map[string]*library
}{m: map[string]*library{}}

type library struct {
	ctx  *p11.Ctx
	refs int
}

func acquireLibrary(path string) (*p11.Ctx, error) {
	libraries.Lock()
	defer libraries.Unlock()
	l := libraries.m[path]
	if l == nil {
		ctx := p11.New(path)
		if ctx == nil {
			return nil, fmt.Errorf("hsm.pkcs11.module: cannot load the PKCS#11 library %s", path)
		}
		l = &library{ctx: ctx}
		libraries.m[path] = l
	}
	if l.refs == 0 {
		if err := l.ctx.Initialize(); err != nil && !is(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil, fmt.Errorf("hsm.pkcs11.module %s: C_Initialize: %w", path, err)
		}
	}
	l.refs++
	return l.ctx, nil
}

func releaseLibrary(path string) error {
	libraries.Lock()
	defer libraries.Unlock()
	l := libraries.m[path]
	if l == nil || l.refs == 0 {
		return nil
	}
	l.refs--
	if l.refs > 0 {
		return nil
	}
	if err := l.ctx.Finalize(); err != nil {
		return fmt.Errorf("pkcs11: C_Finalize: %w", err)
	}
	return nil
}

// is reports whether err is the PKCS#11 return value rv.
func is(err error, rv uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == rv
}
