package daemon_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestShutdownOfAPartlyStartedDaemon: Shutdown is Start's cleanup after a
// failure half-way, so it must stop whatever exists and skip what does not.
func TestShutdownOfAPartlyStartedDaemon(t *testing.T) {
	require.NoError(t, (*daemon.Daemon)(nil).Shutdown(context.Background()))
	require.NoError(t, (&daemon.Daemon{}).Shutdown(context.Background()))
}

// TestStartFailureReleasesTheDataFile fails Start after the journal, links
// and SAF are open (the listen address is taken): the error names the
// cause, nothing panics, and the data file is closed again (its lock is
// free for the next start).
func TestStartFailureReleasesTheDataFile(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { taken.Close() })

	dir := t.TempDir()
	cfg, _ := switchtest.Config(t, switchtest.Options{DataDir: dir, Configure: func(c *daemon.Config) {
		c.Listen = taken.Addr().String()
		c.HSM.MasterKeyFile, c.HSM.KeyStore = "", "" // ephemeral keys
	}}, "127.0.0.1:1")

	d, err := daemon.Start(context.Background(), cfg, zerolog.New(zerolog.NewTestWriter(t)))
	require.Nil(t, d)
	require.ErrorContains(t, err, "daemon: listen")

	j, err := journal.Open(filepath.Join(dir, journal.DataFile), journal.Options{LockTimeout: 100 * time.Millisecond})
	require.NoError(t, err, "the failed Start must have closed the data file")
	require.NoError(t, j.Verify(context.Background()))
	require.NoError(t, j.Close())
}
