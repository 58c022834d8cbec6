package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket names. They are part of the on-disk format (see the package doc).
var (
	entriesBucket = []byte("journal")
	orderBucket   = []byte("journal.order")
	metaBucket    = []byte("journal.meta")

	headKey    = []byte("head")
	versionKey = []byte("version")
)

// Errors a caller decides on.
var (
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("journal: closed")
	// ErrReadOnly is returned by Append on a journal opened with OpenReadOnly.
	ErrReadOnly = errors.New("journal: read-only")
	// ErrNotFound is returned by Get for a sequence number not in the journal
	// and by Last on an empty journal.
	ErrNotFound = errors.New("journal: entry not found")
	// ErrNoJournal is returned by OpenReadOnly and by New on a read-only DB
	// when the file holds no journal buckets.
	ErrNoJournal = errors.New("journal: no journal in this file")
	// ErrOutcomeUnknown is returned, wrapped together with the context's
	// error, when the context ended after the writer had taken the entries:
	// they may or may not be committed. Look them up (Last, ByOrder) before
	// answering as though they were not written.
	ErrOutcomeUnknown = errors.New("journal: outcome unknown")
)

// Options configure a Journal. The zero value is usable.
type Options struct {
	// Logger receives the journal's events. The zero value logs nothing.
	Logger zerolog.Logger

	// Registerer, when not nil, gets the journal's Prometheus collectors
	// (names start with tulpar_journal_).
	Registerer prometheus.Registerer

	// QueueSize is how many Append calls may wait for the writer before
	// further callers block (and then honour their context). Default 1024.
	QueueSize int

	// MaxBatchEntries caps the entries committed in one bbolt transaction.
	// A single Append larger than this still commits whole. Default 4096.
	MaxBatchEntries int

	// MaxPayloadSize caps Entry.Payload. Default 1 MiB.
	MaxPayloadSize int

	// LockTimeout is how long Open and OpenReadOnly wait for the file lock
	// (bbolt takes flock: exclusive for a writer, shared for a reader) and
	// for the lock file beside it (see lockFile). Default 2s.
	LockTimeout time.Duration

	// ReopenAfter is how many pages a file Open opened may allocate
	// before the writer closes and opens it again, between two rounds, to
	// empty bbolt's allocation map (see DB). Default DefaultReopenAfter;
	// negative: never.
	ReopenAfter int64

	// Now stamps entries whose Time is zero. Default time.Now.
	Now func() time.Time

	// ArchiveDir holds the archive files (see Archive). Default: the
	// directory ArchiveDirName beside the file.
	ArchiveDir string
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.MaxBatchEntries <= 0 {
		o.MaxBatchEntries = 4096
	}
	if o.MaxPayloadSize <= 0 {
		o.MaxPayloadSize = 1 << 20
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.ReopenAfter == 0 {
		o.ReopenAfter = DefaultReopenAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Journal is an append-only, hash-chained journal of messages kept in three
// buckets of a bbolt database.
//
// Invariants, held by the single writer goroutine that is the only code
// putting entries:
//   - entries carry sequence numbers 1, 2, 3, ... with no gap;
//   - entry n's PrevHash is entry n-1's Hash (zero for entry 1);
//   - the head record names the last entry and its hash, and is written in
//     the same transaction as the entries it covers;
//   - the order index has exactly one key per entry with an order id.
//
// Readers (Iterate, ByOrder, Get, Last, Count, Verify, Snapshot) may run
// concurrently with Append and with each other.
type Journal struct {
	db       *DB
	ownsDB   bool
	lock     *os.File // the lock file Open or OpenReadOnly holds, if any
	readOnly bool
	opts     Options
	log      zerolog.Logger
	m        *metrics

	// mu guards closed and sending on reqs: Append holds it for reading
	// while it sends, Close takes it for writing before closing reqs, so no
	// send can race the close.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	done   chan struct{} // closed when the writer goroutine has returned

	// store keeps the writer's commit rounds (writer.go).
	store roundLog

	// Owned by the writer goroutine after New returns.
	lastSeq  uint64
	lastHash [HashSize]byte
	arena    []byte

	// lastErr is the error of the last commit, nil after a good one (Healthy).
	lastErr atomic.Pointer[error]

	// arch lists the archive files that hold the chain's older entries;
	// archMu lets one Archive or Prune run at a time.
	arch   archives
	archMu sync.Mutex

	closeOnce sync.Once
	closeErr  error

	// reopenFailing is the writer's: whether the last reopen failed.
	reopenFailing bool
}

// Open opens or creates the journal file at path and starts its writer. The
// Journal owns the bbolt DB and closes it on Close.
//
// A missing file is created: that is a fresh install. An existing file must
// prove it is the journal it claims to be before the switch appends to it:
// Open refuses it with a *DamagedError (errors.Is(err, ErrDamaged)) when it
// is empty, shorter than bbolt's two meta pages, not a bbolt file, cut
// short, or when the last entries or the head record do not check out (see
// "Opening a damaged file" in the package doc).
func Open(path string, opts Options) (j *Journal, err error) {
	opts = opts.withDefaults()
	lock, err := lockFile(path, true, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer func() {
		if j == nil {
			unlockFile(lock)
		}
	}()
	if err := CheckFile(path); err != nil {
		return nil, err
	}
	var db *bolt.DB
	// checkFile keeps bbolt inside the file, but a damaged page within it
	// can still trip one of bbolt's assertions (a panic) or send it through
	// a garbage offset (a fault). At start-up either must be a refusal that
	// names the file, not a crash: SetPanicOnFault makes a fault in this
	// goroutine a panic, and recover makes the panic a DamagedError. A panic
	// inside bolt.Open leaves its file handle open; the caller is about to
	// exit.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			j, err = nil, damaged(path, nil, "bbolt failed reading it: %v", r)
		}
	}()
	bopts := bolt.Options{Timeout: opts.LockTimeout, FreelistType: bolt.FreelistMapType}
	var opened os.FileInfo // the file bbolt opened, which a reopen must find again
	first := bopts
	first.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err == nil {
			opened, _ = f.Stat()
		}
		return f, err
	}
	db, err = bolt.Open(path, 0o600, &first)
	if err != nil {
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
			return nil, damaged(path, err, "bbolt refuses it: %v", err)
		}
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	d := &DB{bolt: db, path: path, opts: bopts, after: max(opts.ReopenAfter, 0), file: opened}
	if opened == nil || lock == nil {
		// Without the lock file another process could take the data
		// file in the moment it is closed for a reopen.
		d.after = 0
	}
	j, err = newJournal(d, opts, true)
	if err != nil {
		_ = db.Close()
		if errors.Is(err, ErrChainBroken) || errors.Is(err, ErrMalformed) {
			what := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "journal: "+path+": "), "journal: ")
			return nil, damaged(path, err, "its journal does not check out: %s", what)
		}
		return nil, err
	}
	j.lock = lock
	return j, nil
}

