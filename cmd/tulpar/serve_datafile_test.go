package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// TestServeRefusesADamagedDataFile: `tulpar serve` on an empty or a
// truncated tulpar.db exits 1 with one line on stderr naming the file,
// instead of starting on an empty journal or dying of SIGBUS. The
// truncated file runs in this process because the journal refuses it
// before bbolt maps it.
func TestServeRefusesADamagedDataFile(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"empty", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
		}},
		{"truncated", func(t *testing.T, path string) {
			j, err := journal.Open(path, journal.Options{})
			require.NoError(t, err)
			for i := range 200 {
				_, err := j.Append(context.Background(), journal.Entry{Direction: journal.In, Channel: "api",
					OrderID: fmt.Sprintf("order-%d", i%7), Payload: bytes.Repeat([]byte{'p'}, 256)})
				require.NoError(t, err)
			}
			// Half of what was written: bbolt grows the file ahead of
			// its pages, so half the file may still hold them all.
			var used int64
			require.NoError(t, j.DB().View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }))
			require.NoError(t, j.Close())
			require.NoError(t, os.Truncate(path, used/2))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, _, err := demo.SwitchConfig(dir, "127.0.0.1:0", "", "127.0.0.1:1")
			require.NoError(t, err)
			cfg.HSM.MasterKeyFile, cfg.HSM.KeyStore = "", "" // ephemeral keys: nothing to set up
			cfg.AdminListen = ""
			cfg.TLS, cfg.PlainHTTP = nil, true // the data file fails first
			data, err := yaml.Marshal(cfg)
			require.NoError(t, err)
			config := filepath.Join(t.TempDir(), "tulpar.yaml")
			require.NoError(t, os.WriteFile(config, data, 0o600))
			dataFile := filepath.Join(dir, journal.DataFile)
			tt.damage(t, dataFile)

			// Should serve start after all, the deadline stops it and the
			// exit code tells.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			code := run(ctx, []string{"serve", "--config", config}, io.Discard, &stderr)
			require.Equal(t, exitFail, code, stderr.String())
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			require.Len(t, lines, 1, "one line on stderr:\n%s", stderr.String())
			require.True(t, strings.HasPrefix(lines[0], "daemon: journal: data file "+dataFile+" is damaged: "),
				"the journal's own line, plain, not a log event: %s", lines[0])
			require.Contains(t, lines[0], "tulpar journal verify")
			t.Log(lines[0])
		})
	}
}
