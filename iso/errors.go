package iso

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	moovErrors "github.com/moov-io/iso8583/errors"
)

// FieldError says which data element was wrong and why. It never carries
// the field's value: the value may be a PAN.
type FieldError struct {
	Field  int    // data element number; 0 is the MTI, 1 the bitmap, -1 the length header
	Sub    string // subfield tag, when the error is inside a composite field
	Reason string
}

func (e *FieldError) Error() string {
	switch {
	case e.Field < 0:
		return "length header: " + e.Reason
	case e.Field == 0:
		return "MTI: " + e.Reason
	case e.Field == 1:
		return "bitmap: " + e.Reason
	case e.Sub != "":
		return fmt.Sprintf("DE%d.%s: %s", e.Field, e.Sub, e.Reason)
	}
	return fmt.Sprintf("DE%d: %s", e.Field, e.Reason)
}

// ErrUnpack is wrapped by every error returned for bytes that are not a
// valid message in the dialect.
var ErrUnpack = errors.New("iso: cannot unpack message")

// UnpackError is a safe replacement for moov's UnpackError, which keeps the
// raw bytes (and so the PAN) and whose text may quote field data.
type UnpackError struct {
	FieldError
}

func (e *UnpackError) Error() string { return "iso: unpack: " + e.FieldError.Error() }
func (e *UnpackError) Unwrap() error { return ErrUnpack }

// longDigits matches what could be a PAN or track data in a library error.
var longDigits = regexp.MustCompile(`[0-9]{10,}|[0-9A-Fa-f]{20,}`)

// scrub removes anything that looks like card data from a library message.
func scrub(s string) string {
	return longDigits.ReplaceAllString(s, "[redacted]")
}

// safeUnpackError turns any moov unpack error into an UnpackError naming
// the field, with the raw message dropped.
func safeUnpackError(err error) error {
	fe := FieldError{Field: 0, Reason: "malformed"}
	var ue *moovErrors.UnpackError
	if errors.As(err, &ue) {
		ids := ue.FieldIDs()
		if len(ids) > 0 {
			fmt.Sscanf(ids[0], "%d", &fe.Field)
		}
		if len(ids) > 1 {
			fe.Sub = ids[1]
		}
		// The innermost error says what was wrong (bad BCD, short data...).
		inner := ue.Err
		for {
			var next *moovErrors.UnpackError
			if !errors.As(inner, &next) || next == nil {
				break
			}
			inner = next.Err
		}
		fe.Reason = scrub(inner.Error())
	} else {
		fe.Reason = scrub(err.Error())
	}
	return &UnpackError{FieldError: fe}
}

var packFieldRe = regexp.MustCompile(`failed to pack field (\d+)`)

// safePackError names the field moov failed to pack, without its value.
func safePackError(err error) error {
	fe := &FieldError{Reason: scrub(err.Error())}
	if m := packFieldRe.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscanf(m[1], "%d", &fe.Field)
		// The reason after the field's description is the useful part.
		if i := strings.LastIndex(fe.Reason, ": "); i >= 0 {
			fe.Reason = fe.Reason[i+2:]
		}
	}
	return fe
}
