package journal

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// TestReopenUnderLoad has the writer reopen the file again and again
// while appenders, readers and other writers of the file's buckets run:
// nothing is lost, nothing waits for ever, and each reopen starts bbolt's
// count of allocated pages, and with it its allocation map, again.
func TestReopenUnderLoad(t *testing.T) {
	reg := prometheus.NewRegistry()
	j, path := mustOpen(t, Options{Registerer: reg, ReopenAfter: 64})
	ctx := context.Background()
	require.NoError(t, j.DB().Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("test.side"))
		return err
	}))

	// Each appender also reads, and now and then writes a bucket of its
	// own outside the writer's rounds, as the order store does.
	const appenders, each = 8, 150
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Go(func() {
			for i := range each {
				if _, err := j.Append(ctx, testEntry(w*each+i, 40)); err != nil {
					t.Error(err)
					return
				}
				if _, err := j.Count(); err != nil {
					t.Error(err)
					return
				}
				if i%10 != 0 {
					continue
				}
				if err := j.DB().Update(func(tx *bolt.Tx) error {
					return tx.Bucket([]byte("test.side")).Put([]byte{byte(w), byte(i)}, make([]byte, 600))
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	reopens := gatherCounter(t, reg, "tulpar_journal_reopens_total")
	require.Greater(t, reopens, 0.0)
	t.Logf("%v reopens", reopens)
	n, err := j.Count()
	require.NoError(t, err)
	require.EqualValues(t, appenders*each, n)
	require.Len(t, orderHistory(t, j, "order-7"), appenders*each/40)
	MustVerify(t, j)

	side := 0
	require.NoError(t, j.DB().View(func(tx *bolt.Tx) error {
		side = tx.Bucket([]byte("test.side")).Stats().KeyN
		return nil
	}))
	require.Equal(t, appenders*each/10, side, "the side writes outside the rounds")

	// The count of allocations starts again with the file: one more
	// round, alone, reopens first if it is due.
	_, err = j.Append(ctx, testEntry(0, 40))
	require.NoError(t, err)
	require.NoError(t, j.DB().with(func(db *bolt.DB) error {
		st := db.Stats()
		require.Less(t, st.TxStats.GetPageCount(), int64(64)+64, "pages allocated since the last reopen")
		return nil
	}))
	require.NoError(t, j.Close())
	j2, err := Open(path, Options{})
	require.NoError(t, err)
	n, err = j2.Count()
	require.NoError(t, err)
	require.EqualValues(t, appenders*each+1, n)
	require.NoError(t, j2.Close())
}

// TestReopenNeverWaits: the writer reopens only when no transaction is
// open, and does not wait for one.
func TestReopenNeverWaits(t *testing.T) {
	j, _ := mustOpen(t, Options{ReopenAfter: 1})
	_, err := j.Append(context.Background(), testEntry(1, 1))
	require.NoError(t, err)
	d := j.DB()
	// The writer is idle; call the reopen as it would, inside a read. A
	// reopen that waited would wait for this read: the read gives up
	// after a while, so the test fails instead of hanging.
	type outcome struct{ reopened, postponed bool }
	require.NoError(t, d.View(func(*bolt.Tx) error {
		got := make(chan outcome, 1)
		go func() {
			ok, postponed, err := d.maybeReopen(j.sameHead)
			assert.NoError(t, err)
			got <- outcome{ok, postponed}
		}()
		select {
		case o := <-got:
			assert.Equal(t, outcome{false, true}, o, "reopened under an open transaction")
		case <-time.After(10 * time.Second):
			t.Error("the reopen waits for an open transaction")
		}
		return nil
	}))
	ok, postponed, err := d.maybeReopen(j.sameHead)
	require.NoError(t, err)
	require.True(t, ok, "no transaction open, allocations past ReopenAfter")
	require.False(t, postponed)
	_, err = j.Append(context.Background(), testEntry(2, 1))
	require.NoError(t, err)
}

// TestReopenWindowLocked: while the writer has the data file closed to
// reopen it, another process's open (an auditor's) still finds it held,
// by the lock file beside it; bbolt's own lock is gone in that moment.
func TestReopenWindowLocked(t *testing.T) {
	j, path := mustOpen(t, Options{ReopenAfter: 1})
	_, err := j.Append(context.Background(), testEntry(1, 1))
	require.NoError(t, err)
	d := j.DB()
	d.mu.Lock()
	locked := true
	defer func() {
		if locked {
			d.mu.Unlock()
		}
	}()
	require.NoError(t, d.bolt.Close())
	d.bolt, d.err = nil, ErrReopening

	ro, err := OpenReadOnly(path, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		_ = ro.Close()
	}
	require.ErrorIs(t, err, berrors.ErrTimeout, "a reader got the data file in the reopen's window")
	rw, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		_ = rw.Close()
	}
	require.ErrorIs(t, err, berrors.ErrTimeout, "a writer got the data file in the reopen's window")

	d.mu.Unlock()
	locked = false
	ok, _, err := d.maybeReopen(j.sameHead)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = j.Append(context.Background(), testEntry(2, 1))
	require.NoError(t, err)
}

// TestReopenFindsTheFileGone: a reopen that cannot find the file it
// opened (moved away, or replaced by another) leaves the journal
// unavailable, the file untouched and nothing created, and the journal
// comes back by itself when the file is back.
func TestReopenFindsTheFileGone(t *testing.T) {
	j, path := mustOpen(t, Options{ReopenAfter: 1})
	ctx := context.Background()
	_, err := j.Append(ctx, testEntry(1, 1))
	require.NoError(t, err)

	require.NoError(t, os.Rename(path, path+".away"))
	_, err = j.Append(ctx, testEntry(2, 1))
	require.ErrorIs(t, err, ErrCommit)
	require.ErrorIs(t, err, ErrReopening)
	require.ErrorIs(t, j.Healthy(), ErrReopening)
	require.NoFileExists(t, path, "a reopen created a new, empty data file")

	// Another file in its place is refused too: it is not this chain.
	copyFile(t, path+".away", path)
	_, err = j.Append(ctx, testEntry(2, 1))
	require.ErrorIs(t, err, ErrReopening)
	require.ErrorContains(t, err, "replaced")
	require.NoError(t, os.Remove(path))

	require.NoError(t, os.Rename(path+".away", path))
	seqs, err := j.Append(ctx, testEntry(2, 1))
	require.NoError(t, err)
	require.Equal(t, []uint64{2}, seqs)
	require.NoError(t, j.Healthy())
}

// TestReopenFindsTheFileChanged: the same file changed in place is
// refused as well. Cut to nothing, bbolt would have made it a new empty
// database; an older copy written over it holds an older head, and
// appending after it would fork the chain.
func TestReopenFindsTheFileChanged(t *testing.T) {
	j, path := mustOpen(t, Options{ReopenAfter: 1})
	ctx := context.Background()
	_, err := j.Append(ctx, testEntry(1, 1))
	require.NoError(t, err)
	older, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = j.Append(ctx, testEntry(2, 1))
	require.NoError(t, err)
	current, err := os.ReadFile(path)
	require.NoError(t, err)

	require.NoError(t, os.Truncate(path, 0))
	_, err = j.Append(ctx, testEntry(3, 1))
	require.ErrorIs(t, err, ErrReopening)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "the reopen wrote a new database into the emptied file")

	require.NoError(t, os.WriteFile(path, older, 0o600)) // same file, older contents
	_, err = j.Append(ctx, testEntry(3, 1))
	require.ErrorIs(t, err, ErrReopening)
	require.ErrorContains(t, err, "head is entry 1, the writer's last entry is 2")

	require.NoError(t, os.WriteFile(path, current, 0o600))
	seqs, err := j.Append(ctx, testEntry(3, 1))
	require.NoError(t, err)
	require.Equal(t, []uint64{3}, seqs)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}
