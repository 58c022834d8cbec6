package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var (
	day1   = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	day2   = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	day3   = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	cutoff = func(t time.Time) time.Time { return t.Truncate(24 * time.Hour).Add(24 * time.Hour) }
)

// appendAt appends n entries for orders order-0..order-9 stamped at t, up
// to 500 a call, and returns the last seq.
func appendAt(t *testing.T, j *Journal, n int, at time.Time) uint64 {
	t.Helper()
	var last uint64
	for i := 0; i < n; {
		batch := make([]Entry, 0, 500)
		for ; i < n && len(batch) < cap(batch); i++ {
			e := testEntry(i, 10)
			e.Time = at.Add(time.Duration(i) * time.Millisecond)
			batch = append(batch, e)
		}
		seqs, err := j.Append(context.Background(), batch...)
		require.NoError(t, err)
		last = seqs[len(seqs)-1]
	}
	return last
}

// liveKeys counts the entries the live file itself holds, and those its
// order index lists at or after its base (a chunk that also lists later
// entries keeps its archived ones, below the base).
func liveKeys(t *testing.T, j *Journal) (entries, index int) {
	t.Helper()
	require.NoError(t, j.db.View(func(tx *bolt.Tx) error {
		entries = tx.Bucket(entriesBucket).Stats().KeyN
		base, err := readMark(tx.Bucket(metaBucket), baseKey)
		if err != nil {
			return err
		}
		return tx.Bucket(orderBucket).ForEach(func(k, v []byte) error {
			_, seqs, err := chunkSeqs(nil, k, v)
			for _, s := range seqs {
				if s >= base.seq {
					index++
				}
			}
			return err
		})
	}))
	return entries, index
}

// indexKeys counts the live file's order index keys (chunks).
func indexKeys(t *testing.T, j *Journal) (n int) {
	t.Helper()
	require.NoError(t, j.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(orderBucket).Stats().KeyN
		return nil
	}))
	return n
}

// allSeqs reads the journal with Iterate and checks every entry links to
// the one before.
func allSeqs(t *testing.T, j *Journal, from uint64) []uint64 {
	t.Helper()
	var seqs []uint64
	var prev *Entry
	require.NoError(t, j.Iterate(from, func(e Entry) error {
		if prev != nil {
			require.Equal(t, prev.Seq+1, e.Seq)
			require.Equal(t, prev.Hash, e.PrevHash, "entry %d links to %d", e.Seq, prev.Seq)
		}
		prev = &e
		seqs = append(seqs, e.Seq)
		return nil
	}))
	return seqs
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// TestArchiveDays: each business day's entries move into an archive file
// of their own; the live file keeps only the newer ones, the chain runs on
// across the files, and every reader — Iterate, ByOrder, Get, Last,
// Verify — sees one history, also after a restart and read-only.
func TestArchiveDays(t *testing.T) {
	j, path := mustOpen(t, Options{})
	appendAt(t, j, 300, day1)
	appendAt(t, j, 200, day2)

	info, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.First)
	require.Equal(t, uint64(300), info.Last)
	require.Equal(t, filepath.Join(filepath.Dir(path), ArchiveDirName, "journal-2026-12-04-1"+ArchiveSuffix), info.Path)
	entries, index := liveKeys(t, j)
	require.Equal(t, 200, entries, "the archived entries left the live file")
	require.Equal(t, 200, index)
	require.Equal(t, 10, indexKeys(t, j), "one chunk an order, holding day 1 and day 2")

	require.Equal(t, seqRange(1, 500), allSeqs(t, j, 0))
	require.Equal(t, seqRange(290, 500), allSeqs(t, j, 290))
	e, err := j.Get(17)
	require.NoError(t, err)
	require.Equal(t, "order-6", e.OrderID, "entry 17 is the 17th appended, for order-6")
	byOrder, err := j.ByOrder("order-3")
	require.NoError(t, err)
	require.Len(t, byOrder, 50, "30 archived, 20 live")
	for i := 1; i < len(byOrder); i++ {
		require.Less(t, byOrder[i-1].Seq, byOrder[i].Seq)
	}
	require.NoError(t, j.Verify(context.Background()))

	// Nothing more to move for that day; the next day too.
	again, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	require.Nil(t, again)
	info2, err := j.Archive(cutoff(day2), "2026-12-05")
	require.NoError(t, err)
	require.Equal(t, uint64(301), info2.First)
	require.Equal(t, uint64(500), info2.Last)
	entries, _ = liveKeys(t, j)
	require.Zero(t, entries)
	require.Zero(t, indexKeys(t, j), "the chunks that held day 1 and day 2 went with day 2")
	last, err := j.Last()
	require.NoError(t, err)
	require.Equal(t, uint64(500), last.Seq, "with the live file empty the last entry is the newest archive's")
	require.NoError(t, j.Verify(context.Background()))

	// A restart with every entry archived: the chain goes on from entry 500.
	require.NoError(t, j.Close())
	j, err = Open(path, Options{})
	require.NoError(t, err)
	appendAt(t, j, 5, day3)
	e, err = j.Get(501)
	require.NoError(t, err)
	require.Equal(t, last.Hash, e.PrevHash, "the first live entry carries the last archived entry's hash")
	require.Equal(t, seqRange(1, 505), allSeqs(t, j, 1))
	require.NoError(t, j.Verify(context.Background()))
	require.Len(t, j.Archives(), 2)
	require.NoError(t, j.Close())

	// The auditors' read-only view of the same files.
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	require.Equal(t, seqRange(1, 505), allSeqs(t, ro, 1))
	require.NoError(t, ro.Verify(context.Background()))
	n, err := ro.Count()
	require.NoError(t, err)
	require.Equal(t, uint64(505), n)
}

