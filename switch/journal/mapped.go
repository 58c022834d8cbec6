package journal

import (
	bolt "go.etcd.io/bbolt"
)

// ReleaseMapped takes the data file's pages, and the archives', out of
// the process's resident set, and returns how many bytes of mapping it
// released.
//
// bbolt reads the file through a read-only shared mapping, and every page
// it has read stays resident in the process: after a day of payments the
// resident set is the size of the live file, although the switch only
// works on its newest pages and the branches above them. Dropping the
// mapping's pages (madvise MADV_DONTNEED) costs nothing in data: the pages
// stay in the kernel's page cache, which writes and reclaims them as ever,
// and the next read of one maps it again from there (a minor fault). So
// the resident set follows what the switch reads, and memory that grows
// without end shows as such.
//
// It runs inside a read transaction of each file: bbolt cannot remap a
// file while one is open, so the range given to madvise is the mapping
// and nothing else.
func (j *Journal) ReleaseMapped() (int64, error) {
	var total int64
	drop := func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			n, err := dropMapped(db.Info().Data, tx.Size())
			total += n
			return err
		})
	}
	if err := j.db.with(drop); err != nil {
		return total, err
	}
	segs := j.arch.acquire()
	defer release(segs)
	for _, s := range segs {
		if err := drop(s.db); err != nil {
			return total, err
		}
	}
	return total, nil
}
