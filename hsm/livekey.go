package hsm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

// liveKey is one unwrapped key version with its cipher state prepared, so the
// per-message path does no key schedule and, for HMAC, no allocation of a new
// hash.
type liveKey struct {
	info KeyInfo // Current is not kept here: it changes with rotation
	raw  []byte

	des1, des2 cipher.Block // retail MAC: K and K'
	tdes       cipher.Block // TDES ZMK
	cmac       *cmac        // AES-CMAC MAC keys
	aes        cipher.Block // AES ZMK
	aead       cipher.AEAD  // DEK
	hmacs      sync.Pool    // CVK and token keys: hash.Hash from hmac.New
}

func newLiveKey(info KeyInfo, raw []byte) (*liveKey, error) {
	if n, ok := keyLen[info.Algorithm]; !ok || len(raw) != n {
		return nil, fmt.Errorf("%s key of %d bytes", info.Algorithm, len(raw))
	}
	k := &liveKey{info: info, raw: raw}
	var err error
	switch info.Algorithm {
	case AlgRetailMAC, AlgRetailMACPad2:
		if k.des1, err = des.NewCipher(raw[:8]); err != nil {
			return nil, err
		}
		if k.des2, err = des.NewCipher(raw[8:]); err != nil {
			return nil, err
		}
	case AlgTDES:
		if k.tdes, err = tdesCipher(raw); err != nil {
			return nil, err
		}
	case AlgCMAC128, AlgCMAC256:
		b, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		k.cmac = newCMAC(b)
	case AlgAES256:
		if k.aes, err = aes.NewCipher(raw); err != nil {
			return nil, err
		}
		if info.Type == KeyDEK {
			if k.aead, err = cipher.NewGCM(k.aes); err != nil {
				return nil, err
			}
		}
	case AlgHMACSHA256:
		k.hmacs.New = func() any { return hmac.New(sha256.New, raw) }
	}
	if k.info.KCV, err = kcvOf(info.Algorithm, raw); err != nil {
		return nil, err
	}
	return k, nil
}

// mac computes the 8-byte DE64/DE128 MAC of data.
func (k *liveKey) mac(data []byte, out *[macLen]byte) {
	switch k.info.Algorithm {
	case AlgRetailMAC:
		retailMAC(k.des1, k.des2, 1, data, out)
	case AlgRetailMACPad2:
		retailMAC(k.des1, k.des2, 2, data, out)
	default: // CMAC, truncated to the leftmost 64 bits (SP 800-38B 5.5)
		var full [16]byte
		k.cmac.sum(data, &full)
		copy(out[:], full[:macLen])
	}
}

// hmacSum appends HMAC-SHA256(key, parts...) to dst.
func (k *liveKey) hmacSum(dst []byte, parts ...string) []byte {
	h := k.hmacs.Get().(hash.Hash)
	h.Reset()
	for _, p := range parts {
		// hash.Hash writes never fail; io.WriteString avoids a []byte copy
		// when the hash implements io.StringWriter.
		writeString(h, p)
	}
	dst = h.Sum(dst)
	k.hmacs.Put(h)
	return dst
}

func writeString(h hash.Hash, s string) {
	if sw, ok := h.(interface{ WriteString(string) (int, error) }); ok {
		sw.WriteString(s)
		return
	}
	h.Write([]byte(s))
}

// wrapUnder wraps a clear key under this ZMK.
func (k *liveKey) wrapUnder(key []byte) ([]byte, error) {
	if k.info.Algorithm == AlgTDES {
		return ecbEncrypt(k.tdes, key)
	}
	return aesKeyWrap(k.aes, key)
}

// unwrapUnder reverses wrapUnder.
func (k *liveKey) unwrapUnder(wrapped []byte) ([]byte, error) {
	if k.info.Algorithm == AlgTDES {
		return ecbDecrypt(k.tdes, wrapped)
	}
	return aesKeyUnwrap(k.aes, wrapped)
}
