package journal

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Transactor is what a package keeping its own buckets in the data file
// needs of it: bbolt's read and write transactions. The switch hands out
// its *DB, which the journal may reopen under them, so no package keeps a
// *bolt.DB of the live file; a test may hand a *bolt.DB of its own.
type Transactor interface {
	View(fn func(*bolt.Tx) error) error
	Update(fn func(*bolt.Tx) error) error
}

// ErrReopening is returned by a transaction while the data file is
// closed: the journal's last attempt to open it again failed, and its
// writer tries again before each round.
var ErrReopening = errors.New("journal: data file closed, reopening")

// DefaultReopenAfter is Options.ReopenAfter's default: about six seconds
// of page allocations at half of the peak on a two-core machine, and at
// most about 3 MB of bbolt's allocation map (0.5 MB measured).
const DefaultReopenAfter = 128 << 10

// DB is the bbolt data file as the journal, the order store and every
// other package sharing it reach it: bbolt's transactions, through a
// handle the journal's writer may close and open again between rounds.
//
// Why it reopens: bbolt's freelist remembers, for every page a write
// transaction allocated since the file was opened and that is still in
// use, the transaction that allocated it (its allocs map, kept to undo a
// rollback). The journal appends pages that stay in use until the day is
// archived, so the map grew with the file: about 11 MB of live heap in ten
// minutes at 600 payments a second, and with the runtime's GOGC headroom
// five times that in resident memory. A file opened again starts with an
// empty map. Closing and opening take a few milliseconds (2.7 ms mean
// with a 0.4 GB file, 4.9 with 1.4 GB, at 600 payments a second on two
// cores): bbolt unmaps and maps the file and reads its meta pages and
// its freelist of a page or so.
//
// Every transaction holds mu for reading. The writer takes it only with
// TryLock, before a round: it never waits for a transaction, and a busy
// moment only puts the reopen off to the next round. Transactions wait
// for the reopen itself, a few milliseconds.
type DB struct {
	mu   sync.RWMutex
	bolt *bolt.DB // nil after a failed reopen, until one succeeds
	err  error    // why bolt is nil

	path  string
	opts  bolt.Options
	after int64       // reopen after this many page allocations; 0: never
	file  os.FileInfo // the file first opened, which a reopen must find again
}

// View runs fn in a read transaction, as bolt.DB.View.
func (d *DB) View(fn func(*bolt.Tx) error) error { return d.run((*bolt.DB).View, fn) }

// Update runs fn in a write transaction, as bolt.DB.Update.
func (d *DB) Update(fn func(*bolt.Tx) error) error { return d.run((*bolt.DB).Update, fn) }

// run runs a transaction on the open handle, holding mu for reading.
func (d *DB) run(tx func(*bolt.DB, func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.bolt == nil {
		return d.err
	}
	return tx(d.bolt, fn)
}

// Path is the data file's path.
func (d *DB) Path() string { return d.path }

// with runs fn on the open bbolt handle, which it must not keep: the
// reopen closes it.
func (d *DB) with(fn func(*bolt.DB) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.bolt == nil {
		return d.err
	}
	return fn(d.bolt)
}

// maybeReopen closes and opens the file again when it has allocated
// d.after pages since it was opened, or when the last reopen failed. Only
// the journal's writer calls it, before a round; check runs on the file
// opened again, before any transaction can, and refuses it with an error
// (the journal's head is not the writer's). It reports whether it
// reopened, whether it put off a reopen that was due (a transaction was
// open), and the error of a failed one.
func (d *DB) maybeReopen(check func(*bolt.DB) error) (reopened, postponed bool, err error) {
	// The writer is the only goroutine that sets d.bolt, so it reads it
	// without the lock.
	if d.after <= 0 {
		return false, false, nil
	}
	if d.bolt != nil {
		st := d.bolt.Stats()
		if st.TxStats.GetPageCount() < d.after {
			return false, false, nil
		}
	}
	if !d.mu.TryLock() {
		return false, true, nil
	}
	defer d.mu.Unlock()
	if d.bolt != nil {
		// bbolt closes its mapping and its file even when one of them
		// fails, and every commit was fsynced before: a close error
		// leaves nothing to lose, and the open below decides.
		_ = d.bolt.Close()
		d.bolt = nil
	}
	db, err := d.openAgain()
	if err == nil {
		if err = check(db); err != nil {
			_ = db.Close()
		}
	}
	if err != nil {
		d.err = fmt.Errorf("%w: %s: %w", ErrReopening, d.path, err)
		return false, false, d.err
	}
	d.bolt, d.err = db, nil
	return true, false, nil
}

// openAgain opens the file with the options of its first open, through
// openSame. It takes bbolt's flock without waiting: every transaction
// waits while the file is closed, and a process that holds the flock
// without the lock file (bbolt's own tools) would hold them all; the
// writer tries again before its next round. As at start-up (Open), a
// damaged page that trips bbolt is an error, not a crash.
func (d *DB) openAgain() (db *bolt.DB, err error) {
	if err := CheckFile(d.path); err != nil {
		return nil, err
	}
	opts := d.opts
	opts.OpenFile = d.openSame
	// One try: bbolt gives up once Timeout less its 50 ms retry interval
	// has passed; 0 would wait for ever.
	opts.Timeout = time.Millisecond
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, fmt.Errorf("bbolt failed reading it: %v", r)
		}
	}()
	return bolt.Open(d.path, 0o600, &opts)
}

// openSame opens the file d first opened, for a reopen, and nothing else:
// bbolt would create a missing file, and a file moved in its place (a
// restored backup) would carry on a chain the writer no longer holds.
// Either is an error, and the writer tries again before each round, so
// the switch answers "temporarily unavailable" until the file is back.
func (d *DB) openSame(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag&^os.O_CREATE, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !os.SameFile(fi, d.file) {
		err = errors.New("not the file the journal opened: it was replaced while the switch ran")
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// close closes the file for good.
func (d *DB) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bolt == nil {
		return nil
	}
	err := d.bolt.Close()
	d.bolt, d.err = nil, ErrClosed
	return err
}

// reopen opens the data file again when it is due (see DB), before a
// round of the writer.
func (j *Journal) reopen() {
	if !j.ownsDB {
		return
	}
	start := time.Now()
	ok, postponed, err := j.db.maybeReopen(j.sameHead)
	switch {
	case err != nil:
		if !j.reopenFailing {
			// Once, not every round while it lasts: Healthy says so.
			j.log.Error().Err(err).Msg("journal data file reopen failed; the switch is unavailable, retrying before each round")
			j.reopenFailing = true
		}
		j.setHealth(err)
	case ok:
		j.m.reopens.Inc()
		j.m.reopen.Observe(time.Since(start).Seconds())
		if j.reopenFailing {
			j.log.Info().Msg("journal data file open again")
			j.reopenFailing = false
		}
	case postponed:
		j.m.reopensPostponed.Inc()
	}
}

// sameHead refuses a data file whose head record is not the last entry
// the writer committed: the file was overwritten in place (a backup
// copied over it), and appending would fork the chain.
func (j *Journal) sameHead(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		seq, hash, ok, err := readHead(tx)
		if err != nil {
			return err
		}
		if !ok && j.lastSeq == 0 && j.lastHash == ([HashSize]byte{}) {
			return nil // no round has run on this new file yet
		}
		if !ok || seq != j.lastSeq || hash != j.lastHash {
			return fmt.Errorf("its journal's head is entry %d, the writer's last entry is %d: the file was changed while the switch ran", seq, j.lastSeq)
		}
		return nil
	})
}
