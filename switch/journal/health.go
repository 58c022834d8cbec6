package journal

import (
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// ErrCommit is wrapped by every Append error that comes from the disk rather
// than from the caller: bbolt could not write or fsync the transaction (disk
// full, I/O error). Nothing of that transaction is on disk. Callers answer
// "temporarily unavailable" and keep whatever outcome they were recording.
var ErrCommit = errors.New("journal: commit failed")

// Healthy returns nil when the last commit succeeded, and the error of the
// last commit when it failed. It turns healthy again with the next commit
// that succeeds, a caller's or Probe's.
//
// Readiness reads it: a switch whose journal cannot write must not take new
// work, because nothing it does could be answered as done.
func (j *Journal) Healthy() error {
	if p := j.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Probe commits an empty transaction through the writer (it rewrites the
// head record, so the file really is written and fsynced) and returns its
// error. While Healthy reports a failure, nothing else may be writing:
// Probe is how the switch learns that the disk has room again.
func (j *Journal) Probe(ctx context.Context) error {
	_, err := j.AppendTx(ctx, nil, func(*bolt.Tx, []uint64) error { return nil })
	return err
}

// setHealth records the outcome of a commit for Healthy.
func (j *Journal) setHealth(err error) {
	if err == nil {
		if j.lastErr.Load() != nil {
			j.lastErr.Store(nil)
			j.log.Info().Msg("journal writes again")
		}
		return
	}
	j.lastErr.Store(&err)
}
