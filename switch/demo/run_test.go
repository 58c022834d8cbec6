package demo_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// TestRunKeepsItsDataAndSaysWhere: `tulpar demo` without --data stops on
// Ctrl-C leaving its temporary directory behind on purpose, and its last
// lines say where it is, why, and how to remove it; the journal in it
// verifies.
func TestRunKeepsItsDataAndSaysWhere(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.MkdirTemp's directory, so the test leaves nothing behind
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{Listen: "127.0.0.1:0", Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var welcome strings.Builder
	for sc.Scan() {
		welcome.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Ctrl-C stops the demo") {
			break
		}
	}
	require.Regexp(t, `(?m)^Merchant cabinet   https://127\.0\.0\.1:\d+/$`, welcome.String())
	require.Contains(t, welcome.String(), "login "+demo.CabinetUser+"  password "+demo.CabinetPassword)
	require.Regexp(t, `sample orders    \d+ over the last 4 days`, welcome.String())
	m := regexp.MustCompile(`(?m)^  data +(\S+) \(kept when the demo stops`).FindStringSubmatch(welcome.String())
	require.NotNil(t, m, welcome.String())
	dir := m[1]
	require.Equal(t, tmp, filepath.Dir(dir), "a new temporary directory")
	require.Regexp(t, `(?m)^  fiscal sim +http://127\.0\.0\.1:\d+ `, welcome.String(), "the fiscal service simulator's address")

	cancel()
	rest, err := io.ReadAll(pr)
	require.NoError(t, err)
	require.NoError(t, <-done)
	out := string(rest)
	for _, want := range []string{
		"Tulpar demo stopped. Its data is kept in " + dir,
		"read a data\nfile only when no switch holds it",
		"tulpar journal verify --data " + dir,
		"tulpar report daily --data " + dir + " --date " + time.Now().UTC().Format(time.DateOnly),
		"remove it with: rm -r " + dir,
	} {
		require.Contains(t, out, want)
	}
	j, err := journal.OpenReadOnly(filepath.Join(dir, journal.DataFile), journal.Options{})
	require.NoError(t, err, "the switch has let go of the data file")
	defer j.Close()
	require.NoError(t, j.Verify(context.Background()))
	n, err := j.Count()
	require.NoError(t, err)
	require.Positive(t, n, "the welcome order is in the journal")
}

// TestRunRemovesWhatItMadeWhenItCannotStart: a demo that never started
// recorded nothing, so the temporary directory it made goes again.
func TestRunRemovesWhatItMadeWhenItCannotStart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	err = demo.Run(context.Background(), demo.Options{Listen: taken.Addr().String(), Log: zerolog.Nop()}, io.Discard)
	require.ErrorContains(t, err, "listen")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left)
}
