package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// TestAuditorsCommands runs a day of payments through the demo, stops it,
// and runs the auditors' commands on its data as an operator would.
func TestAuditorsCommands(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: dir, Listen: "127.0.0.1:0", Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, d.WaitReady(ctx))
	svc := d.Payments()
	for i, two := range []bool{false, true, false, true} {
		reg, err := svc.Register(ctx, payments.RegisterRequest{Merchant: demo.Merchant, Number: "audit-" + string(rune('a'+i)),
			Amount: int64(10000 * (i + 1)), TwoStage: two, ReturnURL: "https://shop.example.kz/ok"})
		require.NoError(t, err)
		o := reg.Order
		res, err := svc.Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: "4444555511113333", Expiry: "3012"},
			NotificationURL: d.URL() + "/pay/" + o.ID + "/3ds"})
		require.NoError(t, err)
		if two {
			_, err = svc.Complete(ctx, payments.FollowUpRequest{OrderID: res.Order.ID, Amount: 5000})
			require.NoError(t, err)
		}
	}
	require.Eventually(t, func() bool {
		st, err := d.SAF().Stats()
		require.NoError(t, err)
		for _, s := range st {
			if s.Depth > 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "completions delivered")
	day := time.Now().UTC().Format("2006-01-02")
	settlement := filepath.Join(t.TempDir(), "settlement.csv")
	f, err := os.Create(settlement)
	require.NoError(t, err)
	require.NoError(t, d.Banks[demo.BankASCII].WriteSettlement(f, time.Now().UTC()))
	require.NoError(t, f.Close())
	require.NoError(t, d.Close(ctx))

	tulpar := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut)
		require.Equal(t, want, code, "tulpar %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errOut.String())
		return out.String() + errOut.String()
	}
	require.Contains(t, tulpar(exitOK, "journal", "verify", "--data", dir, "--quiet"), "OK")
	tulpar(exitOK, "journal", "replay", "--data", dir, "--quiet")
	export := tulpar(exitOK, "journal", "export", "--data", dir, "--format", "jsonl", "--quiet")
	require.Contains(t, export, "0100")
	require.NotContains(t, export, "4444555511113333", "the export is log-safe")
	reports := t.TempDir()
	tulpar(exitOK, "report", "daily", "--data", dir, "--date", day, "--out", reports, "--quiet")
	files, err := os.ReadDir(reports)
	require.NoError(t, err)
	require.NotEmpty(t, files, "one report per merchant")
	recon := tulpar(exitOK, "reconcile", "--data", dir, "--bank", demo.BankASCII, "--settlement", settlement, "--date", day, "--quiet")

	// The first half of the journal moved into an archive, as at the end of
	// a business day: every command reads the same history, from the data
	// directory or from a copy of the live file with --archive.
	path := filepath.Join(dir, journal.DataFile)
	j, err := journal.Open(path, journal.Options{})
	require.NoError(t, err)
	n, err := j.Count()
	require.NoError(t, err)
	mid, err := j.Get(n / 2)
	require.NoError(t, err)
	info, err := j.Archive(mid.Time.Add(time.Nanosecond), "audit")
	require.NoError(t, err)
	require.NotNil(t, info)
	require.NoError(t, j.Close())
	verify := tulpar(exitOK, "journal", "verify", "--data", dir, "--quiet")
	require.Contains(t, verify, "1 archive files, entries 1..")
	require.Equal(t, export, tulpar(exitOK, "journal", "export", "--data", dir, "--format", "jsonl", "--quiet"), "the same entries, archived or not")
	tulpar(exitOK, "journal", "replay", "--data", dir, "--quiet")
	reports2 := t.TempDir()
	tulpar(exitOK, "report", "daily", "--data", dir, "--date", day, "--out", reports2, "--quiet")
	for _, f := range files {
		if filepath.Ext(f.Name()) != ".csv" {
			continue
		}
		a, err := os.ReadFile(filepath.Join(reports, f.Name()))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(reports2, f.Name()))
		require.NoError(t, err)
		require.Equal(t, string(a), string(b), "the daily report reads the archive")
	}
	require.Equal(t, recon, tulpar(exitOK, "reconcile", "--data", dir, "--bank", demo.BankASCII, "--settlement", settlement, "--date", day, "--quiet"))
	elsewhere := t.TempDir()
	live, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(elsewhere, "copy.db"), live, 0o600))
	copyArgs := []string{"--copy", filepath.Join(elsewhere, "copy.db"), "--quiet"}
	out := tulpar(exitFail, append([]string{"journal", "verify"}, copyArgs...)...)
	require.Contains(t, out, "are in no file", "a copy without its archives is a gap verify names")
	copyArgs = append(copyArgs, "--archive", filepath.Join(dir, journal.ArchiveDirName))
	require.Equal(t, verify, tulpar(exitOK, append([]string{"journal", "verify"}, copyArgs...)...))
	require.Equal(t, export, tulpar(exitOK, append([]string{"journal", "export", "--format", "jsonl"}, copyArgs...)...))

	// One byte of one entry changed behind the journal's back: verify fails
	// and names the entry, or the stretch from it to the next stored hash
	// when it stores none of its own.
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("journal"))
		k, v := b.Cursor().First()
		v = append([]byte(nil), v...)
		v[len(v)/2] ^= 0x01
		return b.Put(k, v)
	}))
	require.NoError(t, db.Close())
	out = tulpar(exitFail, "journal", "verify", "--data", dir, "--quiet")
	first := info.Last + 1
	require.Regexp(t, fmt.Sprintf(`entry %d\b|entries %d\.\.`, first, first), out, "the live file's first entry")
}
