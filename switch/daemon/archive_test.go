package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/audit"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestJournalDayArchived: once the business day is over, the switch moves
// its journal entries into an archive file and the live data file keeps
// only what came after; an order paid before the cut still has its whole
// history and is refunded after it, and the auditors' verify and replay
// read the archive and the live file as one journal.
func TestJournalDayArchived(t *testing.T) {
	dir := t.TempDir()
	s := switchtest.Run(t, switchtest.Options{DataDir: dir, Configure: func(c *daemon.Config) { c.AdminListen = "127.0.0.1:0" }})
	id := s.Register("arch-1", 250000, false)
	require.EqualValues(t, 0, s.Pay(id, switchtest.Visa)["errorCode"])
	before, err := s.D.Payments().History(id, "")
	require.NoError(t, err)
	head, err := s.D.Journal().Last()
	require.NoError(t, err)

	// Nothing to archive while the day lasts.
	s.D.CloseJournalDays()
	require.Empty(t, s.D.Journal().Archives())

	s.Advance(24 * time.Hour)
	s.D.CloseJournalDays()
	archives := s.D.Journal().Archives()
	require.Len(t, archives, 1)
	require.Equal(t, filepath.Join(dir, journal.ArchiveDirName), filepath.Dir(archives[0].Path))
	require.Equal(t, uint64(1), archives[0].First)
	require.GreaterOrEqual(t, archives[0].Last, head.Seq, "the day's entries are archived")
	require.Contains(t, filepath.Base(archives[0].Path), time.Now().In(almaty(t)).Format(time.DateOnly), "named after the day it closes")

	after, err := s.D.Payments().History(id, "")
	require.NoError(t, err)
	require.Equal(t, before, after, "the order's history reads through the archive")

	// Refunded after the cut: the new entries follow the archived ones.
	ans, err := s.RBS("refund", map[string][]string{"orderId": {id}, "amount": {"100000"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", ans["errorCode"], "%v", ans)
	o := s.Order(id)
	require.EqualValues(t, 100000, o.Refunded)
	full, err := s.D.Payments().History(id, "")
	require.NoError(t, err)
	require.Greater(t, len(full), len(before))
	require.Equal(t, before, full[:len(before)])
	var refunds int
	for _, l := range full[len(before):] {
		if l.ProcessingCode == "200000" && l.ResponseCode == "00" {
			refunds++
		}
	}
	require.Equal(t, 1, refunds, "the refund's approval is in the history after the archived payment: %+v", full[len(before):])

	metrics := scrape(t, s.URL()+"/metrics")
	require.Contains(t, metrics, "tulpar_journal_archives 1\n")
	require.Contains(t, metrics, "tulpar_journal_archive_failures_total 0\n")
	// Operators fetch the archives with the snapshot, from the admin
	// listener.
	var listed struct {
		Archives []struct {
			Name        string
			First, Last uint64
		}
	}
	require.NoError(t, json.Unmarshal([]byte(scrape(t, s.D.AdminURL()+"/admin/journal/archives")), &listed))
	require.Len(t, listed.Archives, 1)
	require.Equal(t, filepath.Base(archives[0].Path), listed.Archives[0].Name)
	onDisk, err := os.ReadFile(archives[0].Path)
	require.NoError(t, err)
	require.Equal(t, string(onDisk), scrape(t, s.D.AdminURL()+"/admin/journal/archives/"+listed.Archives[0].Name))
	require.Contains(t, scrape(t, s.D.AdminURL()+"/admin/journal/archives/journal-1999-01-01-1.journal"), "no archive of that name")
	s.Stop()

	data, err := audit.Open(filepath.Join(dir, journal.DataFile), "", time.Second)
	require.NoError(t, err)
	defer data.Close()
	v, err := audit.Verify(context.Background(), data, false, nil)
	require.NoError(t, err)
	require.Len(t, v.Archives, 1)
	var out strings.Builder
	audit.WriteVerify(&out, v, nil)
	require.Contains(t, out.String(), "1 archive files, entries 1..")
	r, err := audit.Replay(context.Background(), data, nil)
	require.NoError(t, err)
	require.True(t, r.OK(), "%+v", r.Differences)
	require.Equal(t, 1, r.Matched)
	fi, err := os.Stat(archives[0].Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o400), fi.Mode().Perm(), "an archive is written once")
}

func almaty(t *testing.T) *time.Location {
	loc, err := time.LoadLocation(journal.DefaultTimeZone)
	require.NoError(t, err)
	return loc
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
