package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/tulpar-switch/tulpar/switch/journal"
)

// ErrLocked means another process (a running switch) holds the data file.
// Auditors never wait for it nor open it for writing: they stop the switch or
// audit a consistent copy.
var ErrLocked = errors.New("audit: data file is locked by a running switch")

// DefaultLockTimeout is how long Open waits for the file lock before
// deciding the switch holds it.
const DefaultLockTimeout = 500 * time.Millisecond

// Data is an open, read-only data file: the journal and the order store.
type Data struct {
	Path    string
	DB      *journal.DB
	Journal *journal.Journal
}

// Open opens the data file at path read-only, with the journal's archives
// in archiveDir (empty: the directory journal.ArchiveDirName beside the
// file), so that every reader sees the journal as one history. bbolt's
// read-only mode takes a shared flock, which cannot coexist with the
// switch's exclusive one, so this never reads a file a switch is writing:
// it fails with ErrLocked after lockTimeout (DefaultLockTimeout when zero).
// The archives never change once written, and the switch holds them
// shared: they can be read while it runs.
func Open(path, archiveDir string, lockTimeout time.Duration) (*Data, error) {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	// The journal opens the data file: it refuses a damaged copy (one bbolt
	// would read past its end is a SIGBUS in the very tool the switch's
	// refusal sends operators to) and reads nothing it cannot trust.
	j, err := journal.OpenReadOnly(path, journal.Options{LockTimeout: lockTimeout, ArchiveDir: archiveDir})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s: stop the switch, or audit a consistent copy (GET /admin/journal/snapshot on its admin listener) with --copy", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Data{Path: path, DB: j.DB(), Journal: j}, nil
}

// PathFor returns the file to audit: the copy when one is given, else the
// data file in dir.
func PathFor(dir, copyFile string) (string, error) {
	switch {
	case copyFile != "" && dir != "":
		return "", errors.New("audit: give either a data directory or a copy, not both")
	case copyFile != "":
		return copyFile, nil
	case dir != "":
		return filepath.Join(dir, journal.DataFile), nil
	}
	return "", errors.New("audit: no data: give --data DIR or --copy FILE")
}

// Close releases the file.
func (d *Data) Close() error { return d.Journal.Close() }

// Progress is told how far a long run has come: done of total entries
// (total is the journal's length; done may pass it when the switch appended
// meanwhile, which cannot happen on a read-only file). Nil means silent.
type Progress func(done, total uint64)

// progressEvery is how many entries pass between Progress calls.
const progressEvery = 8192