// TestArchivePrune: archives past their retention go, oldest first; the
// history then begins after them, and Verify knows it was on purpose. An
// archive removed by hand is a gap Verify names.
func TestArchivePrune(t *testing.T) {
	j, path := mustOpen(t, Options{})
	appendAt(t, j, 100, day1)
	appendAt(t, j, 100, day2)
	appendAt(t, j, 10, day3)
	_, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	second, err := j.Archive(cutoff(day2), "2026-12-05")
	require.NoError(t, err)

	paths, err := j.Prune(cutoff(day1))
	require.NoError(t, err)
	require.Len(t, paths, 1)
	require.NoFileExists(t, paths[0])
	require.Equal(t, seqRange(101, 210), allSeqs(t, j, 1), "the kept history begins after the pruned archive")
	_, err = j.Get(5)
	require.ErrorIs(t, err, ErrNotFound)
	byOrder, err := j.ByOrder("order-3")
	require.NoError(t, err)
	require.Len(t, byOrder, 11)
	require.NoError(t, j.Verify(context.Background()))
	require.NoError(t, j.Close())

	// The second archive removed by hand: a hole in the history.
	require.NoError(t, os.Remove(second.Path))
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	var ce *ChainError
	require.ErrorAs(t, ro.Verify(context.Background()), &ce)
	require.Equal(t, ReasonSeqGap, ce.Reason)
	require.Equal(t, uint64(101), ce.Seq)
	require.Contains(t, ce.Detail, "entries 101..200 are in no file")
	err = ro.Iterate(1, func(Entry) error { return nil })
	require.ErrorAs(t, err, &ce, "Iterate does not skip a hole silently")
}

// TestArchiveTampered: an archive is as tamper-evident as the live file:
// an edited entry, or an archive swapped for one that does not chain, is
// named by Verify.
func TestArchiveTampered(t *testing.T) {
	j, path := mustOpen(t, Options{})
	appendAt(t, j, 50, day1)
	appendAt(t, j, 10, day2)
	info, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	require.NoError(t, j.Close())

	require.NoError(t, os.Chmod(info.Path, 0o600))
	editFile(t, info.Path, func(tx *bolt.Tx) error {
		v := tx.Bucket(entriesBucket).Get(seqKey(20))
		edited := append([]byte(nil), v...)
		edited[lastPayloadByte(edited)] ^= 1
		return tx.Bucket(entriesBucket).Put(seqKey(20), edited)
	})
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	var ce *ChainError
	err = ro.Verify(context.Background())
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ReasonHash, ce.Reason)
	// Entries 1..50 were one round: 20 stores no hash, and the next one
	// stored (32) no longer follows from those after 16.
	require.Equal(t, uint64(32), ce.Seq)
	require.Contains(t, ce.Detail, "entries 17..32")
	require.Contains(t, err.Error(), info.Path, "the error names the archive")
	require.NoError(t, ro.Close())

	// The base record of the live file rewritten to skip an entry.
	editFile(t, path, func(tx *bolt.Tx) error {
		m, err := readMark(tx.Bucket(metaBucket), baseKey)
		require.NoError(t, err)
		m.prev[0] ^= 1
		return tx.Bucket(metaBucket).Put(baseKey, m.encode())
	})
	_, err = Open(path, Options{})
	require.ErrorIs(t, err, ErrDamaged, "the switch does not append to a chain whose base does not check out")
}

