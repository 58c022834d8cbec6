//go:build cgo

package pkcs11_test

// Known-answer tests through a real token (SoftHSM2): the published vectors
// the software module's tests use (hsm/kat_test.go), with the keys brought
// into the token as a bank brings them, wrapped under a zone master key
// entered from known components.

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11/softhsm"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(tb, err)
	return b
}

// openToken opens a module on a new SoftHSM2 token; edit changes the
// config first. Cleanup closes it.
func openToken(t *testing.T, edit func(*hsm.Config)) (*pkcs11.Module, hsm.Config) {
	t.Helper()
	cfg := softhsm.Config(t)
	cfg.PKCS11.AllowHostUnwrap = true // SoftHSM2 2.6 has no TDES unwrap
	if edit != nil {
		edit(&cfg)
	}
	m, err := pkcs11.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m, cfg
}

// The ZMKs: the textbook TDES test key and the SP 800-38B AES-256 key,
// each split into two components (hsm/components_test.go).
var zmks = []struct {
	id         string
	alg        hsm.Algorithm
	components []string
	key, kcv   string
}{
	{"zmk-tdes", hsm.AlgTDES, []string{"0123456789ABCDEF 0000000000000000", "0000000000000000 FEDCBA9876543210"},
		"0123456789ABCDEFFEDCBA9876543210", "08D7B4"},
	{"zmk-aes", hsm.AlgAES256, []string{
		"00112233445566778899AABBCCDDEEFF 000102030405060708090A0B0C0D0E0F",
		"602CC923519F17C9A3EA044B49A0997E 1F342E043F640ED025911AA80519D1FB"},
		"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", "1A0B2D"},
}

// withZMKs enters both ZMKs into the token from their components and into
// a software module (the bank's) in clear, and returns the bank.
func withZMKs(t *testing.T, m *pkcs11.Module) *hsm.Soft {
	t.Helper()
	ctx := context.Background()
	bank, err := hsm.NewEphemeral()
	require.NoError(t, err)
	for _, z := range zmks {
		var comps [][]byte
		for _, c := range z.components {
			comps = append(comps, unhex(t, c))
		}
		info, err := m.ImportComponents(ctx, z.id, hsm.KeyZMK, z.alg, comps, z.kcv)
		require.NoError(t, err)
		assert.Equal(t, z.kcv, info.KCV, "the token's check value of %s", z.id)
		assert.Equal(t, "entered in clear, 2 components", info.Origin)
		_, err = bank.Store().ImportClear(z.id, hsm.KeyZMK, z.alg, unhex(t, z.key))
		require.NoError(t, err)
	}
	return bank
}

// send has the bank make key id known (clear value key), wrap it under
// zmk and send it; the token imports it. It returns the token's KeyInfo.
func send(t *testing.T, m *pkcs11.Module, bank *hsm.Soft, zmk, id string, typ hsm.KeyType, alg hsm.Algorithm, key []byte) hsm.KeyInfo {
	t.Helper()
	ctx := context.Background()
	_, err := bank.Store().ImportClear(id, typ, alg, key)
	require.NoError(t, err)
	wrapped, kcv, err := bank.ExportKey(ctx, zmk, id)
	require.NoError(t, err)
	info, err := m.ImportKey(ctx, hsm.ImportRequest{ZMK: zmk, KeyID: id, Type: typ, Algorithm: alg, Wrapped: wrapped, KCV: kcv})
	require.NoError(t, err)
	assert.Equal(t, kcv, info.KCV, "the token and the bank's module agree on %s's check value", id)
	assert.Equal(t, "imported under ZMK "+zmk, info.Origin)
	return info
}

