package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
)

// DefaultDiskPages is what one commit of the switch wrote at half of peak
// on the 2-vCPU test machine (2026-12-07): about 36 bbolt pages, nine
// buckets' leaf, branch and root each, and a few more.
const DefaultDiskPages = 36

const (
	diskPage     = 4096
	diskFilePage = 16384 // the file's pages: 64 MiB, written once before the run
)

// DiskFile is the file the disk scenario writes in its directory; it is
// removed at the end.
const DiskFile = "tulpar-bench-disk.tmp"

// diskCommits is the disk scenario (ScenarioDisk): the durable commit of
// the data directory's disk alone, as bbolt makes one (the journal's
// writer commits every round so): Pages 4 KiB pages written at random
// places in a file, an fdatasync, then one page (bbolt's meta page) and a
// second fdatasync. No switch runs: it is the floor under each commit the
// journal makes on that disk, and a payment waits for three in series (the
// order, the bank exchange's write-ahead, its outcome). One writer, as
// bbolt has: with more clients than one, operations queue for it as the
// journal's callers do.
//
// With adjacent the same pages go side by side at a random place, in one
// write: the commit an append-only log would make of the same bytes. On
// the 2-vCPU test machine (2026-12-07) 36 pages placed so cost 0.42-0.45
// ms a commit at p50, against 1.58-1.65 ms at random places: its disk
// charges for each separate stretch written, and bbolt's freelist
// scatters a commit's pages (about 29 stretches for 35 pages in the
// switch's commits at 600 operations a second).
type diskCommits struct {
	mu       sync.Mutex
	f        *os.File
	rnd      *rand.Rand
	pages    int
	adjacent bool
	buf      []byte // a page, or with adjacent all of a commit's pages
}

// openDiskCommits makes the scenario's file in dir, written through and
// synced first so that the run measures writes over allocated blocks, as
// in a data file that has been in use.
func openDiskCommits(dir string, pages int, adjacent bool) (*diskCommits, error) {
	path := filepath.Join(dir, DiskFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	d := &diskCommits{f: f, rnd: rand.New(rand.NewPCG(1, 2)), pages: pages, adjacent: adjacent, buf: make([]byte, diskPage)}
	if adjacent {
		d.buf = make([]byte, pages*diskPage)
	}
	zeros := make([]byte, 256*diskPage)
	for off := int64(0); off < diskFilePage*diskPage; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			d.close()
			return nil, fmt.Errorf("disk: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		d.close()
		return nil, fmt.Errorf("disk: %w", err)
	}
	return d, nil
}

// commit writes the pages and the meta page, each followed by fdatasync.
func (d *diskCommits) commit(context.Context, int) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writePages(); err != nil {
		return "commit", err
	}
	if err := fdatasync(d.f); err != nil {
		return "commit", err
	}
	d.buf[0]++
	if _, err := d.f.WriteAt(d.buf[:diskPage], int64(d.rnd.IntN(2))*diskPage); err != nil {
		return "commit", err
	}
	return "commit", fdatasync(d.f)
}

// writePages writes a commit's pages, each changed, before its first
// fdatasync. Pages 0 and 1 are the metas.
func (d *diskCommits) writePages() error {
	if d.adjacent {
		first := 2 + d.rnd.Int64N(diskFilePage-2-int64(d.pages)+1)
		for i := range d.pages {
			d.buf[i*diskPage]++
		}
		_, err := d.f.WriteAt(d.buf, first*diskPage)
		return err
	}
	for range d.pages {
		d.buf[0]++
		if _, err := d.f.WriteAt(d.buf, (2+d.rnd.Int64N(diskFilePage-2))*diskPage); err != nil {
			return err
		}
	}
	return nil
}

func (d *diskCommits) close() {
	_ = d.f.Close()
	_ = os.Remove(d.f.Name())
}
