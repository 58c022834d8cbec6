//go:build cgo

package main

import (
	"context"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11/softhsm"
)

// `tulpar keys` on a PKCS#11 token (SoftHSM2): the switch's keys made by
// init, a ZMK from components, a bank's key imported under it, list and
// KCVs; then the daemon's module finds them all.
func TestKeysOnAToken(t *testing.T) {
	tok := softhsm.Token(t)
	t.Setenv(hsm.DefaultPKCS11PINEnv, tok.PIN)
	on := []string{"--pkcs11-module", tok.Module, "--token", tok.TokenLabel}
	keys := func(args ...string) result {
		t.Helper()
		return runT(t, append(append([]string{"keys"}, args[:1]...), append(on, args[1:]...)...)...)
	}

	r := keys("init")
	require.Equal(t, exitOK, r.code, r.stderr)
	for _, id := range []string{"dek", "token", "cvk"} {
		assert.Contains(t, r.stdout, "created "+id+":")
	}
	r = keys("init")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "every key the switch needs is there")

	c1, c2 := "0123456789ABCDEF0000000000000000", "0000000000000000FEDCBA9876543210"
	keysStdin = strings.NewReader(c1 + "\n" + c2 + "\n")
	t.Cleanup(func() { keysStdin = os.Stdin })
	r = keys("import-zmk", "--id", "zmk-bank-a", "--kcv", "08D7B4")
	require.Equal(t, exitFail, r.code)
	assert.Contains(t, r.stderr, "allow_host_unwrap", "SoftHSM2 cannot unwrap under TDES: say so at the ceremony")
	keysStdin = strings.NewReader(c1 + "\n" + c2 + "\n")
	r = keys("import-zmk", "--allow-host-unwrap", "--id", "zmk-bank-a", "--kcv", "08D7B4")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "imported zmk-bank-a: type zmk, algorithm tdes, version 1, KCV 08D7B4")
	assert.NotContains(t, r.stdout+r.stderr, c1)

	bank, err := hsm.NewEphemeral()
	require.NoError(t, err)
	zmk, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	_, err = bank.Store().ImportClear("zmk", hsm.KeyZMK, hsm.AlgTDES, zmk)
	require.NoError(t, err)
	_, err = bank.Store().Create("mac", hsm.KeyMAC, hsm.AlgRetailMAC)
	require.NoError(t, err)
	wrapped, kcv, err := bank.ExportKey(context.Background(), "zmk", "mac")
	require.NoError(t, err)
	r = keys("import", "--allow-host-unwrap", "--zmk", "zmk-bank-a", "--id", "mac-bank-a", "--alg", "iso9797-3",
		"--wrapped", hex.EncodeToString(wrapped), "--kcv", kcv)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "KCV "+kcv)

	r = keys("create", "--type", "mac", "--id", "mac-cmac", "--alg", "aes-cmac-256")
	require.Equal(t, exitOK, r.code, r.stderr)
	r = keys("rotate", "--id", "dek")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rotated dek: type dek, algorithm aes-256, version 2")

	r = keys("kcv", "--id", "mac-bank-a")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, kcv+"\n", r.stdout)
	r = keys("kcv", "--id", "dek", "--version", "1")
	require.Equal(t, exitOK, r.code, r.stderr)

	r = keys("list")
	require.Equal(t, exitOK, r.code, r.stderr)
	for _, want := range []string{"mac-bank-a", "imported under ZMK zmk-bank-a", "zmk-bank-a", "entered in clear, 2 components",
		"mac-cmac", "generated in the token", "PKCS#11 token " + tok.TokenLabel} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Len(t, regexpLines(r.stdout, `^dek\s`), 2, "two versions of dek")

	// What the daemon opens with the same token finds the role keys and
	// MACs as the bank does.
	cfg := hsm.DefaultConfig()
	cfg.Kind, cfg.PKCS11 = hsm.KindPKCS11, tok
	m, err := pkcs11.Open(cfg)
	require.NoError(t, err)
	defer m.Close()
	mac, err := bank.GenerateMAC(context.Background(), "mac", []byte("0200"))
	require.NoError(t, err)
	require.NoError(t, m.VerifyMAC(context.Background(), "mac-bank-a", []byte("0200"), mac))

	for _, bad := range [][]string{
		{"keys", "list", "--store", "x.json", "--pkcs11-module", tok.Module},
		{"keys", "list", "--pkcs11-module", tok.Module},
		{"keys", "list"},
	} {
		r := runT(t, bad...)
		assert.Equal(t, exitFail, r.code, bad)
		assert.Contains(t, r.stderr, "--", bad)
	}
}

func regexpLines(s, re string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if regexp.MustCompile(re).MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}
