package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Archives. A payment leaves about ten entries behind; kept in the live file
// for ever they would grow it by gigabytes a day. So the chain is cut into
// files: Archive moves every entry older than a moment (the start of the
// business day) into an archive file of its own, and the live file keeps
// only the entries since. The chain runs on across the cut, since every
// entry carries its predecessor's hash whichever file holds it, and the
// readers (Iterate, ByOrder, Get, Last, Verify) read the archives and the
// live file as one history. Prune drops whole archives past their retention.
//
// Every journal file, live or archive, records in its meta bucket where its
// stretch of the chain begins ("base": the first seq it holds and the hash
// of the entry before it; absent means entry 1 and the zero hash). The live
// file also records where the whole kept history begins ("retained"), so
// that Verify tells an archive pruned on purpose from one that went missing.

// Meta keys beyond head and version.
var (
	baseKey     = []byte("base")
	retainedKey = []byte("retained")
)

// ArchiveSuffix ends the name of every archive file.
const ArchiveSuffix = ".journal"

// ArchiveDirName is where the archives live by default: a directory of
// that name beside the data file.
const ArchiveDirName = "journal-archive"

// DefaultArchiveDir is the archive directory of the data file at path.
func DefaultArchiveDir(path string) string {
	return filepath.Join(filepath.Dir(path), ArchiveDirName)
}

// archiveChunk is how many entries one transaction copies or deletes while
// archiving: a short write transaction holds the writer back only briefly.
const archiveChunk = 4096

// mark is a place in the chain: a sequence number and the hash of the
// entry before it.
type mark struct {
	seq  uint64
	prev [HashSize]byte
}

func (m mark) encode() []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+HashSize), m.seq), m.prev[:]...)
}

// readMark reads a mark from meta; absent, it is the chain's start.
func readMark(meta *bolt.Bucket, key []byte) (mark, error) {
	v := meta.Get(key)
	if v == nil {
		return mark{seq: 1}, nil
	}
	if len(v) != 8+HashSize || binary.BigEndian.Uint64(v) == 0 {
		return mark{}, &ChainError{Reason: ReasonHead, Detail: fmt.Sprintf("%s record is malformed (%d bytes)", key, len(v))}
	}
	m := mark{seq: binary.BigEndian.Uint64(v)}
	copy(m.prev[:], v[8:])
	return m, nil
}

// segment is one archive file: a closed stretch of the chain, opened
// read-only for as long as the journal is open.
type segment struct {
	path     string
	db       *bolt.DB
	base     mark
	last     uint64
	lastHash [HashSize]byte
	lastTime time.Time

	// Readers hold a reference while they read; Prune retires a segment
	// and the last reader out closes it.
	refs      atomic.Int32
	retired   atomic.Bool
	closeOnce sync.Once
}

func (s *segment) close() { s.closeOnce.Do(func() { _ = s.db.Close() }) }

func (s *segment) holds(seq uint64) bool { return seq >= s.base.seq && seq <= s.last }

// archives is the journal's list of open archive files, oldest first.
type archives struct {
	dir string
	mu  sync.RWMutex
	all []*segment
}

// acquire returns the archives as they stand, each held until release.
func (a *archives) acquire() []*segment {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := slices.Clone(a.all)
	for _, s := range out {
		s.refs.Add(1)
	}
	return out
}

func release(segs []*segment) {
	for _, s := range segs {
		if s.refs.Add(-1) == 0 && s.retired.Load() {
			s.close()
		}
	}
}

func (a *archives) add(s *segment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, s)
}

// retire drops the oldest n archives from the list; each closes when its
// last reader is done.
func (a *archives) retire(n int) []*segment {
	a.mu.Lock()
	gone := slices.Clone(a.all[:n])
	a.all = slices.Delete(a.all, 0, n)
	a.mu.Unlock()
	for _, s := range gone {
		s.retired.Store(true)
		if s.refs.Load() == 0 {
			s.close()
		}
	}
	return gone
}

func (a *archives) closeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.all {
		s.close()
	}
	a.all = nil
}

var archiveName = regexp.MustCompile(`^journal-[0-9A-Za-z-]+-[0-9]+` + regexp.QuoteMeta(ArchiveSuffix) + `$`)

