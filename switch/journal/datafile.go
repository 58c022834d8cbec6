package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"strings"
)

// DataFile is the name of the switch's one data file in its data
// directory: this journal, the order store and the store-and-forward queues
// share it so that they commit together (the package doc lists its
// buckets). The auditors' tools open the same name.
const DataFile = "tulpar.db"

// ErrDamaged matches every *DamagedError with errors.Is.
var ErrDamaged = errors.New("journal: data file damaged")

// DamagedError is Open's refusal of a data file it must not run on: empty,
// cut short, not a bbolt file, or holding a journal whose last entries or
// head record do not check out. Starting on such a file would either lose
// the money records silently (bbolt turns an empty file into a new, empty
// database) or crash (bbolt maps a truncated file and faults on the missing
// pages), so Open stops and says how to get out.
//
// Its message is one line: the path, what is wrong, and the way out.
type DamagedError struct {
	Path   string
	Reason string // what is wrong, for people; one line
	Err    error  // the underlying error (a *ChainError, bbolt's), if any
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("journal: data file %s is damaged: %s; restore it from a snapshot "+
		"(GET /admin/journal/snapshot) or a backup and check that copy with "+
		"'tulpar journal verify --copy FILE' before starting", e.Path, e.Reason)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDamaged) true for any *DamagedError.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

func damaged(path string, err error, format string, args ...any) *DamagedError {
	// The reason goes into a one-line message; bbolt's panics and wrapped
	// errors are not promised to be one line.
	reason := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	return &DamagedError{Path: path, Reason: reason, Err: err}
}

// bbolt's on-disk meta page (go.etcd.io/bbolt v1.5.0, internal/common:
// page.go, meta.go, types.go). A bbolt file starts with two meta pages, at
// page 0 and page 1; bbolt writes them alternately and trusts the valid one
// with the higher transaction id. Each is a 16-byte page header (id u64,
// flags u16, count u16, overflow u32) followed by the meta, all in the
// machine's byte order:
//
//	16 magic u32    0xED0CDAED
//	20 version u32  2
//	24 pageSize u32
//	28 flags u32
//	32 root bucket  root pgid u64, sequence u64
//	48 freelist     pgid u64
//	56 pgid u64     high-water mark: pages 0..pgid-1 are in use
//	64 txid u64
//	72 checksum u64 FNV-1a 64 of bytes 16..71
//
// The journal parses it only to refuse, before bbolt maps the file, what
// bbolt would otherwise accept quietly or fault on; bbolt stays the only
// code that reads the file's contents. bbolt marks a change of this layout
// with a new Version, and then every file is refused loudly, never misread;
// TestMetaMatchesBbolt holds the parser to the bbolt in go.mod.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	metaOffset     = 16 // the page header
	metaEnd        = metaOffset + 64
	metaSumEnd     = metaOffset + 56 // the checksum covers the meta before it
	boltMinPage    = 1024            // bbolt looks for meta page 1 at 1 KiB << i
	boltMaxPageExp = 14              // ... for i up to 14 (16 MiB pages)
)

// boltMeta is what checkFile needs of a meta page.
type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
	problem  string // why the page is not a valid meta; "" when it is
}

func parseMeta(b []byte) boltMeta {
	ne := binary.NativeEndian // bbolt writes the struct as it lies in memory
	m := boltMeta{
		pageSize: ne.Uint32(b[metaOffset+8:]),
		pgid:     ne.Uint64(b[metaOffset+40:]),
		txid:     ne.Uint64(b[metaOffset+48:]),
	}
	h := fnv.New64a()
	h.Write(b[metaOffset:metaSumEnd])
	switch {
	case ne.Uint32(b[metaOffset:]) != boltMagic:
		m.problem = "not a bbolt file (no bbolt magic number in its meta pages)"
	case ne.Uint32(b[metaOffset+4:]) != boltVersion:
		m.problem = fmt.Sprintf("bbolt format version %d, this build reads version %d", ne.Uint32(b[metaOffset+4:]), boltVersion)
	case ne.Uint64(b[metaSumEnd:]) != h.Sum64():
		m.problem = "its bbolt meta pages fail their checksums"
	case m.pageSize == 0: // only a forged page gets here; checkFile divides by it
		m.problem = "its bbolt meta page names a page size of 0"
	}
	return m
}

// CheckFile refuses, before bbolt opens it, an existing data file that
// bbolt would quietly reinitialise (empty) or read past its end (truncated:
// a page beyond the end of the mapped file is a SIGBUS, and one beyond the
// mapping is whatever memory lies there, garbage that need not fault). A
// missing file is a fresh install: Open creates it.
func CheckFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", path, err)
	}
	size := fi.Size()
	if size == 0 {
		return damaged(path, nil, "the file is empty (0 bytes); bbolt would start a new, empty journal in it")
	}

	readMeta := func(off int64) (boltMeta, bool) {
		var b [metaEnd]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return boltMeta{}, false
		}
		return parseMeta(b[:]), true
	}
	// Meta page 0 gives the page size and so the place of meta page 1. When
	// it is bad, look for page 1 where bbolt does (db.go,
	// getPageSizeFromSecondMeta): at every page size it supports.
	m0, ok0 := readMeta(0)
	var m1 boltMeta
	ok1 := false
	if ok0 && m0.problem == "" {
		m1, ok1 = readMeta(int64(m0.pageSize))
	} else {
		for i := 0; i <= boltMaxPageExp && !(ok1 && m1.problem == ""); i++ {
			m1, ok1 = readMeta(int64(boltMinPage) << i)
		}
	}

	// bbolt uses the valid meta with the higher txid, else the other valid one.
	var m boltMeta
	switch {
	case ok0 && m0.problem == "" && (!ok1 || m1.problem != "" || m0.txid >= m1.txid):
		m = m0
	case ok1 && m1.problem == "":
		m = m1
	case size < 2*int64(os.Getpagesize()):
		return damaged(path, nil, "the file is %d bytes, shorter than the two meta pages a bbolt file begins with", size)
	case ok0:
		return damaged(path, nil, "%s", m0.problem)
	default:
		return damaged(path, nil, "neither bbolt meta page can be read")
	}
	ps := int64(m.pageSize)
	if size < 2*ps {
		return damaged(path, nil, "the file is %d bytes, shorter than the two meta pages of %d bytes a bbolt file begins with", size, ps)
	}
	if m.pgid > uint64(size/ps) {
		return damaged(path, nil, "the file is truncated: %d bytes, but its bbolt meta page says it holds %d pages of %d bytes", size, m.pgid, ps)
	}
	return nil
}
