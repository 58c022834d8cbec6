package hsm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"fmt"
	"strings"
)

// macLen is the length of the MAC in DE64 and DE128.
const macLen = 8

// retailMAC computes ISO/IEC 9797-1 MAC algorithm 3 (ANSI X9.19 when padding
// method 1 is used) with DES: initial transformation 1, single-DES CBC under K
// over every block, then output transformation 3 on the last block: decrypt
// under K', encrypt under K. k and k2 are DES ciphers for the left and right
// halves of the double-length key. padMethod is 1 (zeros, none when the data
// already fills the last block, one zero block when the data is empty) or 2
// (0x80 then zeros, always at least one byte).
func retailMAC(k, k2 cipher.Block, padMethod int, data []byte, out *[8]byte) {
	var h [8]byte
	empty := len(data) == 0
	for len(data) >= 8 {
		subtleXOR8(&h, data)
		k.Encrypt(h[:], h[:])
		data = data[8:]
	}
	if len(data) > 0 || padMethod == 2 || empty {
		var last [8]byte
		copy(last[:], data)
		if padMethod == 2 {
			last[len(data)] = 0x80
		}
		subtleXOR8(&h, last[:])
		k.Encrypt(h[:], h[:])
	}
	k2.Decrypt(h[:], h[:])
	k.Encrypt(out[:], h[:])
}

func subtleXOR8(h *[8]byte, b []byte) {
	_ = b[7]
	for i := range 8 {
		h[i] ^= b[i]
	}
}

// cmac holds an AES cipher and its CMAC subkeys (NIST SP 800-38B 6.1).
type cmac struct {
	b      cipher.Block
	k1, k2 [16]byte
}

func newCMAC(b cipher.Block) *cmac {
	c := &cmac{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	c.k1 = dbl(l)
	c.k2 = dbl(c.k1)
	return c
}

// dbl multiplies by x in GF(2^128) with the polynomial x^128+x^7+x^2+x+1:
// shift left one bit, and fold the carry back as 0x87 (SP 800-38B 5.3).
func dbl(in [16]byte) [16]byte {
	var out [16]byte
	carry := in[0] >> 7
	for i := range 15 {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[15] = in[15]<<1 ^ (0x87 & -carry)
	return out
}

// sum computes the full 16-byte CMAC of msg (SP 800-38B 6.2).
func (c *cmac) sum(msg []byte, out *[16]byte) {
	var x [16]byte
	// All blocks but the last go through plain CBC; the last one, complete or
	// not, is always kept back for the subkey step, so an empty message and a
	// message of exactly one block both end below.
	for len(msg) > 16 {
		for i := range 16 {
			x[i] ^= msg[i]
		}
		c.b.Encrypt(x[:], x[:])
		msg = msg[16:]
	}
	if len(msg) == 16 {
		for i := range 16 {
			x[i] ^= msg[i] ^ c.k1[i]
		}
	} else {
		var last [16]byte
		copy(last[:], msg)
		last[len(msg)] = 0x80
		for i := range 16 {
			x[i] ^= last[i] ^ c.k2[i]
		}
	}
	c.b.Encrypt(out[:], x[:])
}

// tdesKCV is the check value of a TDES key: the leftmost 3 bytes of an
// all-zero block encrypted under it (X9.24-1, PCI PIN 15-1, first method).
func tdesKCV(b cipher.Block) string {
	var z [8]byte
	b.Encrypt(z[:], z[:])
	return strings.ToUpper(hex.EncodeToString(z[:3]))
}

// aesKCV is the check value of an AES key: the leftmost 3 bytes of the
// AES-CMAC of a 16-byte zero block (X9.24-1:2017; the only method PCI PIN
// 15-1 allows for AES, and the one AWS Payment Cryptography and payShield use).
func aesKCV(c *cmac) string {
	var z, out [16]byte
	c.sum(z[:], &out)
	return strings.ToUpper(hex.EncodeToString(out[:3]))
}

// tdesCipher returns a TDES cipher for a double-length key (K1 K2 K1).
func tdesCipher(key []byte) (cipher.Block, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("TDES key: want 16 bytes, got %d", len(key))
	}
	k := make([]byte, 24)
	copy(k, key)
	copy(k[16:], key[:8])
	return des.NewTripleDESCipher(k)
}

// kcvOf computes the check value of a clear key of the given algorithm.
func kcvOf(alg Algorithm, key []byte) (string, error) {
	switch alg {
	case AlgTDES, AlgRetailMAC, AlgRetailMACPad2:
		b, err := tdesCipher(key)
		if err != nil {
			return "", err
		}
		return tdesKCV(b), nil
	default:
		// AES keys, and the 256-bit HMAC keys, which have no check value
		// method of their own: treating them as AES-256 keys for the KCV
		// gives operators the same 6 digits they compare for every other key.
		b, err := aes.NewCipher(key)
		if err != nil {
			return "", err
		}
		return aesKCV(newCMAC(b)), nil
	}
}

// setOddParity sets the low bit of each byte so that it has odd parity, as
// DES keys conventionally do; DES itself ignores these bits.
func setOddParity(key []byte) {
	for i, b := range key {
		b &^= 1
		ones := 0
		for v := b; v != 0; v >>= 1 {
			ones += int(v & 1)
		}
		if ones%2 == 0 {
			b |= 1
		}
		key[i] = b
	}
}

// ComponentKCV returns the check value of clear key material of the given
// algorithm: what each custodian compares when a key is entered from
// components (`tulpar keys import-zmk`), one component at a time, before
// [KeyStore.ImportComponents] combines them. It returns nothing but the
// check value.
func ComponentKCV(alg Algorithm, key []byte) (string, error) {
	n, ok := keyLen[alg]
	if !ok {
		return "", fmt.Errorf("unknown algorithm %q", alg)
	}
	if len(key) != n {
		return "", fmt.Errorf("%s key must be %d bytes, got %d", alg, n, len(key))
	}
	return kcvOf(alg, key)
}