// openArchives opens every archive file in dir (none when dir does not
// exist), oldest first. An archive that does not open is skipped when
// skip says so (each error goes to skip): the switch keeps taking
// payments on a sound live file, and the hole shows in Verify; auditors
// are refused with the reason.
func openArchives(dir string, lockTimeout time.Duration, skip func(error) bool) ([]*segment, error) {
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: archives: %w", err)
	}
	var out []*segment
	for _, n := range names {
		if n.IsDir() || !archiveName.MatchString(n.Name()) {
			continue
		}
		s, err := openSegment(filepath.Join(dir, n.Name()), lockTimeout)
		if err != nil && skip(err) {
			continue
		}
		if err != nil {
			for _, s := range out {
				s.close()
			}
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *segment) int { return compareSeq(a.base.seq, b.base.seq) })
	return out, nil
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// openSegment opens one archive read-only and reads where its stretch of
// the chain begins and ends; its last entry must be the one its head
// record names.
func openSegment(path string, lockTimeout time.Duration) (*segment, error) {
	if err := CheckFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{Timeout: lockTimeout, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("journal: archive %s: %w", path, err)
	}
	s := &segment{path: path, db: db}
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if tx.Bucket(entriesBucket) == nil || meta == nil {
			return ErrNoJournal
		}
		if err := checkVersion(meta); err != nil {
			return err
		}
		if s.base, err = readMark(meta, baseKey); err != nil {
			return err
		}
		head, hash, ok, err := readHead(tx)
		if err != nil {
			return err
		}
		k, v := tx.Bucket(entriesBucket).Cursor().Last()
		if !ok || k == nil {
			return &ChainError{Seq: s.base.seq, Reason: ReasonHead, Detail: "an archive without entries"}
		}
		var e Entry
		p := newChainReader(tx)
		if err := checkStored(k, v, p, &e, true); err != nil {
			return err
		}
		if err := p.settle(); err != nil {
			return err
		}
		if e.Seq != head || e.Hash != hash || head < s.base.seq {
			return &ChainError{Seq: e.Seq, Reason: ReasonHead, Detail: fmt.Sprintf("head record names entry %d, the last entry is %d", head, e.Seq)}
		}
		s.last, s.lastHash, s.lastTime = e.Seq, e.Hash, e.Time
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("journal: archive %s: %w", path, err)
	}
	return s, nil
}

// loadArchives opens the archives beside the live file and settles what a
// crash while archiving or pruning may have left: an archive whose entries
// the live file still holds (the move is finished now, or ignored by a
// read-only journal), entries below the live file's base (deleted now), an
// archive already pruned (removed now).
func (j *Journal) loadArchives() error {
	segs, err := openArchives(j.arch.dir, j.opts.LockTimeout, func(err error) bool {
		if j.readOnly {
			return false
		}
		j.log.Error().Err(err).Msg("journal archive unreadable: skipped; its entries are missing from the history until it is restored")
		return true
	})
	if err != nil {
		return err
	}
	var base, retained mark
	if err := j.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if base, err = readMark(meta, baseKey); err != nil {
			return err
		}
		retained, err = readMark(meta, retainedKey)
		return err
	}); err != nil {
		for _, s := range segs {
			s.close()
		}
		return fmt.Errorf("journal: %s: %w", j.db.Path(), err)
	}
	var unfinished *segment
	kept := segs[:0]
	for _, s := range segs {
		switch {
		case s.last < retained.seq:
			s.close()
			if !j.readOnly {
				j.log.Warn().Str("path", s.path).Msg("removing an archive pruned before the switch stopped")
				if err := os.Remove(s.path); err != nil {
					return fmt.Errorf("journal: archive %s: %w", s.path, err)
				}
			}
			continue
		case s.last >= base.seq:
			// The live file still holds these entries: the archive was
			// written but the move not recorded.
			if j.readOnly || s.base.seq != base.seq || s.base.prev != base.prev {
				s.close()
				continue
			}
			unfinished = s
		}
		kept = append(kept, s)
	}
	j.arch.all = kept
	if j.readOnly {
		return nil
	}
	if unfinished != nil {
		j.log.Warn().Str("path", unfinished.path).Uint64("through", unfinished.last).Msg("finishing an archive interrupted by a stop")
		return j.dropThrough(unfinished.last, unfinished.lastHash)
	}
	// Entries below the base: a deletion a stop interrupted.
	return j.dropThrough(base.seq-1, base.prev)
}

