package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/tulpar-switch/tulpar/switch/compact"
)

// HashSize is the length of an entry hash and of the previous-entry hash it
// carries (SHA-256).
const HashSize = sha256.Size

// formatVersion is the first byte of an entry's canonical encoding
// (EncodeEntry), the bytes its hash covers, and of the values the journal
// stored before it compressed payloads. A reader that meets a version it
// does not know must stop rather than guess.
const formatVersion = 1

// compressedVersion is the first byte of the values the journal stored
// from compressed payloads on: the canonical encoding with the payload in
// its compact form (a codec byte, then the payload, compressed when that
// is smaller). The hash is still the canonical encoding's, so the chain
// does not depend on how a payload was compressed: two compressors (or
// two versions of one) store different bytes for the same entry, with the
// same hash.
const compressedVersion = 2

// packedIDVersion is the first byte of the values the journal stored
// after compressedVersion: its layout, and an order id in the form the
// switch makes (a UUID's 36 characters, lower-case) stored as its 16
// bytes, flagged by uuidFlag in the direction byte. Nine entries in ten
// name an order: 20 bytes each, 200 an operation.
const packedIDVersion = 3

// storedVersion is the first byte of the values the journal stores now:
// packedIDVersion's without the two fields the file already holds, the
// seq (the value's key) and the previous entry's hash (the last 32 bytes
// of the value before, or the file's base record for its first entry).
// The hash is computed over them all the same, so an entry still cannot
// be changed, moved or taken out without breaking it or the next one; a
// reader of one entry hashes on from its predecessor's stored hash, or
// from the last one stored before it (unhashedVersion).
const storedVersion = 4

// unhashedVersion is the first byte of a value stored without its hash:
// storedVersion's layout without the last 32 bytes. A commit round keeps
// the hash of its last entry and of every hashEvery-th seq; the entries
// between carry none, since each one's hash follows from its
// predecessor's and the next stored hash (or the head record, which holds
// the last entry's) covers them all. That is 32 bytes off nine entries in
// ten at the switch's usual rounds of a dozen. A reader of one of them
// hashes back from the stored hash before it and on to the one after
// (chainReader).
const unhashedVersion = 5

// hashEvery bounds how many entries a reader of one entry hashes: within
// a long round, every entry whose seq is a multiple of it stores its hash.
const hashEvery = 16

// uuidFlag marks, in a packedIDVersion, storedVersion or unhashedVersion
// value's direction byte, an order id stored as a UUID's 16 bytes.
const uuidFlag = 0x80

// maxStoredPayload bounds what a stored payload may decompress to: far
// over any Options.MaxPayloadSize a switch runs with, and small enough
// that a damaged length cannot make a reader allocate without end.
const maxStoredPayload = 64 << 20

// Field limits. The encoder refuses entries beyond them and the decoder refuses
// values beyond them, so that "decodes without error" means "is an entry the
// journal could have written".
const (
	// MaxChannelLen bounds Entry.Channel: "api", "3ds", "callback", "state"
	// or a bank link name.
	MaxChannelLen = 64
	// MaxFieldLen bounds Entry.OrderID, MTI, STAN and RRN.
	MaxFieldLen = 255
)

// Direction says whether a message came into the switch or left it.
type Direction uint8

const (
	// In is a message received: a merchant's request, a bank's reply, a
	// callback's answer.
	In Direction = 1
	// Out is a message sent.
	Out Direction = 2
	// Internal is an event that crossed no wire: an order's state change.
	Internal Direction = 3
)

