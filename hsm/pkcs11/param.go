//go:build cgo

package pkcs11

/*
#include <stdlib.h>
#include <string.h>

// CK_KEY_DERIVATION_STRING_DATA of PKCS#11 (pkcs11t.h): the parameter of
// the *_ECB_ENCRYPT_DATA derivations, which miekg/pkcs11 does not build.
typedef struct {
	unsigned char *pData;
	unsigned long ulLen;
} tulpar_kds;

static tulpar_kds *tulpar_kds_new(const void *data, unsigned long n) {
	tulpar_kds *k = malloc(sizeof(tulpar_kds));
	if (k == NULL) return NULL;
	k->pData = malloc(n);
	if (k->pData == NULL) { free(k); return NULL; }
	memcpy(k->pData, data, n);
	k->ulLen = n;
	return k;
}

static void tulpar_kds_free(tulpar_kds *k) {
	memset(k->pData, 0, k->ulLen);
	free(k->pData);
	free(k);
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// derivationString returns the bytes of a CK_KEY_DERIVATION_STRING_DATA
// pointing at a C copy of data, and the function that frees that copy once
// C_DeriveKey has returned. miekg/pkcs11 copies the parameter bytes into C
// memory itself, so the pointer inside them is to C memory, as cgo requires.
func derivationString(data []byte) ([]byte, func(), error) {
	if len(data) == 0 {
		return nil, nil, errors.New("pkcs11: empty derivation data")
	}
	k := C.tulpar_kds_new(unsafe.Pointer(&data[0]), C.ulong(len(data)))
	if k == nil {
		return nil, nil, errors.New("pkcs11: out of memory")
	}
	return C.GoBytes(unsafe.Pointer(k), C.int(C.sizeof_tulpar_kds)), func() { C.tulpar_kds_free(k) }, nil
}