// ArchiveInfo describes an archive file Archive wrote.
type ArchiveInfo struct {
	Path        string
	First, Last uint64
	Bytes       int64
}

// Archive moves the entries written before the given moment into a new
// archive file, named after label (the business day it closes, such as
// 2026-12-05), and returns what it wrote; nil when there was nothing to
// move. The entries move in sequence order and stop at the first one
// written at or after before. The file is complete and fsynced before a
// single entry leaves the live file, and readers see every entry in one
// file or the other at every instant. One Archive or Prune runs at a time.
func (j *Journal) Archive(before time.Time, label string) (*ArchiveInfo, error) {
	if j.readOnly {
		return nil, ErrReadOnly
	}
	if label == "" || !archiveName.MatchString("journal-"+label+"-1"+ArchiveSuffix) {
		return nil, fmt.Errorf("journal: archive label %q: letters, digits and dashes only", label)
	}
	j.archMu.Lock()
	defer j.archMu.Unlock()

	var base mark
	var last uint64
	var lastHash [HashSize]byte
	// Find the last entry to move, reading in short transactions.
	for done := false; !done; {
		err := j.db.View(func(tx *bolt.Tx) (err error) {
			if base, err = readMark(tx.Bucket(metaBucket), baseKey); err != nil {
				return err
			}
			from := max(base.seq, last+1)
			c := tx.Bucket(entriesBucket).Cursor()
			var e Entry
			p := newChainReader(tx)
			defer p.done(&err) // last's hash is the archive's head
			n := 0
			for k, v := c.Seek(seqKey(from)); ; k, v = c.Next() {
				if k == nil {
					done = true
					return nil
				}
				if err := checkStored(k, v, p, &e, false); err != nil {
					return err
				}
				if !e.Time.Before(before) {
					done = true
					return nil
				}
				last, lastHash = e.Seq, e.Hash
				if n++; n == archiveChunk {
					return nil
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("journal: archive: %w", err)
		}
	}
	if last < base.seq {
		return nil, nil
	}
	if err := os.MkdirAll(j.arch.dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: archive: %w", err)
	}
	path := filepath.Join(j.arch.dir, fmt.Sprintf("journal-%s-%d%s", label, base.seq, ArchiveSuffix))
	if err := j.writeArchive(path, base, last, lastHash); err != nil {
		return nil, err
	}
	s, err := openSegment(path, j.opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	// Readers look for an entry in the archives before the live file, so
	// the archive is listed before its entries leave the live file.
	j.arch.add(s)
	if err := j.dropThrough(last, lastHash); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("journal: archive: %w", err)
	}
	j.log.Info().Str("path", path).Uint64("first", base.seq).Uint64("last", last).Int64("bytes", fi.Size()).Msg("journal archived")
	return &ArchiveInfo{Path: path, First: base.seq, Last: last, Bytes: fi.Size()}, nil
}

// writeArchive copies entries base.seq..last, their order index and the
// marks of where they begin and end into a new file at path, fsynced and
// renamed into place. The stored bytes are copied as they are: the
// entries' hashes cover them.
func (j *Journal) writeArchive(path string, base mark, last uint64, lastHash [HashSize]byte) (err error) {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("journal: archive %s already exists", path)
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a copy a stop interrupted
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: j.opts.LockTimeout, NoSync: true})
	if err != nil {
		return fmt.Errorf("journal: archive: %w", err)
	}
	defer func() {
		if db != nil {
			_ = db.Close()
		}
		if err != nil {
			_ = os.Remove(tmp)
			err = fmt.Errorf("journal: archive %s: %w", path, err)
		}
	}()
	if err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{entriesBucket, orderBucket, metaBucket} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(metaBucket)
		if err := meta.Put(versionKey, []byte{fileVersion}); err != nil {
			return err
		}
		if err := meta.Put(baseKey, base.encode()); err != nil {
			return err
		}
		return meta.Put(headKey, mark{seq: last, prev: lastHash}.encode())
	}); err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	for next := base.seq; next <= last; {
		var chunk []kv
		var orders orderGroups
		if err = j.db.View(func(tx *bolt.Tx) (err error) {
			c := tx.Bucket(entriesBucket).Cursor()
			var e Entry
			p := newChainReader(tx)
			defer p.done(&err)
			want := next
			for k, v := c.Seek(seqKey(next)); k != nil && want <= last && len(chunk) < archiveChunk; k, v = c.Next() {
				if err := checkStored(k, v, p, &e, false); err != nil {
					return err
				}
				if e.Seq != want {
					return &ChainError{Seq: want, Reason: ReasonSeqGap, Detail: "missing while archiving"}
				}
				chunk = append(chunk, kv{k: bytes.Clone(k), v: bytes.Clone(v)})
				orders.add(strings.Clone(e.OrderID), e.Seq)
				want++
			}
			if want <= last && len(chunk) < archiveChunk {
				return &ChainError{Seq: want, Reason: ReasonSeqGap, Detail: "missing while archiving"}
			}
			return nil
		}); err != nil {
			return err
		}
		if err = db.Update(func(tx *bolt.Tx) error {
			eb, ob := tx.Bucket(entriesBucket), tx.Bucket(orderBucket)
			eb.FillPercent = 1 // appended in key order and never changed: full pages
			for _, it := range chunk {
				if err := eb.Put(it.k, it.v); err != nil {
					return err
				}
			}
			return indexRound(ob, orders.list)
		}); err != nil {
			return err
		}
		next += uint64(len(chunk))
	}
	if err = db.Sync(); err != nil {
		return err
	}
	err = db.Close()
	db = nil
	if err != nil {
		return err
	}
	if err = os.Chmod(tmp, 0o400); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// dropThrough deletes the live file's entries up to last (and their order
