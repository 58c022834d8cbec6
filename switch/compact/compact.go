// Package compact stores the switch's small records (journal payloads,
// mostly JSON of orders, merchants' requests and ISO 8583 records)
// compressed with S2 against a dictionary built into the binary.
//
// A record of a few hundred bytes compresses poorly on its own: its keys
// and shapes are in no earlier bytes of the same record. Against a
// dictionary of the same kinds of records it shrinks to about a third,
// at a microsecond or two a record.
//
// A stored record begins with its codec byte, so every reader knows how
// it was written. A dictionary, once shipped, is never changed or
// removed: records written with it are read back with it for as long as
// the journal and its archives are kept. A better dictionary is added
// under a new codec byte (TestDictionariesUnchanged pins the shipped
// ones).
//
// It also owns the packed form of the switch's ids (uuid.go), which the
// journal's entries, the order indexes' keys and the payments core's
// recent-exchange window keep in 16 bytes instead of 36.
package compact

import (
	_ "embed"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Codec bytes: the first byte of a stored record.
const (
	// Raw: the record follows as is.
	Raw byte = 0
	// S2Dict1: an S2 block against dictionary 1 (dict1.txt).
	S2Dict1 byte = 1
)

// dict1.txt is journal payloads of a `tulpar bench --self` run (orders'
// state, merchants' requests and answers, ISO records of both simulated
// banks, 3-D Secure steps; test cards only), the most frequent kinds
// last, where S2's shortest back-references reach (made by mkdict).
//
//go:embed dict1.txt
var dict1Data []byte

var dict1 = s2.MakeDictManual(dict1Data, 0)

// minCompress is the size below which a record is kept raw: S2 cannot win
// enough on it to pay for the call.
const minCompress = 32

// Append appends src's stored form to dst: the codec byte and the record,
// compressed when that makes it smaller. Safe for concurrent use.
func Append(dst, src []byte) []byte {
	if len(src) >= minCompress {
		start := len(dst)
		dst = append(dst, S2Dict1)
		n := s2.MaxEncodedLen(len(src))
		if n > 0 {
			dst = growTo(dst, len(dst)+n)
			enc := dict1.Encode(dst[len(dst):len(dst)+n], src)
			if len(enc) < len(src) {
				return dst[:len(dst)+len(enc)]
			}
		}
		dst = dst[:start]
	}
	dst = append(dst, Raw)
	return append(dst, src...)
}

// growTo returns dst with capacity for n bytes and its length unchanged.
func growTo(dst []byte, n int) []byte {
	if cap(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), n+n/4)
	copy(grown, dst)
	return grown
}

// ErrCorrupt is returned for a stored record that does not decode.
var ErrCorrupt = errors.New("compact: corrupt record")

// Decode returns the record stored in src, in dst's memory when it fits
// (for Raw, a subslice of src). A record that would decode to more than
// limit bytes is refused before any is allocated.
func Decode(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: no codec byte", ErrCorrupt)
	}
	body := src[1:]
	switch src[0] {
	case Raw:
		if len(body) > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCorrupt, len(body), limit)
		}
		return body, nil
	case S2Dict1:
		n, err := s2.DecodedLen(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if n > limit {
			return nil, fmt.Errorf("%w: decodes to %d bytes, limit %d", ErrCorrupt, n, limit)
		}
		out, err := dict1.Decode(dst[:0], body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown codec %d", ErrCorrupt, src[0])
}
