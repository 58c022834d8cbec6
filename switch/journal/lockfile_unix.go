//go:build unix

package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// lockFile takes the lock file beside the data file at path: exclusive
// for a writer, which creates it, shared for a reader, which takes it only
// if it is there (a copy of a data file has none; a directory a switch has
// run in has one). It returns nil and no error when there is nothing to
// lock.
//
// bbolt's own flock on the data file is not enough once the writer
// reopens the file (see DB): in the moment between closing and opening,
// another process waiting for the data file (an auditor's read-only
// open, 'tulpar users' on a running switch by mistake) would get it and
// could keep the switch out for as long as it runs. The lock file is held
// from Open to Close, across the reopens.
func lockFile(path string, exclusive bool, timeout time.Duration) (*os.File, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // one lock file, whichever link names the data file
	}
	name := path + ".lock"
	flag, how := os.O_RDONLY, syscall.LOCK_SH
	if exclusive {
		flag, how = os.O_RDWR|os.O_CREATE, syscall.LOCK_EX
	}
	f, err := os.OpenFile(name, flag, 0o600)
	if err != nil {
		if !exclusive && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("journal: lock file: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				// bbolt's timeout, so callers tell a held file the one way
				// whichever lock held it.
				return nil, fmt.Errorf("journal: %s is held by another process (after %s): %w", name, timeout, berrors.ErrTimeout)
			}
			return nil, fmt.Errorf("journal: lock %s: %w", name, err)
		}
		// A retry interval, not synchronisation: flock has no deadline of
		// its own, and a blocking flock in a goroutine given up on would
		// take the lock later and hold it with nobody to let it go. So
		// try again every 50 ms, as bbolt waits for its own flock.
		time.Sleep(50 * time.Millisecond)
	}
}

// unlockFile lets the lock file go; closing it releases the flock.
func unlockFile(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}