// OpenReadOnly opens the journal file at path for reading and verifying only.
//
// bbolt takes a shared flock for a read-only open and an exclusive one for a
// writer, and so does lockFile on the lock file beside it, so this cannot
// open the file a running switch holds: it fails after Options.LockTimeout.
// Auditors verify a copy made by Snapshot or CopyTo while the switch runs.
func OpenReadOnly(path string, opts Options) (*Journal, error) {
	opts = opts.withDefaults()
	lock, err := lockFile(path, false, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	if err := CheckFile(path); err != nil {
		unlockFile(lock)
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, ReadOnly: true})
	if err != nil {
		unlockFile(lock)
		return nil, fmt.Errorf("journal: open %s read-only: %w", path, err)
	}
	j, err := newJournal(&DB{bolt: db, path: path}, opts, true)
	if err != nil {
		_ = db.Close()
		unlockFile(lock)
		return nil, err
	}
	j.lock = lock
	return j, nil
}

// New runs a journal on a DB the caller opened, so the journal can share a
// file with the caller's own buckets (the order store) and AppendTx can
// commit both in one transaction. The caller keeps ownership: Close stops the
// journal but leaves db open. On a read-only DB the journal only reads.
func New(db *bolt.DB, opts Options) (*Journal, error) {
	return newJournal(&DB{bolt: db, path: db.Path()}, opts.withDefaults(), false)
}

