//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/tulpar-switch/tulpar/hsm"
)

// macLen is the length of the MAC in DE64 and DE128.
const macLen = 8

// mac computes the 8-byte MAC of data under one MAC key version.
func (m *Module) mac(s p11.SessionHandle, v *version, data []byte) ([]byte, error) {
	switch v.info.Algorithm {
	case hsm.AlgRetailMAC, hsm.AlgRetailMACPad2:
		return m.retailMAC(s, v, data)
	default:
		if err := m.lib.SignInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_CMAC, nil)}, v.obj); err != nil {
			return nil, err
		}
		full, err := m.lib.Sign(s, data)
		if err != nil {
			return nil, err
		}
		if len(full) < macLen {
			return nil, errors.New("short CMAC from the token")
		}
		// Truncated to the leftmost 64 bits (SP 800-38B 5.5).
		return full[:macLen], nil
	}
}

// retailMAC is ISO 9797-1 MAC algorithm 3 composed of CKM_DES3_CBC under
// K‖K (single DES under K) over all blocks but the last, and CKM_DES3_ECB
// under K‖K' of the last block XORed with that chain: E_K(D_K'(E_K(x))) is
// the algorithm's final encryption and output transformation in one step.
func (m *Module) retailMAC(s p11.SessionHandle, v *version, data []byte) ([]byte, error) {
	padded := pad(data, v.info.Algorithm == hsm.AlgRetailMACPad2)
	last := padded[len(padded)-8:]
	var h [8]byte
	if head := padded[:len(padded)-8]; len(head) > 0 {
		iv := make([]byte, 8)
		if err := m.lib.EncryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_DES3_CBC, iv)}, v.k1); err != nil {
			return nil, err
		}
		chain, err := m.lib.Encrypt(s, head)
		if err != nil {
			return nil, err
		}
		copy(h[:], chain[len(chain)-8:])
	}
	for i := range h {
		h[i] ^= last[i]
	}
	if err := m.lib.EncryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_DES3_ECB, nil)}, v.obj); err != nil {
		return nil, err
	}
	return m.lib.Encrypt(s, h[:])
}

// pad applies ISO 9797-1 padding method 1 (zeros, none when the data fills
// its last block, one zero block for empty data) or method 2 (0x80, then
// zeros).
func pad(data []byte, method2 bool) []byte {
	n := len(data)
	switch {
	case method2:
		n = (len(data)/8 + 1) * 8
	case n == 0:
		n = 8
	default:
		n = (n + 7) / 8 * 8
	}
	out := make([]byte, n)
	copy(out, data)
	if method2 {
		out[len(data)] = 0x80
	}
	return out
}

