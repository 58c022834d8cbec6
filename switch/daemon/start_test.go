package daemon

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/journal"
)

// TestShutdownOfAPartlyStartedDaemon: Shutdown is Start's cleanup after a
// failure half-way, so it must stop whatever exists and skip what does not.
func TestShutdownOfAPartlyStartedDaemon(t *testing.T) {
	require.NoError(t, (*Daemon)(nil).Shutdown(context.Background()))
	require.NoError(t, (&Daemon{}).Shutdown(context.Background()))
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
	cfg, _, err := DemoConfig(dir, taken.Addr().String(), "", "127.0.0.1:1")
	require.NoError(t, err)
	cfg.HSM.MasterKeyFile, cfg.HSM.KeyStore = "", "" // ephemeral keys

	d, err := Start(context.Background(), cfg, zerolog.New(zerolog.NewTestWriter(t)))
	require.Nil(t, d)
	require.ErrorContains(t, err, "daemon: listen")

	j, err := journal.Open(filepath.Join(dir, journal.DataFile), journal.Options{LockTimeout: 100 * time.Millisecond})
	require.NoError(t, err, "the failed Start must have closed the data file")
	require.NoError(t, j.Verify(context.Background()))
	require.NoError(t, j.Close())
}
