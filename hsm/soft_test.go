package hsm

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MustEphemeral returns a module with fresh default keys.
func MustEphemeral(tb testing.TB) *Soft {
	tb.Helper()
	m, err := NewEphemeral()
	require.NoError(tb, err)
	return m
}

var testPANs = []string{
	"4111111111111111", "5555555555555599", "4444555511113333",
	"4012001038166662", "5168494895055780", "4000001111111118",
}

func TestMACRoundTripAndTamper(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	msg := []byte("0200\xf2\x3e\x44\x81\x28\xe0\x80\x00 an ISO 8583 message up to DE64")
	for _, alg := range Algorithms(KeyMAC) {
		t.Run(string(alg), func(t *testing.T) {
			id := "mac-" + string(alg)
			_, err := m.Store().Create(id, KeyMAC, alg)
			require.NoError(t, err)
			mac, err := m.GenerateMAC(ctx, id, msg)
			require.NoError(t, err)
			require.Len(t, mac, 8)
			require.NoError(t, m.VerifyMAC(ctx, id, msg, mac))

			again, err := m.GenerateMAC(ctx, id, msg)
			require.NoError(t, err)
			assert.Equal(t, mac, again, "a MAC is deterministic")

			for i := range len(msg) * 8 {
				bad := append([]byte(nil), msg...)
				bad[i/8] ^= 1 << (i % 8)
				require.ErrorIs(t, m.VerifyMAC(ctx, id, bad, mac), ErrMACMismatch, "data bit %d", i)
			}
			for i := range 64 {
				bad := append([]byte(nil), mac...)
				bad[i/8] ^= 1 << (i % 8)
				require.ErrorIs(t, m.VerifyMAC(ctx, id, msg, bad), ErrMACMismatch, "MAC bit %d", i)
			}
			assert.ErrorIs(t, m.VerifyMAC(ctx, id, msg, mac[:4]), ErrMACMismatch)
			assert.ErrorIs(t, m.VerifyMAC(ctx, id, append(msg, '0'), mac), ErrMACMismatch)
			if alg == AlgRetailMAC {
				// Padding method 1's known ambiguity (ISO 9797-1 6.1.1):
				// trailing zero bytes inside the last block do not change
				// the MAC. ISO 8583 framing carries the length, which is why
				// banks still use it; pad 2 and CMAC have no such case.
				assert.NoError(t, m.VerifyMAC(ctx, id, append(msg, 0), mac))
			} else {
				assert.ErrorIs(t, m.VerifyMAC(ctx, id, append(msg, 0), mac), ErrMACMismatch)
			}
		})
	}
	_, err := m.GenerateMAC(ctx, "nope", msg)
	assert.ErrorIs(t, err, ErrUnknownKey)
	_, err = m.GenerateMAC(ctx, "dek", msg)
	assert.ErrorIs(t, err, ErrWrongKeyType, "a DEK never makes a MAC")
	assert.ErrorIs(t, m.VerifyMAC(ctx, "dek", msg, make([]byte, 8)), ErrWrongKeyType)
}

