package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
)

type result struct {
	code           int
	stdout, stderr string
}

func runT(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

var kcvRe = regexp.MustCompile(`KCV ([0-9A-F]{6})`)

func TestRunUsage(t *testing.T) {
	r := runT(t)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "keys")
	r = runT(t, "-h")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Usage: tulpar <command>")
	r = runT(t, "nope")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `unknown command "nope"`)

	r = runT(t, "keys")
	assert.Equal(t, exitUsage, r.code)
	r = runT(t, "keys", "-h")
	assert.Equal(t, exitOK, r.code)
	for _, c := range keysCommands {
		assert.Contains(t, r.stdout, c.name)
		h := runT(t, "keys", c.name, "-h")
		assert.Equal(t, exitOK, h.code, c.name)
		assert.Contains(t, h.stderr, "Usage: tulpar keys "+c.name, c.name)
	}
	r = runT(t, "keys", "create", "--bogus")
	assert.Equal(t, exitUsage, r.code)
	r = runT(t, "keys", "create", "--type", "mac", "--store", "x.json")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--id is required for mac keys")
}

// An operator's whole session: master key, keys, rotation, listing, a ZMK
// from components and a MAC key from the bank under it, and a check that no
// clear key was ever printed except the one init-master --show announced.
func TestKeysSession(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.key")
	store := filepath.Join(dir, "keys.json")
	sf := []string{"--store", store, "--master", master}
	var printed strings.Builder
	do := func(args ...string) result {
		t.Helper()
		r := runT(t, args...)
		printed.WriteString(r.stdout + r.stderr)
		return r
	}

	r := do("keys", "init-master", "--out", master)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "mode 0600")
	masterKCV := kcvRe.FindStringSubmatch(r.stdout)[1]
	st, err := os.Stat(master)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	r = do("keys", "init-master", "--out", master)
	assert.Equal(t, exitFail, r.code, "never overwrites a master key")

	kcvs := map[string]string{}
	for _, c := range [][]string{
		{"--type", "dek"},
		{"--type", "token"},
		{"--type", "cvk"},
		{"--type", "mac", "--id", "mac-bank-a", "--alg", "aes-cmac-128"},
	} {
		r := do(append(append([]string{"keys", "create"}, sf...), c...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "version 1")
		kcvs[strings.TrimSuffix(strings.Fields(r.stdout)[1], ":")] = kcvRe.FindStringSubmatch(r.stdout)[1]
	}
	assert.Contains(t, printed.String(), "created key store")

	r = do(append([]string{"keys", "rotate", "--id", "dek"}, sf...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "version 2")
	r = do(append([]string{"keys", "rotate", "--id", "nope"}, sf...)...)
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.stderr, "unknown key")

	r = do(append([]string{"keys", "kcv", "--id", "dek", "--version", "1"}, sf...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, kcvs["dek"], strings.TrimSpace(r.stdout))

	// The ZMK, from two components; its KCV is agreed with the bank.
	c1, c2 := "0123456789ABCDEF0000000000000000", "00000000000000000FEDCBA987654321"
	combined, _ := hex.DecodeString("0123456789ABCDEF0FEDCBA987654321")
	zmkKCV, err := hsm.ComponentKCV(hsm.AlgTDES, combined)
	require.NoError(t, err)
	keysStdin = strings.NewReader(c1 + "\n" + c2 + "\n")
	t.Cleanup(func() { keysStdin = os.Stdin })
	r = do(append([]string{"keys", "import-zmk", "--id", "zmk-bank-a", "--kcv", "000000"}, sf...)...)
	assert.Equal(t, exitFail, r.code, "wrong KCV stores nothing")
	assert.Contains(t, r.stderr, "nothing stored")
	keysStdin = strings.NewReader(c1 + "\n" + c2 + "\n")
	r = do(append([]string{"keys", "import-zmk", "--id", "zmk-bank-a", "--kcv", zmkKCV}, sf...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "imported zmk-bank-a")

	// The bank's MAC key under that ZMK (the bank side is a module holding
	// the same ZMK).
	bank, err := hsm.NewEphemeral()
	require.NoError(t, err)
	_, err = bank.Store().ImportClear("zmk", hsm.KeyZMK, hsm.AlgTDES, combined)
	require.NoError(t, err)
	_, err = bank.Store().Create("mac", hsm.KeyMAC, hsm.AlgRetailMAC)
	require.NoError(t, err)
	wrapped, macKCV, err := bank.ExportKey(context.Background(), "zmk", "mac")
	require.NoError(t, err)
	r = do(append([]string{"keys", "import", "--zmk", "zmk-bank-a", "--id", "mac-bank-b", "--alg", "iso9797-3",
		"--wrapped", hex.EncodeToString(wrapped), "--kcv", macKCV[:4]}, sf...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "KCV "+macKCV)

	r = do(append([]string{"keys", "list"}, sf...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	for _, want := range []string{"dek", "token", "cvk", "mac-bank-a", "mac-bank-b", "zmk-bank-a", "aes-cmac-128", "imported under ZMK zmk-bank-a", "entered in clear", "master key KCV " + masterKCV} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Regexp(t, `(?m)^dek\s+dek\s+aes-256\s+2\*`, r.stdout)

	// The daemon's view of the same files.
	cfg := hsm.DefaultConfig()
	cfg.KeyStore, cfg.MasterKeyFile = store, master
	m, err := hsm.Open(cfg)
	require.NoError(t, err)
	msg := []byte("0800 echo")
	mac, err := bank.GenerateMAC(context.Background(), "mac", msg)
	require.NoError(t, err)
	require.NoError(t, m.VerifyMAC(context.Background(), "mac-bank-b", msg, mac))

	// Nothing printed a clear key; the components were never echoed.
	mk, err := hsm.LoadMasterKeyFile(master)
	require.NoError(t, err)
	out := strings.ToUpper(printed.String())
	assert.NotContains(t, out, mk.ExportHex())
	assert.NotContains(t, out, strings.ToUpper(c1))
	assert.NotContains(t, out, strings.ToUpper(c2))
	assert.NotContains(t, out, strings.ToUpper(hex.EncodeToString(combined)))

	hsmtest.ScanForSecrets(t, dir)
}

func TestKeysInitMasterShow(t *testing.T) {
	r := runT(t, "keys", "init-master", "--show")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "only time it is shown")
	line := strings.SplitN(r.stdout, "\n", 2)[0]
	require.True(t, strings.HasPrefix(line, hsm.DefaultMasterKeyEnv+"="), line)

	// What it shows works as the environment variable, and the check values
	// agree.
	t.Setenv(hsm.DefaultMasterKeyEnv, strings.TrimPrefix(line, hsm.DefaultMasterKeyEnv+"="))
	store := filepath.Join(t.TempDir(), "keys.json")
	r2 := runT(t, "keys", "create", "--type", "dek", "--store", store)
	require.Equal(t, exitOK, r2.code, r2.stderr)
	assert.Contains(t, r2.stderr, "master key KCV "+kcvRe.FindStringSubmatch(r.stdout)[1])

	r = runT(t, "keys", "init-master")
	assert.Equal(t, exitUsage, r.code)
}

func TestKeysWrongMasterKey(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "keys.json")
	for _, name := range []string{"a.key", "b.key"} {
		r := runT(t, "keys", "init-master", "--out", filepath.Join(dir, name))
		require.Equal(t, exitOK, r.code, r.stderr)
	}
	r := runT(t, "keys", "create", "--type", "dek", "--store", store, "--master", filepath.Join(dir, "a.key"))
	require.Equal(t, exitOK, r.code, r.stderr)
	r = runT(t, "keys", "list", "--store", store, "--master", filepath.Join(dir, "b.key"))
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.stderr, "master key does not open this key store")
	r = runT(t, "keys", "list", "--store", store, "--master-env", "TULPAR_TEST_NO_SUCH_VAR")
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.stderr, "TULPAR_TEST_NO_SUCH_VAR is not set")
}
