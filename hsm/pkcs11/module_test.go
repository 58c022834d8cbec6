//go:build cgo

package pkcs11_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
)

// TestCardData: PANs, tokens and CVV2 hashes through keys the token
// generated, across a rotation, and refusals as the software module's.
func TestCardData(t *testing.T) {
	ctx := context.Background()
	m, cfg := openToken(t, nil)
	made, err := m.InitKeys(ctx)
	require.NoError(t, err)
	require.Len(t, made, 3, "dek, token and cvk")
	for _, k := range made {
		assert.Equal(t, uint32(1), k.Version)
		assert.Regexp(t, `^[0-9A-F]{6}$`, k.KCV)
		assert.Equal(t, "generated in the token", k.Origin)
	}
	again, err := m.InitKeys(ctx)
	require.NoError(t, err)
	assert.Empty(t, again, "init creates only what is missing")

	pans := hsmtest.TestPANs
	var v1 [][]byte
	for _, pan := range pans {
		ct, err := m.EncryptPAN(ctx, pan)
		require.NoError(t, err)
		c, err := hsm.ParsePANCiphertext(ct)
		require.NoError(t, err)
		assert.Equal(t, hsm.PANFormatPKCS11, c.Format)
		assert.NotContains(t, string(ct), pan)
		v1 = append(v1, ct)
	}
	tok1, err := m.TokenizePAN(ctx, pans[0])
	require.NoError(t, err)
	assert.Regexp(t, `^tk1_[A-Za-z0-9_-]{32}$`, tok1)
	again1, err := m.TokenizePAN(ctx, pans[0])
	require.NoError(t, err)
	assert.Equal(t, tok1, again1, "deterministic")
	h, err := m.HashCVV(ctx, pans[0], "2812", "917")
	require.NoError(t, err)
	assert.Regexp(t, `^cvk\.1\.[A-Za-z0-9_-]{43}$`, h)

	for _, id := range []string{"dek", "token", "cvk"} {
		info, err := m.Rotate(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, uint32(2), info.Version)
	}
	for i, pan := range pans {
		got, err := m.DecryptPAN(ctx, v1[i])
		require.NoError(t, err, "version 1 still decrypts")
		assert.Equal(t, pan, got)
		ct2, err := m.EncryptPAN(ctx, pan)
		require.NoError(t, err)
		c, _ := hsm.ParsePANCiphertext(ct2)
		assert.Equal(t, uint32(2), c.Version)
		got, err = m.DecryptPAN(ctx, ct2)
		require.NoError(t, err)
		assert.Equal(t, pan, got)
	}
	all, err := m.PANTokens(ctx, pans[0])
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.True(t, strings.HasPrefix(all[0], "tk2_"))
	assert.Equal(t, tok1, all[1])
	require.NoError(t, m.VerifyCVV(ctx, pans[0], "2812", "917", h), "an old card book still verifies")
	assert.ErrorIs(t, m.VerifyCVV(ctx, pans[0], "2812", "384", h), hsm.ErrCVVMismatch)
	assert.ErrorIs(t, m.VerifyCVV(ctx, pans[1], "2812", "917", h), hsm.ErrCVVMismatch)

	// Every bit of a ciphertext matters; the software module's ciphertexts
	// are refused as such.
	ct := v1[0]
	for i := range len(ct) * 8 {
		bad := append([]byte(nil), ct...)
		bad[i/8] ^= 1 << (i % 8)
		_, err := m.DecryptPAN(ctx, bad)
		require.Error(t, err, "bit %d", i)
		require.True(t, errors.Is(err, hsm.ErrBadCiphertext) || errors.Is(err, hsm.ErrUnknownKey), "bit %d: %v", i, err)
	}
	soft, err := hsm.NewEphemeral()
	require.NoError(t, err)
	softCT, err := soft.EncryptPAN(ctx, pans[0])
	require.NoError(t, err)
	_, err = m.DecryptPAN(ctx, softCT)
	assert.ErrorContains(t, err, "made by the software module")
	_, err = soft.DecryptPAN(ctx, ct)
	assert.ErrorContains(t, err, "made by a PKCS#11 token")

	// Refusals carry no card data.
	_, err = m.EncryptPAN(ctx, pans[0]+"9999")
	assert.ErrorIs(t, err, hsm.ErrInvalidPAN)
	assert.NotContains(t, err.Error(), pans[0])
	_, err = m.GenerateMAC(ctx, "dek", []byte("x"))
	assert.ErrorIs(t, err, hsm.ErrWrongKeyType, "a DEK never makes a MAC")
	_, err = m.GenerateMAC(ctx, "nope", []byte("x"))
	assert.ErrorIs(t, err, hsm.ErrUnknownKey)

	// The keys stay in the token: a new module on it finds them.
	require.NoError(t, m.Close())
	m2, err := pkcs11.Open(cfg)
	require.NoError(t, err)
	defer m2.Close()
	got, err := m2.DecryptPAN(ctx, v1[1])
	require.NoError(t, err)
	assert.Equal(t, pans[1], got)
	keys, err := m2.Keys(ctx)
	require.NoError(t, err)
	var list []string
	for _, k := range keys {
		list = append(list, k.ID+"/"+string(rune('0'+k.Version))+map[bool]string{true: "*"}[k.Current])
	}
	assert.Equal(t, []string{"cvk/1", "cvk/2*", "dek/1", "dek/2*", "token/1", "token/2*"}, list)
}