// The published vectors again, end to end through the module a link uses.
func TestModuleMACMatchesPublishedVectors(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	_, err := m.Store().ImportClear("bc", KeyMAC, AlgRetailMAC, unhex(t, "7CA110454A1A6E570131D9619DC1376E"))
	require.NoError(t, err)
	_, err = m.Store().ImportClear("icao", KeyMAC, AlgRetailMACPad2, unhex(t, "7962D9ECE03D1ACD4C76089DCE131543"))
	require.NoError(t, err)
	_, err = m.Store().ImportClear("rfc4493", KeyMAC, AlgCMAC128, unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	require.NoError(t, err)
	for _, tc := range []struct {
		id   string
		data []byte
		want string
	}{
		{"bc", []byte("Hello World !!!!"), "F09B856213BAB83B"},
		{"icao", unhex(t, "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"), "5F1448EEA8AD90A7"},
		{"rfc4493", unhex(t, rfc4493Msg)[:40], "dfa66747de9ae630"}, // leftmost 64 bits of Example 3
	} {
		got, err := m.GenerateMAC(ctx, tc.id, tc.data)
		require.NoError(t, err)
		assert.Equal(t, unhex(t, tc.want), got, tc.id)
	}
}

func TestMACKeyChangeGrace(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	m.store.now = m.now
	_, err := m.Store().Create("mac", KeyMAC, AlgRetailMACPad2)
	require.NoError(t, err)
	msg := []byte("0210 reply MAC'd before the key change")
	oldMAC, err := m.GenerateMAC(ctx, "mac", msg)
	require.NoError(t, err)

	_, err = m.Store().Rotate("mac")
	require.NoError(t, err)
	newMAC, err := m.GenerateMAC(ctx, "mac", msg)
	require.NoError(t, err)
	assert.NotEqual(t, oldMAC, newMAC, "new MACs use the new version")

	now = now.Add(time.Minute)
	assert.NoError(t, m.VerifyMAC(ctx, "mac", msg, oldMAC), "in flight during the change")
	assert.NoError(t, m.VerifyMAC(ctx, "mac", msg, newMAC))
	now = now.Add(2 * time.Minute)
	assert.ErrorIs(t, m.VerifyMAC(ctx, "mac", msg, oldMAC), ErrMACMismatch, "grace over")
	assert.NoError(t, m.VerifyMAC(ctx, "mac", msg, newMAC))
}

// A bank's host and the switch each hold the ZMK (entered from components);
// the bank sends a new MAC key under it, the switch imports it, checks the
// KCV, and both then make the same MACs.
func TestImportKeyUnderZMK(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		zmkAlg, macAlg Algorithm
		zmk            string
	}{
		{AlgTDES, AlgRetailMAC, "0123456789ABCDEFFEDCBA9876543210"},
		{AlgTDES, AlgCMAC128, "0123456789ABCDEFFEDCBA9876543210"},
		{AlgAES256, AlgCMAC256, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"},
		{AlgAES256, AlgRetailMACPad2, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"},
	} {
		t.Run(string(c.zmkAlg)+"/"+string(c.macAlg), func(t *testing.T) {
			bank, sw := MustEphemeral(t), MustEphemeral(t)
			for _, m := range []*Soft{bank, sw} {
				_, err := m.Store().ImportClear("zmk", KeyZMK, c.zmkAlg, unhex(t, c.zmk))
				require.NoError(t, err)
			}
			_, err := bank.Store().Create("mac", KeyMAC, c.macAlg)
			require.NoError(t, err)
			wrapped, kcv, err := bank.ExportKey(ctx, "zmk", "mac")
			require.NoError(t, err)

			req := ImportRequest{ZMK: "zmk", KeyID: "mac-bank", Algorithm: c.macAlg, Wrapped: wrapped, KCV: kcv}
			bad := req
			bad.KCV = "000000"
			_, err = sw.ImportKey(ctx, bad)
			require.ErrorIs(t, err, ErrKCVMismatch)
			_, err = sw.Store().Key("mac-bank")
			require.ErrorIs(t, err, ErrUnknownKey, "a failed import stores nothing")

			info, err := sw.ImportKey(ctx, req)
			require.NoError(t, err)
			assert.Equal(t, kcv, info.KCV)
			assert.Equal(t, uint32(1), info.Version)
			assert.Equal(t, "imported under ZMK zmk", info.Origin)

			again, err := sw.ImportKey(ctx, req)
			require.NoError(t, err)
			assert.Equal(t, uint32(1), again.Version, "the same key change twice makes one version")

			msg := []byte("0800 network management")
			mac, err := bank.GenerateMAC(ctx, "mac", msg)
			require.NoError(t, err)
			require.NoError(t, sw.VerifyMAC(ctx, "mac-bank", msg, mac))

			// The bank changes the key again: a second version.
			_, err = bank.Store().Rotate("mac")
			require.NoError(t, err)
			wrapped2, kcv2, err := bank.ExportKey(ctx, "zmk", "mac")
			require.NoError(t, err)
			info2, err := sw.ImportKey(ctx, ImportRequest{ZMK: "zmk", KeyID: "mac-bank", Wrapped: wrapped2, KCV: kcv2[:4]})
			require.NoError(t, err)
			assert.Equal(t, uint32(2), info2.Version)
		})
	}
}

// RFC 3394 4.6 through ImportKey: the published wrapped bytes, under the
// published KEK as an AES ZMK, unwrap to the published key.
func TestImportKeyRFC3394Vector(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	_, err := m.Store().ImportClear("zmk", KeyZMK, AlgAES256, unhex(t, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"))
	require.NoError(t, err)
	wantKCV, err := kcvOf(AlgCMAC256, unhex(t, "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"))
	require.NoError(t, err)
	wrapped := unhex(t, "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
	info, err := m.ImportKey(ctx, ImportRequest{ZMK: "zmk", KeyID: "mac", Algorithm: AlgCMAC256, Wrapped: wrapped, KCV: wantKCV})
	require.NoError(t, err)
	assert.Equal(t, wantKCV, info.KCV)

	wrapped[0] ^= 0x80
	_, err = m.ImportKey(ctx, ImportRequest{ZMK: "zmk", KeyID: "mac2", Algorithm: AlgCMAC256, Wrapped: wrapped, KCV: wantKCV})
	assert.ErrorIs(t, err, errUnwrap)
}

func TestImportKeyRejects(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	_, err := m.Store().Create("zmk", KeyZMK, AlgTDES)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		req  ImportRequest
		want string
	}{
		{"no KCV", ImportRequest{ZMK: "zmk", KeyID: "k", Algorithm: AlgRetailMAC, Wrapped: make([]byte, 16)}, "check value is required"},
		{"no algorithm", ImportRequest{ZMK: "zmk", KeyID: "k", Wrapped: make([]byte, 16), KCV: "123456"}, "algorithm is required"},
		{"ZMK under ZMK", ImportRequest{ZMK: "zmk", KeyID: "k", Type: KeyZMK, Algorithm: AlgTDES, Wrapped: make([]byte, 16), KCV: "123456"}, "components"},
		{"wrapped under a DEK", ImportRequest{ZMK: "dek", KeyID: "k", Algorithm: AlgRetailMAC, Wrapped: make([]byte, 16), KCV: "123456"}, ErrWrongKeyType.Error()},
		{"wrong length", ImportRequest{ZMK: "zmk", KeyID: "k", Algorithm: AlgCMAC256, Wrapped: make([]byte, 16), KCV: "123456"}, "needs 32"},
		{"ragged", ImportRequest{ZMK: "zmk", KeyID: "k", Algorithm: AlgRetailMAC, Wrapped: make([]byte, 15), KCV: "123456"}, "multiple of 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.ImportKey(ctx, tc.req)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	_, _, err = m.ExportKey(ctx, "zmk", "zmk")
	assert.ErrorContains(t, err, "never exported")
}

func TestPANRoundTripAcrossRotation(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	var v1 [][]byte
	for _, pan := range testPANs {
		ct, err := m.EncryptPAN(ctx, pan)
		require.NoError(t, err)
		v1 = append(v1, ct)
	}
	_, err := m.Store().Rotate("dek")
	require.NoError(t, err)
	for i, pan := range testPANs {
		ct2, err := m.EncryptPAN(ctx, pan)
		require.NoError(t, err)
		for want, ct := range map[uint32][]byte{1: v1[i], 2: ct2} {
			c, err := ParsePANCiphertext(ct)
			require.NoError(t, err)
			assert.Equal(t, "dek", c.KeyID)
			assert.Equal(t, want, c.Version)
			got, err := m.DecryptPAN(ctx, ct)
			require.NoError(t, err)
			assert.Equal(t, pan, got)
			assert.NotContains(t, string(ct), pan)
		}
		assert.NotEqual(t, v1[i], ct2)
	}
	a, _ := m.EncryptPAN(ctx, testPANs[0])
	b, _ := m.EncryptPAN(ctx, testPANs[0])
	assert.NotEqual(t, a, b, "encryption is randomised; equality search uses tokens")
}

func TestPANCiphertextTamper(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	ct, err := m.EncryptPAN(ctx, "4111111111111111")
	require.NoError(t, err)
	for i := range len(ct) * 8 {
		bad := append([]byte(nil), ct...)
		bad[i/8] ^= 1 << (i % 8)
		_, err := m.DecryptPAN(ctx, bad)
		require.Error(t, err, "bit %d flipped was accepted", i)
		require.True(t, errors.Is(err, ErrBadCiphertext) || errors.Is(err, ErrUnknownKey), "bit %d: %v", i, err)
	}
	for n := range len(ct) {
		_, err := m.DecryptPAN(ctx, ct[:n])
		require.Error(t, err, "truncated to %d", n)
	}
	_, err = m.DecryptPAN(ctx, append(ct, 0))
	assert.ErrorIs(t, err, ErrBadCiphertext)

	// A ciphertext naming another kind of key is refused before any crypto.
	_, err = m.Store().Create("mac", KeyMAC, AlgCMAC256)
	require.NoError(t, err)
	c, _ := ParsePANCiphertext(ct)
	forged := append([]byte{1, 3}, "mac"...)
	forged = append(forged, ct[2+len(c.KeyID):]...)
	_, err = m.DecryptPAN(ctx, forged)
	assert.ErrorIs(t, err, ErrWrongKeyType)
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	seen := map[string]string{}
	for _, pan := range testPANs {
		tok, err := m.TokenizePAN(ctx, pan)
		require.NoError(t, err)
		again, err := m.TokenizePAN(ctx, pan)
		require.NoError(t, err)
		assert.Equal(t, tok, again, "deterministic")
		assert.Regexp(t, `^tk1_[A-Za-z0-9_-]{32}$`, tok)
		assert.NotContains(t, tok, pan[len(pan)-4:], "no digits of the PAN leak by construction") // holds for these PANs
		_, dup := seen[tok]
		assert.False(t, dup)
		seen[tok] = pan
	}
	other := MustEphemeral(t)
	tok1, _ := m.TokenizePAN(ctx, testPANs[0])
	tok2, _ := other.TokenizePAN(ctx, testPANs[0])
	assert.NotEqual(t, tok1, tok2, "keyed: another key gives another token")

	_, err := m.Store().Rotate("token")
	require.NoError(t, err)
	tokNew, err := m.TokenizePAN(ctx, testPANs[0])
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tokNew, "tk2_"))
	all, err := m.PANTokens(ctx, testPANs[0])
	require.NoError(t, err)
	assert.Equal(t, []string{tokNew, tok1}, all)
}

func TestCVV(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	h, err := m.HashCVV(ctx, "4111111111111111", "2812", "917")
	require.NoError(t, err)
	assert.Regexp(t, `^cvk\.1\.[A-Za-z0-9_-]{43}$`, h)
	require.NoError(t, m.VerifyCVV(ctx, "4111111111111111", "2812", "917", h))
	assert.ErrorIs(t, m.VerifyCVV(ctx, "4111111111111111", "2812", "918", h), ErrCVVMismatch)
	assert.ErrorIs(t, m.VerifyCVV(ctx, "4111111111111111", "2811", "917", h), ErrCVVMismatch)
	assert.ErrorIs(t, m.VerifyCVV(ctx, "4111111111111112", "2812", "917", h), ErrCVVMismatch)

	_, err = m.Store().Rotate("cvk")
	require.NoError(t, err)
	require.NoError(t, m.VerifyCVV(ctx, "4111111111111111", "2812", "917", h), "an old card book still verifies")
	h2, err := m.HashCVV(ctx, "4111111111111111", "2812", "917")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h2, "cvk.2."))

	for _, bad := range []string{"", "cvk", "cvk.1", "cvk.x.AAAA", "cvk.1.!!", "cvk.9." + h[6:], "dek.1." + h[6:]} {
		assert.Error(t, m.VerifyCVV(ctx, "4111111111111111", "2812", "917", bad), bad)
	}
	for _, in := range [][3]string{{"411111111111111x", "2812", "917"}, {"4111111111111111", "28/12", "917"}, {"4111111111111111", "2812", "91"}, {"4111111111111111", "2812", "91a"}} {
		_, err := m.HashCVV(ctx, in[0], in[1], in[2])
		assert.Error(t, err, in)
	}
}

// No error from any card data operation carries the PAN, the CVV2 or a key.
func TestErrorsCarryNoCardData(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	const pan = "4000001111111118"
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }
	collect(m.EncryptPAN(ctx, pan+"9999"))
	collect(m.EncryptPAN(ctx, "x"+pan))
	collect(m.TokenizePAN(ctx, pan+"x"))
	collect(m.HashCVV(ctx, pan, "2812", "91x"))
	errs = append(errs, m.VerifyCVV(ctx, pan, "2812", "384", "cvk.1.AAAA"))
	ct, _ := m.EncryptPAN(ctx, pan)
	ct[len(ct)-1] ^= 1
	collect(m.DecryptPAN(ctx, ct))
	noPAN := &Soft{store: m.store, cfg: Config{}}
	collect(noPAN.EncryptPAN(ctx, pan))
	for _, err := range errs {
		require.Error(t, err)
		assert.NotContains(t, err.Error(), pan)
		assert.NotContains(t, err.Error(), pan[6:12])
		assert.NotContains(t, err.Error(), "384")
	}
}

func TestConfigAndOpen(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	bad := DefaultConfig()
	bad.PANKey = "no spaces"
	bad.KeyStore = "keys.json"
	bad.MasterKeyEnv = ""
	err := bad.Validate()
	assert.ErrorContains(t, err, "hsm.pan_key")
	assert.ErrorContains(t, err, "hsm.master_key_file")

	// Ephemeral when no key store is configured.
	m, err := Open(DefaultConfig())
	require.NoError(t, err)
	_, err = m.TokenizePAN(context.Background(), testPANs[0])
	require.NoError(t, err)

	// A file store missing a configured key fails at start-up, naming it.
	dir := t.TempDir()
	mk := MustMasterKey(t)
	require.NoError(t, WriteMasterKeyFile(filepath.Join(dir, "master.key"), mk))
	s, err := CreateKeyStore(filepath.Join(dir, "keys.json"), mk)
	require.NoError(t, err)
	_, err = s.Create("dek", KeyDEK, "")
	require.NoError(t, err)
	_, err = s.Create("token", KeyMAC, AlgCMAC128)
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.KeyStore = filepath.Join(dir, "keys.json")
	cfg.MasterKeyFile = filepath.Join(dir, "master.key")
	_, err = Open(cfg)
	assert.ErrorIs(t, err, ErrWrongKeyType)
	assert.ErrorContains(t, err, "hsm.token_key")

	cfg.TokenKey, cfg.CVVKey = "", ""
	m, err = Open(cfg)
	require.NoError(t, err)
	ct, err := m.EncryptPAN(context.Background(), testPANs[1])
	require.NoError(t, err)
	got, err := m.DecryptPAN(context.Background(), ct)
	require.NoError(t, err)
	assert.Equal(t, testPANs[1], got)
	_, err = m.TokenizePAN(context.Background(), testPANs[1])
	assert.ErrorContains(t, err, "no token key configured")
}

// The pkcs11 section is checked here, where the config lives; every
// error names its key.
func TestConfigKinds(t *testing.T) {
	ok := DefaultConfig()
	ok.Kind = KindPKCS11
	ok.PKCS11 = PKCS11Config{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "tulpar", PINEnv: "PIN"}
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"unknown kind", func(c *Config) { c.Kind = "tpm" }, `hsm.kind: "tpm"`},
		{"no module", func(c *Config) { c.PKCS11.Module = "" }, "hsm.pkcs11.module: required"},
		{"no token", func(c *Config) { c.PKCS11.TokenLabel = "" }, "hsm.pkcs11.token_label: required"},
		{"two PINs", func(c *Config) { c.PKCS11.PIN = "1234" }, "hsm.pkcs11.pin and hsm.pkcs11.pin_env"},
		{"negative sessions", func(c *Config) { c.PKCS11.Sessions = -1 }, "hsm.pkcs11.sessions"},
		{"key store too", func(c *Config) { c.KeyStore = "keys.json" }, "hsm.key_store and hsm.master_key_file: only for kind soft"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			assert.ErrorContains(t, c.Validate(), tc.want)
		})
	}
	_, err := Open(ok)
	assert.ErrorContains(t, err, "opened by package hsm/pkcs11")
}

// A ciphertext a PKCS#11 token made is refused by the software module as
// such, not as damage; the header is the same layout.
func TestPANFormatOfTheToken(t *testing.T) {
	ctx := context.Background()
	m := MustEphemeral(t)
	ct, err := m.EncryptPAN(ctx, testPANs[0])
	require.NoError(t, err)
	c, err := ParsePANCiphertext(ct)
	require.NoError(t, err)
	assert.Equal(t, PANFormatSoft, c.Format)
	assert.Equal(t, AppendPANHeader(nil, PANFormatSoft, "dek", 1), c.Header())
	assert.Len(t, c.Nonce(), PANNonceSize)
	assert.Len(t, c.Sealed(), len(testPANs[0])+PANTagSize)

	other := append([]byte{PANFormatPKCS11}, ct[1:]...)
	c, err = ParsePANCiphertext(other)
	require.NoError(t, err)
	assert.Equal(t, PANFormatPKCS11, c.Format)
	_, err = m.DecryptPAN(ctx, other)
	assert.ErrorIs(t, err, ErrBadCiphertext)
	assert.ErrorContains(t, err, "made by a PKCS#11 token")
}
