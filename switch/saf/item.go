package saf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Limits on the fields of an Item. EnqueueTx refuses items beyond them and
// the decoder refuses stored bytes beyond them, so a damaged file cannot make
// the queue allocate without bound.
const (
	MaxQueueLen   = 255
	MaxOrderIDLen = 255
	MaxKindLen    = 64
	MaxPayloadLen = 64 << 10 // an ISO 8583 advice is a few hundred bytes
	// MaxLastErrorLen bounds the stored LastError; longer texts are cut.
	MaxLastErrorLen = 1024
)

// Item is one queued message. The queue never looks inside Payload: the
// caller stores bytes it can turn back into the ISO message and that are
// already protected (the PAN encrypted or tokenised, never clear card data),
// because the item sits on disk until the bank acknowledges it.
//
// ID, Attempts, NextAttemptAt and LastError belong to the queue: EnqueueTx
// sets them and ignores what the caller put there.
type Item struct {
	ID      uint64 // unique in the file, assigned by EnqueueTx, kept by Retry
	Queue   string // the bank (link) that must receive the message; one FIFO per queue
	OrderID string
	Kind    string
	Payload []byte

	// Attempts counts delivery attempts started, including the one in
	// progress: the Item a Deliverer receives has Attempts >= 1. It is
	// stored before Deliver is called, so an attempt cut short by a crash
	// still counts and the next one is a repeat.
	Attempts      int
	EnqueuedAt    time.Time
	NextAttemptAt time.Time // zero: due now
	LastError     string    // the Deliverer's last error, for operators
}

const itemVersion = 1

var errCorrupt = errors.New("saf: corrupt item")

// encodeItem appends the stored form of it to dst:
//
//	0x01                    format version
//	uvarint  ID
//	uvarint  n, n bytes     Queue
//	uvarint  n, n bytes     OrderID
//	uvarint  n, n bytes     Kind
//	uvarint  Attempts
//	varint   EnqueuedAt     Unix nanoseconds; 0 for the zero time
//	varint   NextAttemptAt  Unix nanoseconds; 0 for the zero time
//	uvarint  n, n bytes     LastError
//	uvarint  n, n bytes     Payload
func encodeItem(dst []byte, it *Item) []byte {
	dst = append(dst, itemVersion)
	dst = binary.AppendUvarint(dst, it.ID)
	dst = appendBytes(dst, []byte(it.Queue))
	dst = appendBytes(dst, []byte(it.OrderID))
	dst = appendBytes(dst, []byte(it.Kind))
	dst = binary.AppendUvarint(dst, uint64(it.Attempts))
	dst = binary.AppendVarint(dst, unixNano(it.EnqueuedAt))
	dst = binary.AppendVarint(dst, unixNano(it.NextAttemptAt))
	dst = appendBytes(dst, []byte(it.LastError))
	dst = appendBytes(dst, it.Payload)
	return dst
}

// decodeItem parses bytes read from disk. It copies everything it keeps,
// since bbolt's memory is valid only inside the transaction.
func decodeItem(b []byte) (Item, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != itemVersion {
		return Item{}, fmt.Errorf("%w: format version %d, want %d", errCorrupt, v, itemVersion)
	}
	var it Item
	it.ID = d.uvarint()
	it.Queue = string(d.bytes(MaxQueueLen, "queue"))
	it.OrderID = string(d.bytes(MaxOrderIDLen, "order id"))
	it.Kind = string(d.bytes(MaxKindLen, "kind"))
	if n := d.uvarint(); n > 1<<31-1 {
		d.fail("attempts %d out of range", n)
	} else {
		it.Attempts = int(n)
	}
	it.EnqueuedAt = fromUnixNano(d.varint())
	it.NextAttemptAt = fromUnixNano(d.varint())
	it.LastError = string(d.bytes(MaxLastErrorLen, "last error"))
	if p := d.bytes(MaxPayloadLen, "payload"); len(p) > 0 {
		it.Payload = append([]byte(nil), p...)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Item{}, d.err
	}
	if it.Queue == "" {
		return Item{}, fmt.Errorf("%w: empty bank", errCorrupt)
	}
	return it, nil
}

// itemStamp reads an item's queue and EnqueuedAt (Unix nanoseconds, 0 for
// none) without decoding the rest or copying anything: Stats reads every
// item of a queue that may be deep, on every metrics scrape.
func itemStamp(b []byte) (queue []byte, enqueuedAt int64, err error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != itemVersion {
		return nil, 0, fmt.Errorf("%w: format version %d, want %d", errCorrupt, v, itemVersion)
	}
	d.uvarint() // ID
	queue = d.bytes(MaxQueueLen, "queue")
	d.bytes(MaxOrderIDLen, "order id")
	d.bytes(MaxKindLen, "kind")
	d.uvarint() // Attempts
	enqueuedAt = d.varint()
	if d.err != nil {
		return nil, 0, d.err
	}
	if len(queue) == 0 {
		return nil, 0, fmt.Errorf("%w: empty bank", errCorrupt)
	}
	return queue, enqueuedAt, nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// unixNano maps the zero time to 0: time.Time{}.UnixNano is undefined, and
// no real item is stamped at the Unix epoch.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decoder reads fields in order and remembers the first error, so
// decodeItem reads as the format does.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a length-prefixed field without copying.
func (d *decoder) bytes(max int, what string) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail("%s length %d exceeds %d", what, n, max)
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s truncated", what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// validate checks what the caller supplies to EnqueueTx.
func (it *Item) validate() error {
	switch {
	case it.Queue == "":
		return errors.New("saf: item: empty bank")
	case len(it.Queue) > MaxQueueLen:
		return fmt.Errorf("saf: item: bank name of %d bytes exceeds %d", len(it.Queue), MaxQueueLen)
	case len(it.OrderID) > MaxOrderIDLen:
		return fmt.Errorf("saf: item: order id of %d bytes exceeds %d", len(it.OrderID), MaxOrderIDLen)
	case it.Kind == "":
		return errors.New("saf: item: empty kind")
	case len(it.Kind) > MaxKindLen:
		return fmt.Errorf("saf: item: kind of %d bytes exceeds %d", len(it.Kind), MaxKindLen)
	case len(it.Payload) > MaxPayloadLen:
		return fmt.Errorf("saf: item: payload of %d bytes exceeds %d", len(it.Payload), MaxPayloadLen)
	}
	return nil
}

// truncateError cuts s to MaxLastErrorLen bytes without splitting a UTF-8
// sequence.
func truncateError(s string) string {
	if len(s) <= MaxLastErrorLen {
		return s
	}
	cut := MaxLastErrorLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