func newJournal(db *DB, opts Options, owns bool) (*Journal, error) {
	j := &Journal{
		db:       db,
		ownsDB:   owns,
		readOnly: db.bolt.IsReadOnly(),
		opts:     opts,
		log:      opts.Logger,
	}
	j.arch.dir = opts.ArchiveDir
	if j.arch.dir == "" {
		j.arch.dir = DefaultArchiveDir(db.Path())
	}
	if j.readOnly {
		if err := db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(entriesBucket) == nil || tx.Bucket(metaBucket) == nil {
				return ErrNoJournal
			}
			return checkVersion(tx.Bucket(metaBucket))
		}); err != nil {
			return nil, fmt.Errorf("journal: %s: %w", db.Path(), err)
		}
		// A read-only journal has no writer; Close only closes the DB.
		j.closed = true
		if err := j.loadArchives(); err != nil {
			return nil, err
		}
		return j, nil
	}

	// A journal file is written to only once its tail checks out: a file
	// Open refuses is left as it was. Only a new one gets its buckets here.
	fresh := false
	if err := db.View(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(entriesBucket) == nil || tx.Bucket(orderBucket) == nil || tx.Bucket(metaBucket) == nil ||
			tx.Bucket(metaBucket).Get(versionKey) == nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("journal: %s: %w", db.Path(), err)
	}
	var err error
	older := false
	if !fresh {
		err = db.View(func(tx *bolt.Tx) error {
			meta := tx.Bucket(metaBucket)
			v := meta.Get(versionKey)
			older = len(v) == 1 && v[0] < fileVersion
			return checkVersion(meta)
		})
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{entriesBucket, orderBucket, metaBucket} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			meta := tx.Bucket(metaBucket)
			if meta.Get(versionKey) == nil {
				if err := meta.Put(versionKey, []byte{fileVersion}); err != nil {
					return err
				}
			}
			return checkVersion(meta)
		})
	}
	if err == nil {
		j.store = boltLog{db}
		j.lastSeq, j.lastHash, err = j.store.tail()
	}
	if err == nil && older {
		// Its tail checks out: from here on it gets compressed entries
		// and index chunks.
		err = db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(metaBucket).Put(versionKey, []byte{fileVersion})
		})
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %s: %w", db.Path(), err)
	}
	if err := j.loadArchives(); err != nil {
		return nil, err
	}

	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("journal: metrics: %w", err)
	}
	j.m = m
	j.reqs = make(chan *request, opts.QueueSize)
	j.done = make(chan struct{})
	go j.writer()
	j.log.Info().Str("path", db.Path()).Uint64("last_seq", j.lastSeq).Msg("journal open")
	return j, nil
}

// fileVersion is the version a journal file (live or archive) records in
// its meta bucket: 2 once it may hold compressed entries, 3 once its order
// index may hold chunks (orderindex.go), 4 once it may hold entries
// without their seq and previous hash (storedVersion), 5 once it may hold
// entries without their own hash (unhashedVersion). A writer raises an
// older file to 5 when it opens it, so a build from before refuses the
// file at open rather than meeting entries or an index it cannot read.
// Every earlier form stays readable.
const fileVersion = 5

func checkVersion(meta *bolt.Bucket) error {
	if v := meta.Get(versionKey); len(v) != 1 || v[0] < formatVersion || v[0] > fileVersion {
		return fmt.Errorf("%w: unsupported format version %x", ErrMalformed, v)
	}
	return nil
}

