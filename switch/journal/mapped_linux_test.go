package journal

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestReleaseMapped: pages the journal read stay resident in the process
// until ReleaseMapped drops them; the data is untouched (read again, the
// chain verifies) and new appends go on.
func TestReleaseMapped(t *testing.T) {
	j, path := mustOpen(t, Options{})
	ctx := context.Background()
	payload := bytes.Repeat([]byte(`{"k":"v"}`), 400) // 3.6 KB, compresses
	for i := range 20 {
		batch := make([]Entry, 100)
		for k := range batch {
			batch[k] = testEntry(i*100+k, 50)
			batch[k].Payload = append([]byte(strconv.Itoa(i*100+k)), payload...) // each its own
		}
		_, err := j.Append(ctx, batch...)
		require.NoError(t, err)
	}
	readAll := func() {
		n := 0
		require.NoError(t, j.Iterate(1, func(e Entry) error { n++; return nil }))
		require.Equal(t, 2000, n)
	}
	readAll()
	before := residentKB(t, path)
	require.Greater(t, before, 64, "reading the journal made its pages resident")

	released, err := j.ReleaseMapped()
	require.NoError(t, err)

	require.Positive(t, released)
	after := residentKB(t, path)
	require.Less(t, after, before/4, "resident %d kB before, %d kB after", before, after)

	readAll()
	MustVerify(t, j)
	_, err = j.Append(ctx, testEntry(2001, 50))
	require.NoError(t, err)
}

// residentKB sums the Rss of this process's mappings of path
// (/proc/self/smaps).
func residentKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			// A mapping's first line: range, perms, offset, dev, inode[, path].
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && len(fields) == 3 && fields[0] == "Rss:" {
			kb, err := strconv.Atoi(fields[1])
			require.NoError(t, err)
			total += kb
		}
	}
	require.NoError(t, sc.Err())
	return total
}

// BenchmarkReleaseMapped: what one release costs with the whole of a
// 64 MB journal resident, and what reading it back in costs after.
func BenchmarkReleaseMapped(b *testing.B) {
	j, _ := mustOpen(b, Options{})
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 16 {
		batch := make([]Entry, 1000)
		for k := range batch {
			batch[k] = testEntry(i*1000+k, 50)
			batch[k].Payload = make([]byte, 4000) // incompressible: a page an entry
			for p := range batch[k].Payload {
				batch[k].Payload[p] = byte(rnd.Uint32())
			}
		}
		if _, err := j.Append(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	// touch reads every page of the entries, as bbolt's cursor does.
	touch := func() {
		err := j.db.View(func(tx *bolt.Tx) error {
			sum := 0
			c := tx.Bucket(entriesBucket).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				sum += int(v[len(v)/2])
			}
			_ = sum
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("release", func(b *testing.B) {
		var released int64
		for b.Loop() {
			b.StopTimer()
			touch()
			b.StartTimer()
			n, err := j.ReleaseMapped()
			if err != nil {
				b.Fatal(err)
			}
			released = n
		}
		b.ReportMetric(float64(released)/(1<<20), "MB-mapped")
	})
	b.Run("read-back", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if _, err := j.ReleaseMapped(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			touch()
		}
	})
	b.Run("read-resident", func(b *testing.B) {
		for b.Loop() {
			touch()
		}
	})
}
