package links

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/moov-io/iso8583"
	moovErrors "github.com/moov-io/iso8583/errors"

	"github.com/tulpar-switch/tulpar/specs"
)

// Why a frame from the bank was refused: the reason label of
// tulpar_link_frame_errors_total and the reason of the warning logged.
const (
	// FrameHeaderNotNumeric: the length header is not a number (an ASCII
	// header with a non-digit, a BCD header with a nibble above 9).
	FrameHeaderNotNumeric = "header_not_numeric"
	// FrameLengthOutOfRange: the header says more than the dialect allows
	// (iso.MaxMessageLen).
	FrameLengthOutOfRange = "length_out_of_range"
	// FrameTruncated: the header came, the rest of the frame did not
	// follow within write_timeout.
	FrameTruncated = "truncated"
	// FrameUnparseable: a whole frame that is no message in the dialect.
	FrameUnparseable = "unparseable"
)

var frameReasons = []string{FrameHeaderNotNumeric, FrameLengthOutOfRange, FrameTruncated, FrameUnparseable}

// errBadFrame is the connection's end after a frame error. It is not
// moov's UnpackError, so moov's read loop stops and fails the connection.
var errBadFrame = errors.New("bad frame from the bank")

// headerLen is the size of a dialect's length header.
func headerLen(kind string) (int, error) {
	switch kind {
	case specs.HeaderASCII4:
		return 4, nil
	case specs.HeaderBinary2, specs.HeaderBCD2:
		return 2, nil
	}
	return 0, fmt.Errorf("unknown length header %q", kind)
}

// msgReader reads one framed message from a connection. Unlike moov's
// default it survives a panicking unpack (hostile bytes must not take the
// switch down), keeps raw bytes out of errors and logs (they may hold a
// PAN), and treats a zero length header as a keep-alive.
//
// Anything else that is not a well-formed frame drops the connection at
// once: after a bad header Tulpar cannot know where the next message
// starts, and a frame it cannot parse may be the answer a caller waits
// for, which only a new connection (and the caller's ErrNoReply) puts
// right. The link is not ready until it has signed on again.
type msgReader struct{ c *conn }

func (r msgReader) ReadMessage(rd io.Reader) (*iso8583.Message, error) {
	c := r.c
	l := c.l
	h := make([]byte, l.hdrLen)
	if _, err := io.ReadFull(rd, h); err != nil {
		return nil, err // the socket's own end: EOF, reset, closed
	}
	kind := l.codec.Dialect().LengthHeader
	if zeroHeader(kind, h) {
		return nil, nil
	}
	n, err := l.codec.ReadLength(bytes.NewReader(h))
	if err != nil {
		reason := FrameLengthOutOfRange
		if !numericHeader(kind, h) {
			reason = FrameHeaderNotNumeric
		}
		return nil, c.frameError(reason, h, 0, nil)
	}
	buf := make([]byte, n)
	// A host writes a frame whole: a body that does not follow its header
	// promptly is a header that lied about the length, and waiting for it
	// would swallow the next messages (echo answers included) into it.
	_ = c.nc.SetReadDeadline(time.Now().Add(l.cfg.WriteTimeout))
	_, err = io.ReadFull(rd, buf)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, c.frameError(FrameTruncated, h, n, nil)
		}
		return nil, fmt.Errorf("reading %d-byte message: %w", n, err)
	}
	im := iso8583.NewMessage(l.codec.Spec())
	if err := safeUnpack(im, buf); err != nil {
		return nil, c.frameError(FrameUnparseable, h, n, err)
	}
	return im, nil
}

// frameError counts and logs a bad frame and returns the error that ends
// the connection. The log names the link, the reason, the header (a
// length, never message content) and, for an unparseable frame, the first
// field that failed; never the frame's bytes.
func (c *conn) frameError(reason string, header []byte, n int, cause error) error {
	l := c.l
	l.frameErrs.Add(1)
	l.met.frameErrors[reason].Inc()
	ev := l.log.Warn().Str("remote", c.remote).Str("reason", reason).Hex("header", header)
	if n > 0 {
		ev = ev.Int("length", n)
	}
	var ue *moovErrors.UnpackError
	if errors.As(cause, &ue) {
		if ids := ue.FieldIDs(); len(ids) > 0 {
			ev = ev.Str("field", strings.Join(ids, "."))
		}
	}
	ev.Msg("bad frame from the bank: dropping the connection")
	return fmt.Errorf("%w: %s", errBadFrame, reason)
}

// zeroHeader reports a length header of zero: a keep-alive some hosts
// send between messages.
func zeroHeader(kind string, h []byte) bool {
	if kind == specs.HeaderASCII4 {
		return string(h) == "0000"
	}
	return len(h) == 2 && h[0] == 0 && h[1] == 0
}

// numericHeader reports whether a header is a number in its kind,
// whatever its value.
func numericHeader(kind string, h []byte) bool {
	switch kind {
	case specs.HeaderASCII4:
		for _, b := range h {
			if b < '0' || b > '9' {
				return false
			}
		}
	case specs.HeaderBCD2:
		for _, b := range h {
			if b>>4 > 9 || b&0x0F > 9 {
				return false
			}
		}
	}
	return true
}

func safeUnpack(im *iso8583.Message, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("unpack panicked")
		}
	}()
	return im.Unpack(b)
}