// The same token and CVV keys give the same tokens and CVV2 hashes in the
// token as in the software module: the formats are one.
func TestSameKeysSameTokens(t *testing.T) {
	ctx := context.Background()
	m, _ := openToken(t, func(c *hsm.Config) { c.TokenKey, c.CVVKey = "token-b", "cvk-b" })
	bank := withZMKs(t, m)
	tokenKey := unhex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	cvk := unhex(t, "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100")
	send(t, m, bank, "zmk-aes", "token-b", hsm.KeyToken, hsm.AlgHMACSHA256, tokenKey)
	send(t, m, bank, "zmk-tdes", "cvk-b", hsm.KeyCVK, hsm.AlgHMACSHA256, cvk)

	mk, err := hsm.GenerateMasterKey()
	require.NoError(t, err)
	store, err := hsm.NewMemoryKeyStore(mk)
	require.NoError(t, err)
	_, err = store.ImportClear("token-b", hsm.KeyToken, hsm.AlgHMACSHA256, tokenKey)
	require.NoError(t, err)
	_, err = store.ImportClear("cvk-b", hsm.KeyCVK, hsm.AlgHMACSHA256, cvk)
	require.NoError(t, err)
	cfg := hsm.DefaultConfig()
	cfg.PANKey, cfg.TokenKey, cfg.CVVKey = "", "token-b", "cvk-b"
	soft, err := hsm.NewSoft(store, cfg)
	require.NoError(t, err)

	for _, pan := range hsmtest.TestPANs {
		want, err := soft.TokenizePAN(ctx, pan)
		require.NoError(t, err)
		got, err := m.TokenizePAN(ctx, pan)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		h, err := m.HashCVV(ctx, pan, "3012", "5273")
		require.NoError(t, err)
		require.NoError(t, soft.VerifyCVV(ctx, pan, "3012", "5273", h), "the software module verifies the token's hash")
		wantH, err := soft.HashCVV(ctx, pan, "3012", "5273")
		require.NoError(t, err)
		assert.Equal(t, wantH, h)
	}
}

