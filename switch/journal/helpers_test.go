package journal

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// MustVerify fails tb if j's hash chain does not verify. Tests register it
// with t.Cleanup through mustOpen, as bbolt checks every test database's
// consistency when the test ends.
func MustVerify(tb testing.TB, j *Journal) {
	tb.Helper()
	if err := j.Verify(context.Background()); err != nil {
		tb.Fatalf("journal verify: %v", err)
	}
}

// mustOpen opens a journal in a fresh temp file. At cleanup it verifies the
// chain and closes the journal unless the test closed it already.
func mustOpen(tb testing.TB, opts Options) (*Journal, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "journal.db")
	j, err := Open(path, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		j.mu.RLock()
		closed := j.closed
		j.mu.RUnlock()
		if !closed {
			MustVerify(tb, j)
		}
		require.NoError(tb, j.Close())
	})
	return j, path
}

// testEntry returns a valid entry numbered n for order "order-<n%orders>".
func testEntry(n, orders int) Entry {
	return Entry{
		Time:      time.Unix(1_700_000_000, int64(n)).UTC(),
		Direction: Direction(1 + n%3),
		Channel:   "api",
		OrderID:   fmt.Sprintf("order-%d", n%orders),
		MTI:       "0200",
		STAN:      fmt.Sprintf("%06d", n%1_000_000),
		RRN:       fmt.Sprintf("%012d", n),
		Payload:   []byte(fmt.Sprintf(`{"n":%d,"pan":"enc:AAAA"}`, n)),
	}
}

// editFile opens the bbolt file directly, as a tamperer would, and runs fn
// in one write transaction.
func editFile(tb testing.TB, path string, fn func(tx *bolt.Tx) error) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(tb, err)
	require.NoError(tb, db.Update(fn))
	require.NoError(tb, db.Close())
}

// waitFor polls cond until it holds or a deadline passes: a condition, not
// a sleep, decides when the test goes on.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	require.Eventually(tb, cond, 10*time.Second, time.Millisecond, "timed out waiting for %s", what)
}

func sha256Sum(b []byte) [HashSize]byte { return sha256.Sum256(b) }

// orderHistory is the seqs ByOrder gives for orderID, each checked to
// carry that order id.
func orderHistory(t *testing.T, j *Journal, orderID string) []uint64 {
	t.Helper()
	es, err := j.ByOrder(orderID)
	require.NoError(t, err)
	var seqs []uint64
	for _, e := range es {
		require.Equal(t, orderID, e.OrderID)
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// lastPayloadByte is the index of the last byte of a stored value's
// payload: before the hash the value ends with, if it stores one.
func lastPayloadByte(v []byte) int {
	if v[0] == unhashedVersion {
		return len(v) - 1
	}
	return len(v) - HashSize - 1
}