func TestKnownAnswersThroughTheToken(t *testing.T) {
	ctx := context.Background()
	m, _ := openToken(t, nil)
	bank := withZMKs(t, m)

	t.Run("MACs", func(t *testing.T) {
		for _, tc := range []struct {
			name, zmk, id string
			alg           hsm.Algorithm
			key           string
			data          []byte
			want, source  string
		}{
			{"X9.19 / pad 1", "zmk-tdes", "bc", hsm.AlgRetailMAC, "7CA110454A1A6E570131D9619DC1376E", []byte("Hello World !!!!"),
				"F09B856213BAB83B", "Bouncy Castle ISO9797Alg3MacTest, 'Hello World !!!!'"},
			{"pad 2, ICAO M.IFD", "zmk-tdes", "icao", hsm.AlgRetailMACPad2, "7962D9ECE03D1ACD4C76089DCE131543",
				unhex(t, "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"), "5F1448EEA8AD90A7",
				"ICAO Doc 9303 part 11, appendix D.3"},
			{"pad 2 under an AES ZMK", "zmk-aes", "icao-aes", hsm.AlgRetailMACPad2, "7962D9ECE03D1ACD4C76089DCE131543",
				unhex(t, "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F"), "2F2D235D074D7449",
				"ICAO Doc 9303 part 11, appendix D.3 (M.IC)"},
			{"AES-128-CMAC under an AES ZMK", "zmk-aes", "rfc4493", hsm.AlgCMAC128, "2b7e151628aed2a6abf7158809cf4f3c",
				unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411")[:40], "dfa66747de9ae630",
				"RFC 4493 section 4, Example 3, leftmost 64 bits"},
			{"AES-128-CMAC under a TDES ZMK", "zmk-tdes", "rfc4493-tdes", hsm.AlgCMAC128, "2b7e151628aed2a6abf7158809cf4f3c",
				nil, "bb1d6929e9593728", "RFC 4493 section 4, Example 1 (empty), leftmost 64 bits"},
			{"AES-256-CMAC", "zmk-aes", "sp800-38b", hsm.AlgCMAC256, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
				unhex(t, "6bc1bee22e409f96e93d7e117393172a"), "28a7023f452e8f82", "SP 800-38B D.3 Example 10, leftmost 64 bits"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				send(t, m, bank, tc.zmk, tc.id, hsm.KeyMAC, tc.alg, unhex(t, tc.key))
				got, err := m.GenerateMAC(ctx, tc.id, tc.data)
				require.NoError(t, err)
				assert.Equal(t, unhex(t, tc.want), got, tc.source)
				require.NoError(t, m.VerifyMAC(ctx, tc.id, tc.data, got))
			})
		}
	})

	t.Run("KCVs", func(t *testing.T) {
		for _, tc := range []struct {
			name, zmk, id string
			alg           hsm.Algorithm
			key, want     string
		}{
			{"TDES with K1 = K2 is single DES", "zmk-tdes", "k1k2", hsm.AlgRetailMAC, "0123456789ABCDEF0123456789ABCDEF", "D5D44F"},
			{"the textbook TDES key as a MAC key", "zmk-aes", "textbook", hsm.AlgRetailMAC, "0123456789ABCDEFFEDCBA9876543210", "08D7B4"},
			{"AES-128 (CMAC method)", "zmk-aes", "aes128", hsm.AlgCMAC128, "2b7e151628aed2a6abf7158809cf4f3c", "7AD386"},
			{"AES-256 (CMAC method)", "zmk-tdes", "aes256", hsm.AlgCMAC256, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", "1A0B2D"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				info := send(t, m, bank, tc.zmk, tc.id, hsm.KeyMAC, tc.alg, unhex(t, tc.key))
				assert.Equal(t, tc.want, info.KCV)
				kcv, err := m.KCV(ctx, tc.id)
				require.NoError(t, err)
				assert.Equal(t, tc.want, kcv)
			})
		}
	})

	// The composed retail MAC against the software module's, which its own
	// tests pin to the definition: every length around the block edges,
	// both paddings.
	t.Run("retail MAC equals the software module's at every length", func(t *testing.T) {
		key := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
		for _, alg := range []hsm.Algorithm{hsm.AlgRetailMAC, hsm.AlgRetailMACPad2} {
			id := "len-" + string(alg)
			send(t, m, bank, "zmk-tdes", id, hsm.KeyMAC, alg, key)
			msg := []byte("0200 an ISO 8583 message: fields up to DE64, 41 bytes")
			for n := range len(msg) + 1 {
				want, err := bank.GenerateMAC(ctx, id, msg[:n])
				require.NoError(t, err)
				got, err := m.GenerateMAC(ctx, id, msg[:n])
				require.NoError(t, err)
				require.Equal(t, want, got, "%s, %d bytes", alg, n)
			}
		}
	})
}
