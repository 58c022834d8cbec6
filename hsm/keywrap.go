package hsm

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

var errUnwrap = errors.New("key unwrap failed: wrong ZMK or damaged key")

// kwIV is the default initial value of RFC 3394 section 2.2.3.1.
var kwIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// aesKeyWrap wraps plaintext (a multiple of 8 bytes, at least 16) under kek
// with the AES key wrap of RFC 3394 section 2.2.1 (index form).
func aesKeyWrap(kek cipher.Block, plaintext []byte) ([]byte, error) {
	if len(plaintext) < 16 || len(plaintext)%8 != 0 {
		return nil, fmt.Errorf("AES key wrap: key of %d bytes is not a multiple of 8 of at least 16", len(plaintext))
	}
	n := len(plaintext) / 8
	out := make([]byte, 8+len(plaintext))
	copy(out[:8], kwIV[:])
	copy(out[8:], plaintext)
	var b [16]byte
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			kek.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:], b[8:])
		}
	}
	return out, nil
}

// aesKeyUnwrap reverses aesKeyWrap and checks the integrity value.
func aesKeyUnwrap(kek cipher.Block, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 24 || len(wrapped)%8 != 0 {
		return nil, fmt.Errorf("AES key unwrap: %d bytes is not a multiple of 8 of at least 24", len(wrapped))
	}
	n := len(wrapped)/8 - 1
	var a [8]byte
	copy(a[:], wrapped[:8])
	r := make([]byte, 8*n)
	copy(r, wrapped[8:])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(b[8:], r[8*(i-1):8*i])
			kek.Decrypt(b[:], b[:])
			copy(a[:], b[:8])
			copy(r[8*(i-1):], b[8:])
		}
	}
	if subtle.ConstantTimeCompare(a[:], kwIV[:]) != 1 {
		clear(r)
		return nil, errUnwrap
	}
	return r, nil
}

// ecbEncrypt encrypts each 8-byte block of key under a TDES ZMK, the form in
// which ISO 8583 key changes have carried working keys since ANSI X9.17.
func ecbEncrypt(zmk cipher.Block, key []byte) ([]byte, error) {
	bs := zmk.BlockSize()
	if len(key) == 0 || len(key)%bs != 0 {
		return nil, fmt.Errorf("ECB key wrap: key of %d bytes is not a multiple of %d", len(key), bs)
	}
	out := make([]byte, len(key))
	for i := 0; i < len(key); i += bs {
		zmk.Encrypt(out[i:i+bs], key[i:i+bs])
	}
	return out, nil
}

func ecbDecrypt(zmk cipher.Block, wrapped []byte) ([]byte, error) {
	bs := zmk.BlockSize()
	if len(wrapped) == 0 || len(wrapped)%bs != 0 {
		return nil, fmt.Errorf("ECB key unwrap: %d bytes is not a multiple of %d", len(wrapped), bs)
	}
	out := make([]byte, len(wrapped))
	for i := 0; i < len(wrapped); i += bs {
		zmk.Decrypt(out[i:i+bs], wrapped[i:i+bs])
	}
	return out, nil
}