// TestArchiveInterrupted: a stop at any point of Archive leaves files the
// next Open settles: an archive written but its entries still live (the
// move is finished), entries below the live file's base (deleted), a
// half-written archive (removed and written again next time).
func TestArchiveInterrupted(t *testing.T) {
	j, path := mustOpen(t, Options{})
	appendAt(t, j, 5000, day1)
	appendAt(t, j, 20, day2)
	var lastHash [HashSize]byte
	e, err := j.Get(5000)
	require.NoError(t, err)
	lastHash = e.Hash
	dir := DefaultArchiveDir(path)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	archivePath := filepath.Join(dir, "journal-2026-12-04-1"+ArchiveSuffix)
	// Stopped after the archive was renamed into place, before a single
	// entry left the live file.
	require.NoError(t, j.writeArchive(archivePath, mark{seq: 1}, 5000, lastHash))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "journal-2026-12-05-5001"+ArchiveSuffix+".tmp"), []byte("half"), 0o600))
	require.NoError(t, j.Close())

	j, err = Open(path, Options{})
	require.NoError(t, err)
	entries, _ := liveKeys(t, j)
	require.Equal(t, 20, entries, "the move was finished at start-up")
	require.Equal(t, seqRange(1, 5020), allSeqs(t, j, 1))
	require.NoError(t, j.Verify(context.Background()))
	info, err := j.Archive(cutoff(day2), "2026-12-05")
	require.NoError(t, err, "a half-written archive from before the stop is written again")
	require.Equal(t, uint64(5001), info.First)
	require.NoError(t, j.Close())

	// Stopped between two of the deletions: the base moved, entries below
	// it are still in the live file.
	j, err = Open(path, Options{})
	require.NoError(t, err)
	appendAt(t, j, 10, day3)
	require.NoError(t, j.Close())
	var left []byte
	ro, err := OpenReadOnly(path, Options{})
	require.NoError(t, err)
	require.NoError(t, ro.arch.all[0].db.View(func(tx *bolt.Tx) error {
		left = append(left, tx.Bucket(entriesBucket).Get(seqKey(4000))...)
		return nil
	}))
	require.NoError(t, ro.Close())
	editFile(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(orderBucket).Put(orderKey(nil, "order-9", 4000), nil); err != nil {
			return err
		}
		return tx.Bucket(entriesBucket).Put(seqKey(4000), left)
	})
	j, err = Open(path, Options{})
	require.NoError(t, err)
	entries, _ = liveKeys(t, j)
	require.Equal(t, 10, entries, "entries below the base are deleted at start-up")
	require.NoError(t, j.Verify(context.Background()))
	require.NoError(t, j.Close())
}

// TestArchiveWhileReading: readers running while Archive moves entries see
// every entry exactly once, in one file or the other, and appends go on.
func TestArchiveWhileReading(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	appendAt(t, j, 3*archiveChunk, day1)
	appendAt(t, j, 100, day2)
	total := uint64(3*archiveChunk + 100)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(3)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n, want uint64 = 0, 1
			if err := j.Iterate(1, func(e Entry) error {
				if e.Seq != want {
					return fmt.Errorf("iterate: entry %d after %d", e.Seq, want-1)
				}
				want++
				n++
				return nil
			}); err != nil {
				errs <- err
				return
			}
			if n < total {
				errs <- fmt.Errorf("iterate saw %d entries of %d", n, total)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			es, err := j.ByOrder("order-4")
			if err == nil && len(es) < int(total/10) {
				err = fmt.Errorf("by order: %d entries, want at least %d", len(es), total/10)
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		appendAt(t, j, 50, day3)
	}()
	_, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	_, err = j.Archive(cutoff(day2), "2026-12-05")
	require.NoError(t, err)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, j.Verify(context.Background()))
}

// TestArchiveLabel: the label becomes part of a file name, so it is
// checked.
func TestArchiveLabel(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	for _, bad := range []string{"", "../x", "a/b", "2026 12 05"} {
		_, err := j.Archive(day2, bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "archive label")
	}
	ro := &Journal{readOnly: true}
	_, err := ro.Archive(day2, "x")
	require.True(t, errors.Is(err, ErrReadOnly))
}