// tailCheck is how many of the last entries a writer re-checks when it
// opens the journal. Verify walks the whole chain, in time that grows with
// the journal; start-up must stay fast on millions of entries, and the tail
// is where a crash, a torn copy or a hand edit after the fact shows first.
const tailCheck = 1000

// loadTail returns the last entry's seq and hash so the chain continues after
// a restart. It refuses to continue a chain whose tail does not check out
// (an edited, missing or reordered entry among the last tailCheck, a head
// record out of step with the entries): appending after it would bury the
// damage under valid-looking links.
func loadTail(tx *bolt.Tx) (uint64, [HashSize]byte, error) {
	var zero [HashSize]byte
	headSeq, headHash, ok, err := readHead(tx)
	if err != nil {
		return 0, zero, err
	}
	base, err := readMark(tx.Bucket(metaBucket), baseKey)
	if err != nil {
		return 0, zero, err
	}
	k, _ := tx.Bucket(entriesBucket).Cursor().Last()
	if len(k) == 8 && binary.BigEndian.Uint64(k) < base.seq {
		k = nil // only entries already archived, which a stop left behind
	}
	if k == nil {
		// Every entry archived: the chain goes on from the base.
		if base.seq > 1 && (!ok || headSeq != base.seq-1 || headHash != base.prev) {
			return 0, zero, &ChainError{Seq: base.seq - 1, Reason: ReasonHead, Detail: "the head record is not the last archived entry"}
		}
		if base.seq == 1 && ok && headSeq != 0 {
			return 0, zero, &ChainError{Seq: headSeq, Reason: ReasonHead, Detail: "head names an entry but the journal is empty"}
		}
		return base.seq - 1, base.prev, nil
	}
	if len(k) != 8 {
		return 0, zero, &ChainError{Reason: ReasonDecode, Detail: fmt.Sprintf("last key %x is not an 8-byte sequence number", k)}
	}
	seq := binary.BigEndian.Uint64(k)
	hash, err := checkTail(tx, seq, base)
	if err != nil {
		return 0, zero, err
	}
	if !ok {
		return 0, zero, &ChainError{Seq: seq, Reason: ReasonHead, Detail: "no head record, but the journal holds entries"}
	}
	if headSeq != seq || headHash != hash {
		return 0, zero, &ChainError{Seq: seq, Reason: ReasonHead, Detail: fmt.Sprintf(
			"head record names entry %d with hash %x, the last entry is %d with hash %x", headSeq, headHash[:6], seq, hash[:6])}
	}
	return seq, hash, nil
}