// index keys), recording first that the live file now begins after last.
// From that first transaction on, readers look for those entries in the
// archives.
func (j *Journal) dropThrough(last uint64, lastHash [HashSize]byte) error {
	for {
		more := false
		err := j.db.Update(func(tx *bolt.Tx) error {
			eb, ob, meta := tx.Bucket(entriesBucket), tx.Bucket(orderBucket), tx.Bucket(metaBucket)
			base, err := readMark(meta, baseKey)
			if err != nil {
				return err
			}
			if base.seq <= last {
				if err := meta.Put(baseKey, mark{seq: last + 1, prev: lastHash}.encode()); err != nil {
					return err
				}
			}
			c := eb.Cursor()
			var e Entry
			n := 0
			for k, v := c.First(); k != nil; k, v = c.First() {
				if len(k) != 8 || binary.BigEndian.Uint64(k) > last {
					return nil
				}
				if n == archiveChunk {
					more = true
					return nil
				}
				// Copied into an archive and checked there; here only
				// their order ids matter, and the hash of a current value
				// cannot be checked once the entry before it is gone.
				if err := decodeFields(k, v, &e); err != nil {
					return err
				}
				if e.OrderID != "" {
					if err := dropIndexed(ob, e.OrderID, e.Seq, last); err != nil {
						return err
					}
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("journal: archive: drop moved entries: %w", err)
		}
		if !more {
			return nil
		}
	}
}

// Prune removes the archives whose every entry was written before the
// given moment, oldest first, and returns their paths. The live file
// records first where the kept history now begins, so Verify knows the
// earlier entries were let go on purpose.
func (j *Journal) Prune(before time.Time) ([]string, error) {
	if j.readOnly {
		return nil, ErrReadOnly
	}
	j.archMu.Lock()
	defer j.archMu.Unlock()
	segs := j.arch.acquire()
	n := 0
	for n < len(segs) && segs[n].lastTime.Before(before) {
		n++
	}
	var from mark
	if n > 0 {
		from = mark{seq: segs[n-1].last + 1, prev: segs[n-1].lastHash}
	}
	release(segs)
	if n == 0 {
		return nil, nil
	}
	if err := j.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(retainedKey, from.encode())
	}); err != nil {
		return nil, fmt.Errorf("journal: prune: %w", err)
	}
	var paths []string
	for _, s := range j.arch.retire(n) {
		if err := os.Remove(s.path); err != nil {
			return paths, fmt.Errorf("journal: prune: %w", err)
		}
		j.log.Info().Str("path", s.path).Uint64("last", s.last).Msg("journal archive pruned")
		paths = append(paths, s.path)
	}
	return paths, nil
}

// SeqSince returns a sequence number from which Iterate sees every entry
// written at or after t, so that a scan of one day does not read every
// archive before it: the first entry of the archive before the first one
// that ends at or after t (one archive early, as callers may stamp an
// entry a moment before one appended earlier), or of the live file.
func (j *Journal) SeqSince(t time.Time) uint64 {
	segs := j.arch.acquire()
	defer release(segs)
	for i, s := range segs {
		if !s.lastTime.Before(t) {
			return segs[max(i-1, 0)].base.seq
		}
	}
	if len(segs) > 0 {
		return segs[len(segs)-1].base.seq
	}
	return j.firstSeq()
}

// ArchiveDir is the directory the journal reads and writes archives in.
func (j *Journal) ArchiveDir() string { return j.arch.dir }

// Archives lists the archive files the journal reads, oldest first.
func (j *Journal) Archives() []ArchiveInfo {
	segs := j.arch.acquire()
	defer release(segs)
	out := make([]ArchiveInfo, 0, len(segs))
	for _, s := range segs {
		var size int64
		if fi, err := os.Stat(s.path); err == nil {
			size = fi.Size()
		}
		out = append(out, ArchiveInfo{Path: s.path, First: s.base.seq, Last: s.last, Bytes: size})
	}
	return out
}

// gapError says that entries the chain needs are in no file the journal
// reads.
func (j *Journal) gapError(seq uint64) error {
	return &ChainError{Seq: seq, Reason: ReasonSeqGap, Detail: "in neither the live file nor an archive in " + strings.TrimSpace(j.arch.dir)}
}

// ArchiveConfig says when the switch closes business days of the journal
// into archive files and how long it keeps them.
type ArchiveConfig struct {
	// Dir holds the archives. Default: ArchiveDirName beside the data file.
	Dir string `yaml:"dir"`
	// TimeZone is the business day's. Default DefaultTimeZone.
	TimeZone string `yaml:"time_zone"`
	// KeepDays is how many days of archives are kept after the day they
	// close; 0 keeps every archive.
	KeepDays int `yaml:"keep_days"`
	// Off keeps every entry in the live file, which then grows without end.
	Off bool `yaml:"off"`
}

// DefaultTimeZone is the business day's time zone unless configured.
const DefaultTimeZone = "Asia/Almaty"

// Location returns the business day's time zone; the config must be valid.
func (c ArchiveConfig) Location() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.LoadLocation(DefaultTimeZone)
	}
	return time.LoadLocation(c.TimeZone)
}

// Validate names the key of each bad value under prefix.
func (c ArchiveConfig) Validate(prefix string) error {
	var errs []error
	if _, err := c.Location(); err != nil {
		errs = append(errs, fmt.Errorf("%s.time_zone: %q: %v", prefix, c.TimeZone, err))
	}
	if c.KeepDays < 0 {
		errs = append(errs, fmt.Errorf("%s.keep_days: %d: 0 (keep every archive) or more days", prefix, c.KeepDays))
	}
	return errors.Join(errs...)
}

// CloseDays archives every business day (in loc) before now's and prunes
// the archives of days more than keepDays before it (none when keepDays is
// 0). It is cheap when there is nothing to do, so the switch calls it
// every minute rather than keeping a calendar. The archive is labelled
// with the last day it closes.
func (j *Journal) CloseDays(now time.Time, loc *time.Location, keepDays int) (*ArchiveInfo, []string, error) {
	n := now.In(loc)
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)
	info, err := j.Archive(today, today.AddDate(0, 0, -1).Format(time.DateOnly))
	if err != nil || keepDays <= 0 {
		return info, nil, err
	}
	pruned, err := j.Prune(today.AddDate(0, 0, -keepDays))
	return info, pruned, err
}
