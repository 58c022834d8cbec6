package daemon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// The admin endpoint hands out the whole data file: with a token set,
// nothing is served without it; off loopback, a token is required at all.
func TestAdminNeedsItsToken(t *testing.T) {
	sum := sha256.Sum256([]byte("operators-secret"))
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.AdminListen, c.AdminTokenSHA256 = "127.0.0.1:0", hex.EncodeToString(sum[:])
	}})
	get := func(path, token string) int {
		req, err := http.NewRequest(http.MethodGet, s.D.AdminURL()+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/admin/links", "/admin/saf", "/admin/journal/snapshot"} {
		require.Equal(t, http.StatusUnauthorized, get(path, ""), path)
		require.Equal(t, http.StatusUnauthorized, get(path, "guess"), path)
		require.Equal(t, http.StatusOK, get(path, "operators-secret"), path)
	}

	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	cfg.AdminListen = "0.0.0.0:9090"
	require.ErrorContains(t, cfg.Validate(), "admin_listen: 0.0.0.0:9090 is not a loopback address: set admin_token_sha256")
	cfg.AdminTokenSHA256 = hex.EncodeToString(sum[:])
	require.NoError(t, cfg.Validate())
	cfg.AdminTokenSHA256 = "abc"
	require.ErrorContains(t, cfg.Validate(), "admin_token_sha256: must be 64 hex digits")
}