// GenerateMAC implements [hsm.Module].
func (m *Module) GenerateMAC(ctx context.Context, keyID string, data []byte) ([]byte, error) {
	var out []byte
	err := m.do(ctx, func(s p11.SessionHandle) error {
		v, err := m.typed(s, keyID, hsm.KeyMAC)
		if err != nil {
			return err
		}
		out, err = m.mac(s, v, data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("generate MAC: %w", err)
	}
	return out, nil
}

// VerifyMAC implements [hsm.Module]. Like the software module, it accepts
// a MAC made under the previous version for hsm.Config.MACGrace after a key
// change.
func (m *Module) VerifyMAC(ctx context.Context, keyID string, data, mac []byte) error {
	return m.do(ctx, func(s p11.SessionHandle) error {
		vs, err := m.versions(s, keyID)
		if err != nil {
			return fmt.Errorf("verify MAC: %w", err)
		}
		cur := vs[len(vs)-1]
		if cur.info.Type != hsm.KeyMAC {
			return fmt.Errorf("verify MAC: key %s is a %s key: %w", keyID, cur.info.Type, hsm.ErrWrongKeyType)
		}
		if len(mac) != macLen {
			return fmt.Errorf("verify MAC with key %s: MAC of %d bytes, want %d: %w", keyID, len(mac), macLen, hsm.ErrMACMismatch)
		}
		want, err := m.mac(s, cur, data)
		if err != nil {
			return fmt.Errorf("verify MAC with key %s: %w", keyID, err)
		}
		if subtle.ConstantTimeCompare(want, mac) == 1 {
			return nil
		}
		if len(vs) > 1 && m.cfg.MACGrace > 0 && m.now().Sub(cur.info.Created) < m.cfg.MACGrace {
			if want, err = m.mac(s, vs[len(vs)-2], data); err == nil && subtle.ConstantTimeCompare(want, mac) == 1 {
				return nil
			}
		}
		return fmt.Errorf("verify MAC with key %s version %d: %w", keyID, cur.info.Version, hsm.ErrMACMismatch)
	})
}

// EncryptPAN implements [hsm.Module]: format 2 of [hsm.ParsePANCiphertext],
// AES-256-GCM computed by the token.
func (m *Module) EncryptPAN(ctx context.Context, pan string) ([]byte, error) {
	if m.cfg.PANKey == "" {
		return nil, errors.New("encrypt PAN: no PAN key configured (hsm.pan_key)")
	}
	if !hsm.ValidPAN(pan) {
		return nil, fmt.Errorf("encrypt PAN: %w", hsm.ErrInvalidPAN)
	}
	var out []byte
	err := m.do(ctx, func(s p11.SessionHandle) error {
		v, err := m.typed(s, m.cfg.PANKey, hsm.KeyDEK)
		if err != nil {
			return err
		}
		hdr := hsm.AppendPANHeader(nil, hsm.PANFormatPKCS11, v.info.ID, v.info.Version)
		nonce := make([]byte, hsm.PANNonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		params := p11.NewGCMParams(nonce, hdr, hsm.PANTagSize*8)
		defer params.Free()
		if err := m.lib.EncryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, v.obj); err != nil {
			return err
		}
		plain := []byte(pan)
		defer clear(plain)
		sealed, err := m.lib.Encrypt(s, plain)
		if err != nil {
			return err
		}
		// Some tokens choose the nonce themselves and write it back.
		if iv := params.IV(); len(iv) == hsm.PANNonceSize {
			nonce = iv
		}
		out = append(append(hdr, nonce...), sealed...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt PAN: %w", err)
	}
	return out, nil
}

// DecryptPAN implements [hsm.Module], under the key version the ciphertext
// names.
func (m *Module) DecryptPAN(ctx context.Context, ciphertext []byte) (string, error) {
	c, err := hsm.ParsePANCiphertext(ciphertext)
	if err != nil {
		return "", fmt.Errorf("decrypt PAN: %w", err)
	}
	if c.Format != hsm.PANFormatPKCS11 {
		return "", fmt.Errorf("decrypt PAN: %w: made by the software module, not a PKCS#11 token", hsm.ErrBadCiphertext)
	}
	var pan string
	err = m.do(ctx, func(s p11.SessionHandle) error {
		v, err := m.versionOf(s, c.KeyID, c.Version)
		if err != nil {
			return err
		}
		if v.info.Type != hsm.KeyDEK {
			return fmt.Errorf("key %s is a %s key: %w", c.KeyID, v.info.Type, hsm.ErrWrongKeyType)
		}
		params := p11.NewGCMParams(c.Nonce(), c.Header(), hsm.PANTagSize*8)
		defer params.Free()
		bad := fmt.Errorf("with key %s version %d: %w", c.KeyID, c.Version, hsm.ErrBadCiphertext)
		if err := m.lib.DecryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, v.obj); err != nil {
			return bad
		}
		plain, err := m.lib.Decrypt(s, c.Sealed())
		if err != nil || !hsm.ValidPAN(string(plain)) {
			return bad
		}
		pan = string(plain)
		clear(plain)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("decrypt PAN: %w", err)
	}
	return pan, nil
}

func (m *Module) hmac(s p11.SessionHandle, v *version, msg []byte) ([]byte, error) {
	if err := m.lib.SignInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_SHA256_HMAC, nil)}, v.obj); err != nil {
		return nil, err
	}
	sum, err := m.lib.Sign(s, msg)
	if err != nil {
		return nil, err
	}
	if len(sum) != 32 {
		return nil, fmt.Errorf("HMAC-SHA256 of %d bytes from the token", len(sum))
	}
	return sum, nil
}

// TokenizePAN implements [hsm.Module]: the software module's token format
// ([hsm.FormatPANToken]), with the HMAC computed by the token.
func (m *Module) TokenizePAN(ctx context.Context, pan string) (string, error) {
	toks, err := m.tokens(ctx, pan, true)
	if err != nil {
		return "", err
	}
	return toks[0], nil
}

// PANTokens returns the tokens of a PAN under every version of the token
// key, newest first, as [hsm.Soft.PANTokens] does.
func (m *Module) PANTokens(ctx context.Context, pan string) ([]string, error) {
	return m.tokens(ctx, pan, false)
}

func (m *Module) tokens(ctx context.Context, pan string, currentOnly bool) ([]string, error) {
	if m.cfg.TokenKey == "" {
		return nil, errors.New("tokenize PAN: no token key configured (hsm.token_key)")
	}
	if !hsm.ValidPAN(pan) {
		return nil, fmt.Errorf("tokenize PAN: %w", hsm.ErrInvalidPAN)
	}
	var out []string
	err := m.do(ctx, func(s p11.SessionHandle) error {
		vs, err := m.versions(s, m.cfg.TokenKey)
		if err != nil {
			return err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].info.Type != hsm.KeyToken {
				return fmt.Errorf("key %s is a %s key, want %s: %w", m.cfg.TokenKey, vs[i].info.Type, hsm.KeyToken, hsm.ErrWrongKeyType)
			}
			sum, err := m.hmac(s, vs[i], hsm.PANTokenMessage(pan))
			if err != nil {
				return err
			}
			out = append(out, hsm.FormatPANToken(vs[i].info.Version, sum))
			if currentOnly {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokenize PAN: %w", err)
	}
	return out, nil
}

func (m *Module) checkCVVInput(pan, expiry, cvv string) error {
	if m.cfg.CVVKey == "" {
		return errors.New("no CVV key configured (hsm.cvv_key)")
	}
	return hsm.CheckCVVInput(pan, expiry, cvv)
}

// HashCVV implements [hsm.Module] in the software module's format
// ([hsm.FormatCVVHash]), the HMAC computed by the token.
func (m *Module) HashCVV(ctx context.Context, pan, expiry, cvv string) (string, error) {
	if err := m.checkCVVInput(pan, expiry, cvv); err != nil {
		return "", fmt.Errorf("hash CVV2: %w", err)
	}
	var out string
	err := m.do(ctx, func(s p11.SessionHandle) error {
		v, err := m.typed(s, m.cfg.CVVKey, hsm.KeyCVK)
		if err != nil {
			return err
		}
		sum, err := m.hmac(s, v, hsm.CVVMessage(pan, expiry, cvv))
		if err != nil {
			return err
		}
		out = hsm.FormatCVVHash(v.info.ID, v.info.Version, sum)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash CVV2: %w", err)
	}
	return out, nil
}

// VerifyCVV implements [hsm.Module], under the CVK version the hash names.
func (m *Module) VerifyCVV(ctx context.Context, pan, expiry, cvv, hash string) error {
	if err := m.checkCVVInput(pan, expiry, cvv); err != nil {
		return fmt.Errorf("verify CVV2: %w", err)
	}
	id, ver, want, err := hsm.ParseCVVHash(hash)
	if err != nil {
		return fmt.Errorf("verify CVV2: %w", err)
	}
	return m.do(ctx, func(s p11.SessionHandle) error {
		v, err := m.versionOf(s, id, ver)
		if err != nil {
			return fmt.Errorf("verify CVV2: %w", err)
		}
		if v.info.Type != hsm.KeyCVK {
			return fmt.Errorf("verify CVV2: key %s is a %s key: %w", id, v.info.Type, hsm.ErrWrongKeyType)
		}
		got, err := m.hmac(s, v, hsm.CVVMessage(pan, expiry, cvv))
		if err != nil {
			return fmt.Errorf("verify CVV2: %w", err)
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return fmt.Errorf("verify CVV2 with key %s version %d: %w", id, ver, hsm.ErrCVVMismatch)
		}
		return nil
	})
}