// TestImports: a wrong check value stores nothing; the same key twice is
// one version; a second key is a second version, and the MAC made under the
// first is accepted for the grace period only.
func TestImports(t *testing.T) {
	ctx := context.Background()
	m, cfg := openToken(t, nil)
	bank := withZMKs(t, m)
	_, err := bank.Store().Create("mac", hsm.KeyMAC, hsm.AlgRetailMACPad2)
	require.NoError(t, err)
	wrapped, kcv, err := bank.ExportKey(ctx, "zmk-tdes", "mac")
	require.NoError(t, err)
	req := hsm.ImportRequest{ZMK: "zmk-tdes", KeyID: "mac-bank", Algorithm: hsm.AlgRetailMACPad2, Wrapped: wrapped, KCV: kcv}

	bad := req
	bad.KCV = "000000"
	_, err = m.ImportKey(ctx, bad)
	require.ErrorIs(t, err, hsm.ErrKCVMismatch)
	_, err = m.Key(ctx, "mac-bank")
	require.ErrorIs(t, err, hsm.ErrUnknownKey, "a failed import stores nothing")

	info, err := m.ImportKey(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), info.Version)
	again, err := m.ImportKey(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), again.Version, "the same key change twice makes one version")

	msg := []byte("0800 network management")
	old, err := bank.GenerateMAC(ctx, "mac", msg)
	require.NoError(t, err)
	require.NoError(t, m.VerifyMAC(ctx, "mac-bank", msg, old))

	_, err = bank.Store().Rotate("mac")
	require.NoError(t, err)
	wrapped2, kcv2, err := bank.ExportKey(ctx, "zmk-tdes", "mac")
	require.NoError(t, err)
	req.Wrapped, req.KCV, req.Algorithm = wrapped2, kcv2, "" // an existing key keeps its algorithm
	info, err = m.ImportKey(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), info.Version)
	fresh, err := bank.GenerateMAC(ctx, "mac", msg)
	require.NoError(t, err)
	require.NoError(t, m.VerifyMAC(ctx, "mac-bank", msg, fresh))
	require.NoError(t, m.VerifyMAC(ctx, "mac-bank", msg, old), "in flight during the change")
	mine, err := m.GenerateMAC(ctx, "mac-bank", msg)
	require.NoError(t, err)
	assert.Equal(t, fresh, mine, "new MACs use the new version")

	cfg.MACGrace = -1
	noGrace, err := pkcs11.New(cfg)
	require.NoError(t, err)
	defer noGrace.Close()
	require.ErrorIs(t, noGrace.VerifyMAC(ctx, "mac-bank", msg, old), hsm.ErrMACMismatch, "no grace: the old key is gone")

	for _, tc := range []struct {
		name string
		req  hsm.ImportRequest
		want string
	}{
		{"no KCV", hsm.ImportRequest{ZMK: "zmk-tdes", KeyID: "k", Algorithm: hsm.AlgRetailMAC, Wrapped: wrapped}, "check value is required"},
		{"ZMK under ZMK", hsm.ImportRequest{ZMK: "zmk-tdes", KeyID: "k", Type: hsm.KeyZMK, Algorithm: hsm.AlgTDES, Wrapped: wrapped, KCV: kcv}, "enter it from components"},
		{"no algorithm", hsm.ImportRequest{ZMK: "zmk-tdes", KeyID: "k", Wrapped: wrapped, KCV: kcv}, "algorithm is required"},
		{"unknown ZMK", hsm.ImportRequest{ZMK: "nope", KeyID: "k", Algorithm: hsm.AlgRetailMAC, Wrapped: wrapped, KCV: kcv}, "unknown key"},
		{"not a ZMK", hsm.ImportRequest{ZMK: "mac-bank", KeyID: "k", Algorithm: hsm.AlgRetailMAC, Wrapped: wrapped, KCV: kcv}, "wrong type"},
		{"wrong length", hsm.ImportRequest{ZMK: "zmk-aes", KeyID: "k", Algorithm: hsm.AlgCMAC256, Wrapped: make([]byte, 24), KCV: kcv}, "is 40 bytes, got 24"},
		{"wrong algorithm", hsm.ImportRequest{ZMK: "zmk-tdes", KeyID: "mac-bank", Algorithm: hsm.AlgCMAC128, Wrapped: wrapped, KCV: kcv}, "the token has it as mac iso9797-3-pad2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.ImportKey(ctx, tc.req)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// On SoftHSM2, which cannot unwrap under TDES, the switch refuses what
// would need the clear key in its memory unless allow_host_unwrap says so;
// what the token can do itself works without it.
func TestHostUnwrapRefused(t *testing.T) {
	ctx := context.Background()
	m, _ := openToken(t, func(c *hsm.Config) { c.PKCS11.AllowHostUnwrap = false })
	tdes := zmks[0]
	_, err := m.ImportComponents(ctx, tdes.id, hsm.KeyZMK, tdes.alg, [][]byte{unhex(t, tdes.components[0]), unhex(t, tdes.components[1])}, tdes.kcv)
	require.ErrorContains(t, err, "a TDES zone master key: the token cannot unwrap this key itself; set hsm.pkcs11.allow_host_unwrap")
	_, err = m.Create(ctx, "zmk-gen", hsm.KeyZMK, hsm.AlgTDES)
	require.ErrorContains(t, err, "allow_host_unwrap")

	aes := zmks[1]
	_, err = m.ImportComponents(ctx, aes.id, hsm.KeyZMK, aes.alg, [][]byte{unhex(t, aes.components[0]), unhex(t, aes.components[1])}, aes.kcv)
	require.NoError(t, err)
	bank, err := hsm.NewEphemeral()
	require.NoError(t, err)
	_, err = bank.Store().ImportClear(aes.id, hsm.KeyZMK, aes.alg, unhex(t, aes.key))
	require.NoError(t, err)
	for _, alg := range []hsm.Algorithm{hsm.AlgRetailMAC, hsm.AlgCMAC256} {
		_, err = bank.Store().Create(string(alg), hsm.KeyMAC, alg)
		require.NoError(t, err)
		wrapped, kcv, err := bank.ExportKey(ctx, aes.id, string(alg))
		require.NoError(t, err)
		_, err = m.ImportKey(ctx, hsm.ImportRequest{ZMK: aes.id, KeyID: string(alg), Algorithm: alg, Wrapped: wrapped, KCV: kcv})
		if alg == hsm.AlgRetailMAC {
			require.ErrorContains(t, err, "DES halves cannot be split")
			continue
		}
		require.NoError(t, err, "AES key wrap is unwrapped by the token itself")
		mac, err := bank.GenerateMAC(ctx, string(alg), []byte("0200"))
		require.NoError(t, err)
		require.NoError(t, m.VerifyMAC(ctx, string(alg), []byte("0200"), mac))
	}
}

// Keys the token generates, of every type and algorithm, work for their
// job and only for it.
func TestGeneratedKeys(t *testing.T) {
	ctx := context.Background()
	m, _ := openToken(t, func(c *hsm.Config) { c.PANKey, c.TokenKey, c.CVVKey = "", "", "" })
	msg := []byte("0200\xf2\x3e\x44\x81 an ISO 8583 message up to DE64")
	for _, alg := range hsm.Algorithms(hsm.KeyMAC) {
		t.Run(string(alg), func(t *testing.T) {
			id := "mac-" + string(alg)
			info, err := m.Create(ctx, id, hsm.KeyMAC, alg)
			require.NoError(t, err)
			assert.Regexp(t, `^[0-9A-F]{6}$`, info.KCV)
			_, err = m.Create(ctx, id, hsm.KeyMAC, alg)
			require.ErrorIs(t, err, hsm.ErrKeyExists)
			mac, err := m.GenerateMAC(ctx, id, msg)
			require.NoError(t, err)
			require.Len(t, mac, 8)
			require.NoError(t, m.VerifyMAC(ctx, id, msg, mac))
			for i := range len(msg) * 8 {
				bad := append([]byte(nil), msg...)
				bad[i/8] ^= 1 << (i % 8)
				require.ErrorIs(t, m.VerifyMAC(ctx, id, bad, mac), hsm.ErrMACMismatch, "data bit %d", i)
			}
			bad := append([]byte(nil), mac...)
			bad[7] ^= 1
			require.ErrorIs(t, m.VerifyMAC(ctx, id, msg, bad), hsm.ErrMACMismatch)
			require.ErrorIs(t, m.VerifyMAC(ctx, id, msg, mac[:4]), hsm.ErrMACMismatch)
		})
	}
	for _, alg := range hsm.Algorithms(hsm.KeyZMK) {
		_, err := m.Create(ctx, "zmk-"+string(alg), hsm.KeyZMK, alg)
		require.NoError(t, err)
	}
	_, err := m.Create(ctx, "bad id", hsm.KeyDEK, "")
	assert.ErrorContains(t, err, "key id")
	_, err = m.Create(ctx, "x", hsm.KeyDEK, hsm.AlgTDES)
	assert.ErrorContains(t, err, "cannot have algorithm")
	_, err = m.EncryptPAN(ctx, hsmtest.TestPANs[0])
	assert.ErrorContains(t, err, "no PAN key configured")
}

func TestOpenRefuses(t *testing.T) {
	m, cfg := openToken(t, nil)
	// A login holds for the whole process: with a module open, any PIN
	// would do.
	require.NoError(t, m.Close())
	for _, tc := range []struct {
		name string
		edit func(*hsm.Config)
		want string
	}{
		{"missing role key", func(*hsm.Config) {}, "hsm.pan_key: key dek: unknown key"},
		{"wrong PIN", func(c *hsm.Config) { c.PKCS11.PIN = "000000" }, "refused the user PIN"},
		{"no such token", func(c *hsm.Config) { c.PKCS11.TokenLabel = "other" }, `no token labelled "other"`},
		{"no such library", func(c *hsm.Config) { c.PKCS11.Module = "/nonexistent/libp11.so" }, "cannot load the PKCS#11 library"},
		{"PIN variable unset", func(c *hsm.Config) { c.PKCS11.PIN, c.PKCS11.PINEnv = "", "TULPAR_TEST_NO_SUCH_PIN" }, "TULPAR_TEST_NO_SUCH_PIN"},
		{"soft kind", func(c *hsm.Config) { c.Kind = "" }, "not pkcs11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			tc.edit(&c)
			m, err := pkcs11.Open(c)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, m)
		})
	}
}

// Many payments share one module: its sessions serve them at once.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	m, _ := openToken(t, func(c *hsm.Config) { c.PKCS11.Sessions = 2 })
	_, err := m.InitKeys(ctx)
	require.NoError(t, err)
	_, err = m.Create(ctx, "mac", hsm.KeyMAC, hsm.AlgRetailMAC)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			pan := hsmtest.TestPANs[i%len(hsmtest.TestPANs)]
			for range 10 {
				ct, err := m.EncryptPAN(ctx, pan)
				if err == nil {
					var got string
					if got, err = m.DecryptPAN(ctx, ct); err == nil && got != pan {
						err = errors.New("round trip gave another PAN")
					}
				}
				if err == nil {
					var mac []byte
					if mac, err = m.GenerateMAC(ctx, "mac", []byte(pan)); err == nil {
						err = m.VerifyMAC(ctx, "mac", []byte(pan), mac)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