// TestCloseDays: the business day is Almaty's: entries written before its
// midnight (19:00 UTC) are archived under that day's date, later ones stay;
// with keep_days the archives whose every entry is older go.
func TestCloseDays(t *testing.T) {
	loc, err := ArchiveConfig{}.Location()
	require.NoError(t, err)
	j, _ := mustOpen(t, Options{})
	d4 := time.Date(2026, 12, 4, 12, 0, 0, 0, loc)
	appendAt(t, j, 10, d4)
	appendAt(t, j, 10, time.Date(2026, 12, 5, 23, 0, 0, 0, loc)) // 18:00 UTC: still the 5th in Almaty
	appendAt(t, j, 10, time.Date(2026, 12, 6, 0, 30, 0, 0, loc)) // 5 December 19:30 UTC: the 6th in Almaty

	info, pruned, err := j.CloseDays(time.Date(2026, 12, 6, 1, 0, 0, 0, loc), loc, 0)
	require.NoError(t, err)
	require.Empty(t, pruned)
	require.Equal(t, "journal-2026-12-05-1"+ArchiveSuffix, filepath.Base(info.Path))
	require.Equal(t, uint64(20), info.Last, "the entries of the 6th in Almaty stay live")

	info, pruned, err = j.CloseDays(time.Date(2026, 12, 8, 9, 0, 0, 0, loc), loc, 2)
	require.NoError(t, err)
	require.Equal(t, "journal-2026-12-07-21"+ArchiveSuffix, filepath.Base(info.Path))
	require.Len(t, pruned, 1, "kept two days before the 8th: the 6th's entries stay, the 4th's and 5th's go")
	require.Equal(t, seqRange(21, 30), allSeqs(t, j, 1))

	require.ErrorContains(t, ArchiveConfig{TimeZone: "Mars/Olympus", KeepDays: -1}.Validate("journal_archive"),
		`journal_archive.time_zone: "Mars/Olympus"`)
	require.ErrorContains(t, ArchiveConfig{KeepDays: -1}.Validate("journal_archive"), "journal_archive.keep_days: -1")
}

// TestSeqSince: a scan of one day starts one archive before the first
// that reaches the day, not at entry 1.
func TestSeqSince(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	appendAt(t, j, 10, day1)
	appendAt(t, j, 10, day2)
	appendAt(t, j, 10, day3)
	require.Equal(t, uint64(1), j.SeqSince(day3), "no archives: the first entry")
	_, err := j.Archive(cutoff(day1), "d1")
	require.NoError(t, err)
	_, err = j.Archive(cutoff(day2), "d2")
	require.NoError(t, err)
	require.Equal(t, uint64(11), j.SeqSince(day3), "the last archive, one before the live file")
	require.Equal(t, uint64(1), j.SeqSince(day2), "the archive before the one holding the day")
	require.Equal(t, uint64(1), j.SeqSince(day1))
	var seen []uint64
	require.NoError(t, j.Iterate(j.SeqSince(day3), func(e Entry) error {
		if !e.Time.Before(day3) {
			seen = append(seen, e.Seq)
		}
		return nil
	}))
	require.Equal(t, seqRange(21, 30), seen)
}

// TestArchiveDamaged: an archive that does not open does not stop the
// switch (its live file is sound; the hole shows in Verify), and an
// auditor's read-only open names it.
func TestArchiveDamaged(t *testing.T) {
	j, path := mustOpen(t, Options{})
	appendAt(t, j, 20, day1)
	appendAt(t, j, 5, day2)
	info, err := j.Archive(cutoff(day1), "2026-12-04")
	require.NoError(t, err)
	require.NoError(t, j.Close())
	require.NoError(t, os.Chmod(info.Path, 0o600))
	require.NoError(t, os.WriteFile(info.Path, []byte("not a bbolt file"), 0o600))

	_, err = OpenReadOnly(path, Options{})
	require.ErrorContains(t, err, info.Path)
	j, err = Open(path, Options{})
	require.NoError(t, err, "the switch runs on its live file")
	defer j.Close()
	appendAt(t, j, 1, day3)
	var ce *ChainError
	require.ErrorAs(t, j.Verify(context.Background()), &ce)
	require.Equal(t, ReasonSeqGap, ce.Reason)
	require.Equal(t, uint64(1), ce.Seq)
}