// String returns "in", "out" or "internal".
func (d Direction) String() string {
	switch d {
	case In:
		return "in"
	case Out:
		return "out"
	case Internal:
		return "internal"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

func (d Direction) valid() bool { return d >= In && d <= Internal }

// Entry is one journaled message or event.
//
// Callers fill Time (zero means "now"), Direction, Channel, OrderID, MTI,
// STAN, RRN and Payload. The journal assigns Seq and PrevHash when it commits
// the entry and computes Hash; whatever a caller puts in those three fields is
// ignored.
//
// Payload must already be protected: PAN encrypted or tokenised, CVV2 and
// CAVV removed. The journal never looks inside it.
type Entry struct {
	Seq       uint64
	Time      time.Time // stored as Unix nanoseconds; read back in UTC
	Direction Direction
	Channel   string
	OrderID   string
	MTI       string
	STAN      string
	RRN       string
	Payload   []byte
	PrevHash  [HashSize]byte // Hash of entry Seq-1; zero for entry 1
	Hash      [HashSize]byte // SHA-256 of this entry's canonical encoding (EncodeEntry) without the hash

	// packed is Payload's compact form (compact.Append), made by the
	// caller's goroutine in AppendTx so the writer only copies it.
	packed []byte
}

// Errors returned by DecodeEntry. Verify reports them inside a *ChainError.
var (
	// ErrMalformed means the bytes are not a well-formed entry value.
	ErrMalformed = errors.New("journal: malformed entry")
	// ErrHashMismatch means the entry's stored hash is not the SHA-256 of its
	// body: the entry was edited after it was written.
	ErrHashMismatch = errors.New("journal: entry hash mismatch")
)

// validate checks what a caller hands to Append, before the entry reaches the
// writer, so that one bad entry cannot fail a whole group commit.
func (e *Entry) validate(maxPayload int) error {
	switch {
	case !e.Direction.valid():
		return fmt.Errorf("journal: entry direction %d: want In, Out or Internal", e.Direction)
	case e.Channel == "":
		return errors.New("journal: entry channel is empty")
	case len(e.Channel) > MaxChannelLen:
		return fmt.Errorf("journal: entry channel is %d bytes, limit %d", len(e.Channel), MaxChannelLen)
	case len(e.OrderID) > MaxFieldLen:
		return fmt.Errorf("journal: entry order id is %d bytes, limit %d", len(e.OrderID), MaxFieldLen)
	case len(e.MTI) > MaxFieldLen, len(e.STAN) > MaxFieldLen, len(e.RRN) > MaxFieldLen:
		return fmt.Errorf("journal: entry MTI, STAN or RRN longer than %d bytes", MaxFieldLen)
	case len(e.Payload) > maxPayload:
		return fmt.Errorf("journal: entry payload is %d bytes, limit %d", len(e.Payload), maxPayload)
	}
	// UnixNano is undefined outside 1678..2262; refuse rather than store a
	// time that reads back different.
	if n := e.Time.UnixNano(); !time.Unix(0, n).Equal(e.Time) {
		return fmt.Errorf("journal: entry time %s cannot be stored as Unix nanoseconds", e.Time)
	}
	return nil
}

// appendEntry appends the value encoding of e to dst, using e.Seq and
// e.PrevHash as given, and returns the extended slice and the entry's hash.
// The encoding is canonical: one entry has exactly one encoding.
func appendEntry(dst []byte, e *Entry) ([]byte, [HashSize]byte) {
	start := len(dst)
	dst = append(dst, formatVersion)
	dst = appendHeader(dst, e)
	dst = appendBytes(dst, e.Payload)
	dst = append(dst, e.PrevHash[:]...)
	h := sha256.Sum256(dst[start:])
	return append(dst, h[:]...), h
}

// appendStored appends the value the journal stores for e (storedVersion,
// or unhashedVersion without withHash) and returns the extended slice and
// the entry's hash, which is appendEntry's. e.packed must be
// compact.Append of e.Payload.
func appendStored(dst []byte, e *Entry, withHash bool) ([]byte, [HashSize]byte) {
	if withHash {
		dst = append(dst, storedVersion)
	} else {
		dst = append(dst, unhashedVersion)
	}
	dst = binary.AppendVarint(dst, e.Time.UnixNano())
	id, isUUID := compact.PackUUID(e.OrderID)
	if isUUID {
		dst = append(dst, byte(e.Direction)|uuidFlag)
		dst = appendBytes(dst, e.Channel)
		dst = append(dst, id[:]...)
	} else {
		dst = append(dst, byte(e.Direction))
		dst = appendBytes(dst, e.Channel)
		dst = appendBytes(dst, e.OrderID)
	}
	dst = appendBytes(dst, e.MTI)
	dst = appendBytes(dst, e.STAN)
	dst = appendBytes(dst, e.RRN)
	dst = appendBytes(dst, e.packed)
	h := canonicalHash(appendHeader(nil, e), e.Payload, e.PrevHash[:])
	if withHash {
		dst = append(dst, h[:]...)
	}
	return dst, h
}

// appendHeader appends the fields between the version byte and the
// payload, the same in both versions.
func appendHeader(dst []byte, e *Entry) []byte {
	dst = binary.AppendUvarint(dst, e.Seq)
	dst = binary.AppendVarint(dst, e.Time.UnixNano())
	dst = append(dst, byte(e.Direction))
	dst = appendBytes(dst, e.Channel)
	dst = appendBytes(dst, e.OrderID)
	dst = appendBytes(dst, e.MTI)
	dst = appendBytes(dst, e.STAN)
	return appendBytes(dst, e.RRN)
}

// canonicalHash is the SHA-256 of the canonical encoding whose header
// fields (after the version byte) are head, without writing it out.
func canonicalHash(head, payload, prev []byte) [HashSize]byte {
	h := sha256.New()
	var n [1 + binary.MaxVarintLen64]byte
	n[0] = formatVersion
	h.Write(n[:1])
	h.Write(head)
	h.Write(binary.AppendUvarint(n[:0], uint64(len(payload))))
	h.Write(payload)
	h.Write(prev)
	var sum [HashSize]byte
	h.Sum(sum[:0])
	return sum
}

func appendBytes[T string | []byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// EncodeEntry returns the value the journal stores for e, with e.Seq and
// e.PrevHash taken as given, and the entry's hash. Auditors' tools use it to
// re-create an entry; the journal itself assigns Seq and PrevHash.
func EncodeEntry(e Entry) ([]byte, [HashSize]byte) {
	return appendEntry(nil, &e)
}

// DecodeEntry parses one stored entry value and checks its hash. The
// returned Entry owns its memory: it does not alias b. A structural
// problem returns an error wrapping ErrMalformed; an edited entry returns
// one wrapping ErrHashMismatch together with the decoded entry. A value
// of the current version does not carry its seq and its predecessor's
// hash: DecodeEntry returns its other fields with ErrUnchained, and
// DecodeStored reads it whole.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	err := decodeEntry(b, 0, nil, &e, true)
	return e, err
}

// DecodeStored parses the value stored under seq, whose predecessor's
// hash is prev (the last HashSize bytes of the value stored under seq-1
// when that value stores its hash, else the hash DecodeStored computed
// for it; the file's base record's hash for its first entry), and checks its
// hash, as DecodeEntry does. Values of earlier versions carry their own
// seq and previous hash, and seq and prev are not used for them. A value
// stored without its hash (most entries inside a commit round) cannot be
// checked alone: DecodeStored returns it with the hash computed from prev
// and ErrUnconfirmed; the next value that stores a hash, or the head
// record, confirms it, which the journal's readers and Verify check.
func DecodeStored(seq uint64, prev [HashSize]byte, b []byte) (Entry, error) {
	var e Entry
	err := decodeEntry(b, seq, &prev, &e, true)
	return e, err
}

// ErrUnchained is DecodeEntry's answer for a value of the current
// version: its fields are decoded, its hash not checked (DecodeStored).
var ErrUnchained = errors.New("journal: entry decoded without its seq and predecessor's hash (DecodeStored checks it)")

// ErrUnconfirmed is DecodeStored's answer for a value stored without its
// hash: every field is decoded and Hash computed from the predecessor's;
// a later stored hash confirms it.
var ErrUnconfirmed = errors.New("journal: entry stored without its hash; the next stored hash confirms it")

// decodeEntry parses b, stored under seq after an entry whose hash is
// *prev (nil: not known), into e. With own false, e.Payload and the string
// fields alias b: the caller must not keep e past b's lifetime (a bbolt
// transaction's), nor modify b while using e.
func decodeEntry(b []byte, seq uint64, prevHash *[HashSize]byte, e *Entry, own bool) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty value", ErrMalformed)
	}
	v := b[0]
	if v < formatVersion || v > unhashedVersion {
		return fmt.Errorf("%w: format version %d, want %d to %d", ErrMalformed, v, formatVersion, unhashedVersion)
	}
	hashed := v != unhashedVersion // the value ends with the entry's hash
	body := b
	if hashed {
		if len(b) < 1+HashSize {
			return fmt.Errorf("%w: %d bytes, shorter than any entry", ErrMalformed, len(b))
		}
		body = b[:len(b)-HashSize]
	}
	d := decoder{b: body[1:]}
	chained := v >= storedVersion // seq and prev hash are not in the value
	if chained {
		e.Seq = seq
	} else {
		e.Seq = d.uvarint("seq")
	}
	nanos := d.varint("time")
	dir := d.byte()
	packed := v >= packedIDVersion && dir&uuidFlag != 0
	if packed {
		dir &^= uuidFlag
	}
	e.Direction = Direction(dir)
	str := func(b []byte) string {
		if own {
			return string(b)
		}
		// Verify decodes millions of entries and keeps none of them; the
		// caller promises not to keep e past b's lifetime.
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	e.Channel = str(d.bytes("channel", MaxChannelLen))
	if packed {
		if id := d.fixed("order id", 16); id != nil {
			e.OrderID = string(compact.AppendUUIDText(make([]byte, 0, 36), id))
		}
	} else {
		e.OrderID = str(d.bytes("order id", MaxFieldLen))
	}
	e.MTI = str(d.bytes("MTI", MaxFieldLen))
	e.STAN = str(d.bytes("STAN", MaxFieldLen))
	e.RRN = str(d.bytes("RRN", MaxFieldLen))
	head := body[1 : len(body)-len(d.b)]
	payload := d.bytes("payload", len(b))
	var prev []byte
	if chained {
		if prevHash != nil {
			prev = prevHash[:]
		}
	} else {
		prev = d.fixed("prev hash", HashSize)
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d unexpected bytes before the hash", ErrMalformed, len(d.b))
	}
	if !e.Direction.valid() {
		return fmt.Errorf("%w: direction %d", ErrMalformed, e.Direction)
	}
	if e.Channel == "" {
		return fmt.Errorf("%w: empty channel", ErrMalformed)
	}
	e.Time = time.Unix(0, nanos).UTC()
	if packed || chained {
		// The canonical header the hash covers, in one allocation.
		n := 1 + 3*binary.MaxVarintLen64 + 5*2 + len(e.Channel) + len(e.OrderID) + len(e.MTI) + len(e.STAN) + len(e.RRN)
		head = appendHeader(make([]byte, 0, n), e)
	}
	copy(e.PrevHash[:], prev)
	e.Hash = [HashSize]byte{}
	copy(e.Hash[:], b[len(body):])
	if v != formatVersion {
		raw, err := compact.Decode(nil, payload, maxStoredPayload)
		if err != nil {
			return fmt.Errorf("%w: payload: %w", ErrMalformed, err)
		}
		if own && payload[0] == compact.Raw {
			raw = append([]byte(nil), raw...)
		}
		e.Payload = raw
		if prev == nil {
			return ErrUnchained
		}
		h := canonicalHash(head, raw, prev)
		if !hashed {
			e.Hash = h
			return ErrUnconfirmed
		}
		if h != e.Hash {
			return ErrHashMismatch
		}
		return nil
	}
	if own {
		e.Payload = append([]byte(nil), payload...)
	} else {
		e.Payload = payload
	}
	if sha256.Sum256(body) != e.Hash {
		return ErrHashMismatch
	}
	return nil
}

// decoder reads the value format strictly: varints must be minimal, so that
// the encoding stays canonical and a decoded entry re-encodes to the same
// bytes. The first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("%s: bad varint", what)
		return 0
	}
	if n != uvarintLen(v) {
		d.fail("%s: non-minimal varint", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	// Undo the zig-zag of binary.AppendVarint.
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) bytes(what string, limit int) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.fail("%s: length %d over limit %d", what, n, limit)
		return nil
	}
	return d.fixed(what, int(n))
}

func (d *decoder) fixed(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("%s: truncated", what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