// checkTail checks the last tailCheck entries up to last as Verify does:
// each key is the seq inside its value, each value decodes and hashes to its
// stored hash, the seqs run without a gap, and each entry carries its
// predecessor's hash (the file's first entry the hash its base records). It
// returns the last entry's hash.
func checkTail(tx *bolt.Tx, last uint64, base mark) ([HashSize]byte, error) {
	from := base.seq
	if last >= base.seq+tailCheck {
		from = last - tailCheck + 1
	}
	var prev [HashSize]byte
	linked := from == base.seq // the file's first entry links to its base; a later first entry's predecessor is not read
	if linked {
		prev = base.prev
	}
	next := from
	var e Entry
	c := tx.Bucket(entriesBucket).Cursor()
	p := newChainReader(tx)
	for k, v := c.Seek(seqKey(from)); k != nil && next <= last; k, v = c.Next() {
		if len(k) == 8 && binary.BigEndian.Uint64(k) != next {
			return prev, &ChainError{Seq: next, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; the next entry is %d", binary.BigEndian.Uint64(k))}
		}
		if err := checkStored(k, v, p, &e, false); err != nil {
			return prev, err
		}
		if linked && e.PrevHash != prev {
			return prev, &ChainError{Seq: next, Reason: ReasonPrevHash, Detail: fmt.Sprintf("prev hash %x, entry %d hashes to %x", e.PrevHash[:6], next-1, prev[:6])}
		}
		prev, linked = e.Hash, true
		next++
	}
	if next <= last {
		return prev, &ChainError{Seq: next, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; the last entry is %d", last)}
	}
	return prev, nil
}

// readHead returns the head record: the last committed seq and its hash.
func readHead(tx *bolt.Tx) (seq uint64, hash [HashSize]byte, ok bool, err error) {
	v := tx.Bucket(metaBucket).Get(headKey)
	if v == nil {
		return 0, hash, false, nil
	}
	if len(v) != 8+HashSize {
		return 0, hash, false, &ChainError{Reason: ReasonHead, Detail: fmt.Sprintf("head record is %d bytes", len(v))}
	}
	copy(hash[:], v[8:])
	return binary.BigEndian.Uint64(v), hash, true, nil
}

// checkStored decodes the value stored under key k into e and checks it
// is the entry that key promises. p gives the hash of the entry before it
// (a current value does not carry it) and learns e's. With own false, e
// aliases v (see decodeEntry).
func checkStored(k, v []byte, p *chainReader, e *Entry, own bool) error {
	seq, err := keySeq(k)
	if err != nil {
		return err
	}
	if p.open != 0 && seq != p.seq+1 {
		// Leaving a stretch of entries without their hash: confirm it
		// before the reader forgets where it was.
		if err := p.settle(); err != nil {
			return err
		}
	}
	if err := p.follows(seq, v, p.open != 0); err != nil {
		return err
	}
	var prev *[HashSize]byte
	p.back = 0
	if len(v) > 0 && v[0] >= storedVersion {
		h, err := p.prev(seq)
		if err != nil {
			return err
		}
		prev = &h
	}
	err = decodeEntry(v, seq, prev, e, own)
	if p.open == 0 && p.back != 0 {
		p.open = p.back // hashed from further back, unconfirmed as well
	}
	switch {
	case err == nil:
		p.open = 0
	case errors.Is(err, ErrUnconfirmed):
		if p.open == 0 {
			p.open = seq
		}
	case errors.Is(err, ErrHashMismatch) && p.open != 0:
		return &ChainError{Seq: seq, Reason: ReasonHash, Err: err, Detail: fmt.Sprintf(
			"entries %d..%d do not hash to the hash entry %d stores", p.open, seq, seq)}
	default:
		return decodeError(seq, err)
	}
	if err := sameSeq(seq, e); err != nil {
		return err
	}
	p.seq, p.hash = seq, e.Hash
	return nil
}

// keySeq is the seq an entries key names.
func keySeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, &ChainError{Reason: ReasonDecode, Detail: fmt.Sprintf("key %x is not an 8-byte sequence number", k)}
	}
	return binary.BigEndian.Uint64(k), nil
}

// decodeError is decodeEntry's error for the value under seq as a
// ChainError: an edited entry, or one that does not decode.
func decodeError(seq uint64, err error) error {
	if errors.Is(err, ErrHashMismatch) {
		return &ChainError{Seq: seq, Reason: ReasonHash, Err: err}
	}
	return &ChainError{Seq: seq, Reason: ReasonDecode, Err: err}
}

// sameSeq refuses a value of an older version stored under another seq
// than its own.
func sameSeq(seq uint64, e *Entry) error {
	if e.Seq != seq {
		return &ChainError{Seq: seq, Reason: ReasonSeqMismatch, Detail: fmt.Sprintf("entry stored under %d says it is %d", seq, e.Seq)}
	}
	return nil
}

// decodeFields decodes the value stored under key k into e where its
// fields are all that is needed and the chain was checked elsewhere (the
// forward pass of Verify, the archive a value was copied to): a current
// value's hash is not checked, since that needs the entry before it.
func decodeFields(k, v []byte, e *Entry) error {
	seq, err := keySeq(k)
	if err != nil {
		return err
	}
	if err := decodeEntry(v, seq, nil, e, false); err != nil && !errors.Is(err, ErrUnchained) {
		return decodeError(seq, err)
	}
	return sameSeq(seq, e)
}

