package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// TestUsersCommands manages cabinet users on a data file no switch holds,
// and is refused one a switch does.
func TestUsersCommands(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, journal.DataFile), journal.Options{})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	cfgFile := filepath.Join(t.TempDir(), "tulpar.yaml")
	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: dir}, "127.0.0.1:8583")
	yml, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgFile, yml, 0o600))

	tulpar := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut)
		require.Equal(t, want, code, "tulpar %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errOut.String())
		return out.String() + errOut.String()
	}
	out := tulpar(exitOK, "users", "add", "--data", dir, "--login", "Anna@Shop.kz", "--role", "merchant", "--merchant", "shop")
	require.Contains(t, out, "created anna@shop.kz (merchant of shop)")
	temp := regexp.MustCompile(`temporary password: (\w+)`).FindStringSubmatch(out)
	require.NotNil(t, temp, out)
	tulpar(exitOK, "users", "add", "--config", cfgFile, "--login", "ops", "--role", "operator")
	require.Contains(t, tulpar(exitUsage, "users", "add", "--config", cfgFile, "--login", "x1@shop.kz", "--merchant", "nobody"), `merchant "nobody" is not in`)
	require.Contains(t, tulpar(exitUsage, "users", "add", "--data", dir, "--login", "x2@shop.kz"), "merchant: required")
	usersStdin = strings.NewReader("a chosen password\n")
	tulpar(exitOK, "users", "add", "--data", dir, "--login", "viewer", "--role", "viewer", "--merchant", "shop", "--password-stdin")
	usersStdin = strings.NewReader("short\n")
	require.Contains(t, tulpar(exitUsage, "users", "add", "--data", dir, "--login", "weak", "--role", "operator", "--password-stdin"), "too weak")
	tulpar(exitUsage, "users", "add", "--login", "nodata")

	list := tulpar(exitOK, "users", "list", "--data", dir)
	require.Regexp(t, `anna@shop.kz\s+merchant\s+shop\s+temporary password\s+never`, list)
	require.Regexp(t, `ops\s+operator\s+-\s+temporary password`, list)
	require.Regexp(t, `viewer\s+viewer\s+shop\s+temporary password`, list)

	// Lock anna with wrong passwords, then let the CLI unlock her.
	require.NoError(t, users.WithDataFile(dir, 0, users.Config{}, func(s *users.Store) error {
		for range 3 {
			_, _ = s.Authenticate(context.Background(), users.SignIn{Login: "anna@shop.kz", Password: "wrong"})
		}
		return nil
	}))
	require.Contains(t, tulpar(exitOK, "users", "list", "--data", dir), "locked until")
	require.Contains(t, tulpar(exitOK, "users", "unlock", "--data", dir, "--login", "anna@shop.kz"), "anna@shop.kz unlocked")
	reset := tulpar(exitOK, "users", "reset-password", "--data", dir, "--login", "anna@shop.kz")
	require.Regexp(t, `temporary password of anna@shop.kz: \w{14}`, reset)
	tulpar(exitOK, "users", "disable", "--data", dir, "--login", "viewer")
	require.Regexp(t, `viewer\s+viewer\s+shop\s+disabled`, tulpar(exitOK, "users", "list", "--data", dir))
	tulpar(exitOK, "users", "enable", "--data", dir, "--login", "viewer")
	require.Contains(t, tulpar(exitFail, "users", "unlock", "--data", dir, "--login", "ghost"), "no such user")
	tulpar(exitUsage, "users", "unlock", "--data", dir)

	// A switch holds the file: refused, and told where to go instead.
	j, err = journal.Open(filepath.Join(dir, journal.DataFile), journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	require.Contains(t, tulpar(exitFail, "users", "list", "--data", dir, "--lock-timeout", "100ms"), "held by a running switch")
}