// chainReader gives checkStored the hash of the entry before the one it
// reads, in one file's read transaction: the hash of the entry it read
// last when the reader goes in order, else the stored hash of the value
// before, or the file's base record's for its first entry; a value stored
// without its hash (unhashedVersion) has it hashed from the stored hash
// before it.
//
// It also sees that every entry read without a stored hash is confirmed:
// a reader going on in order confirms a stretch of them at the next value
// that stores its hash; one that stops or jumps first calls settle (or
// checkStored does, on a jump), which hashes on to that value, or to the
// head record after the file's last entry. A reader that hands entries
// on calls settle before it does.
type chainReader struct {
	tx   *bolt.Tx
	seq  uint64 // the entry read last (0: none), whose hash is hash
	hash [HashSize]byte
	open uint64 // the first of the entries read since the last stored hash (0: none)
	back uint64 // the first entry prev hashed to reach the one read (0: none)

	eb      *bolt.Bucket // opened at the first lookup
	base    mark
	scratch Entry
}

func newChainReader(tx *bolt.Tx) *chainReader { return &chainReader{tx: tx} }

func (p *chainReader) init() error {
	if p.eb != nil {
		return nil
	}
	base, err := readMark(p.tx.Bucket(metaBucket), baseKey)
	if err != nil {
		return err
	}
	p.eb, p.base = p.tx.Bucket(entriesBucket), base
	return nil
}

func (p *chainReader) prev(seq uint64) ([HashSize]byte, error) {
	if p.seq != 0 && seq == p.seq+1 {
		return p.hash, nil
	}
	var h [HashSize]byte
	if err := p.init(); err != nil {
		return h, err
	}
	if seq == p.base.seq {
		return p.base.prev, nil
	}
	if seq < p.base.seq {
		return h, &ChainError{Seq: seq - 1, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; entry %d needs its hash", seq)}
	}
	// Back to the nearest value that stores its hash (or the base), then
	// forward, hashing the values that do not.
	c := p.eb.Cursor()
	var run []uint64 // seqs without a stored hash, last first
	s := seq - 1
	k, v := c.Seek(seqKey(s))
	for {
		if len(k) != 8 || binary.BigEndian.Uint64(k) != s {
			return h, &ChainError{Seq: s, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; entry %d needs its hash", s+1)}
		}
		if err := p.follows(s, v, false); err != nil {
			return h, err
		}
		if len(v) == 0 || v[0] != unhashedVersion {
			if len(v) < 1+HashSize {
				return h, &ChainError{Seq: s, Reason: ReasonDecode, Detail: fmt.Sprintf("%d bytes, shorter than any entry", len(v))}
			}
			copy(h[:], v[len(v)-HashSize:])
			break
		}
		run = append(run, s)
		if s == p.base.seq {
			h = p.base.prev
			break
		}
		s--
		k, v = c.Prev()
	}
	if len(run) > 0 {
		p.back = run[len(run)-1]
	}
	for i := len(run) - 1; i >= 0; i-- {
		s := run[i]
		err := decodeEntry(p.eb.Get(seqKey(s)), s, &h, &p.scratch, false)
		if !errors.Is(err, ErrUnconfirmed) {
			return h, &ChainError{Seq: s, Reason: ReasonDecode, Err: err}
		}
		h = p.scratch.Hash
	}
	return h, nil
}

// follows refuses a value no writer stores at seq, before any hashing:
// one without its hash at a multiple of hashEvery (the writer always
// stores it there, so a stretch is never longer than hashEvery-1 and a
// reader's walk stays short however the file was edited), or, after
// entries without their hash (inStretch), one of the versions before
// storedVersion, which checks only itself and would confirm nothing.
func (p *chainReader) follows(seq uint64, v []byte, inStretch bool) error {
	if len(v) == 0 {
		return nil // decodeEntry names it
	}
	switch {
	case v[0] == unhashedVersion && seq%hashEvery == 0:
		return &ChainError{Seq: seq, Reason: ReasonDecode, Detail: fmt.Sprintf(
			"stored without its hash, which every entry whose seq is a multiple of %d keeps", hashEvery)}
	case inStretch && v[0] < storedVersion:
		return &ChainError{Seq: seq, Reason: ReasonDecode, Detail: fmt.Sprintf(
			"a value of version %d after entries stored without their hash", v[0])}
	}
	return nil
}

// done settles p after a read that ended without an error, so that what
// was read is confirmed before the transaction's caller uses it: a reader
// defers p.done(&err).
func (p *chainReader) done(err *error) {
	if *err == nil {
		*err = p.settle()
	}
}

// settle confirms the entries read since the last stored hash: it hashes
// on from the last one read to the next value that stores its hash, or
// to the file's last entry, whose hash the head record holds.
func (p *chainReader) settle() error {
	if p.open == 0 {
		return nil
	}
	if err := p.init(); err != nil {
		return err
	}
	first, s, h := p.open, p.seq, p.hash
	p.open = 0
	c := p.eb.Cursor()
	for k, v := c.Seek(seqKey(s + 1)); ; k, v = c.Next() {
		if k == nil {
			head, hash, ok, err := readHead(p.tx)
			if err != nil {
				return err
			}
			if !ok || head != s || hash != h {
				return &ChainError{Seq: s, Reason: ReasonHead, Detail: fmt.Sprintf(
					"entries %d..%d carry no hash of their own and the head record names entry %d with hash %x, not %x", first, s, head, hash[:6], h[:6])}
			}
			return nil
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != s+1 {
			return &ChainError{Seq: s + 1, Reason: ReasonSeqGap, Detail: fmt.Sprintf("missing; entries %d..%d need a stored hash after them", first, s)}
		}
		s++
		if err := p.follows(s, v, true); err != nil {
			return err
		}
		err := decodeEntry(v, s, &h, &p.scratch, false)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrUnconfirmed):
			h = p.scratch.Hash
		case errors.Is(err, ErrHashMismatch):
			return &ChainError{Seq: s, Reason: ReasonHash, Err: err, Detail: fmt.Sprintf(
				"entries %d..%d do not hash to the hash entry %d stores", first, s, s)}
		default:
			return &ChainError{Seq: s, Reason: ReasonDecode, Err: err}
		}
	}
}

// Close lets the writer commit every Append already accepted, stops it and,
// if the Journal opened the file, closes the DB. Append returns ErrClosed
// afterwards. Close is safe to call more than once.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		wasClosed := j.closed
		j.closed = true
		j.mu.Unlock()
		if !wasClosed {
			close(j.reqs)
			<-j.done
			j.log.Info().Uint64("last_seq", j.lastSeq).Msg("journal closed")
		}
		j.arch.closeAll()
		if j.ownsDB {
			j.closeErr = j.db.close()
		}
		unlockFile(j.lock)
	})
	return j.closeErr
}

// DB returns the data file, for callers that keep their own buckets in
// it.
func (j *Journal) DB() *DB { return j.db }

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// orderPrefix is the index key prefix for one order id: a 2-byte big-endian
// length then the id, so that no id's prefix is another id's prefix.
func orderPrefix(dst []byte, orderID string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(orderID)))
	return append(dst, orderID...)
}

func orderKey(dst []byte, orderID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(orderPrefix(dst, orderID), seq)
}

// parseOrderKey splits an index key into order id and seq.
func parseOrderKey(k []byte) (string, uint64, bool) {
	if len(k) < 2+8 {
		return "", 0, false
	}
	n := int(binary.BigEndian.Uint16(k))
	if len(k) != 2+n+8 {
		return "", 0, false
	}
	return string(k[2 : 2+n]), binary.BigEndian.Uint64(k[2+n:]), true
}
