package threeds

import (
	"fmt"
	"strings"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

// decodeResult reads an ARes or RRes (messageType want) and turns it into
// an Outcome. emv3ds.ParseResult checks it first, so that nothing
// malformed reaches an ISO message or a browser: every value is short
// printable ASCII, a Y or A carries an ECI and a 20-byte CAVV, a C carries
// an http(s) acsURL and an acsTransID. It never returns a CAVV with any
// other status. The errors quote no values.
func decodeResult(body []byte, want string) (emv3ds.Result, Outcome, error) {
	r, err := emv3ds.ParseResult(body, want)
	if err != nil {
		return r, Outcome{}, fmt.Errorf("%w: %s: %w", ErrBadResponse, want, err)
	}
	o := Outcome{
		Status:    Status(r.TransStatus),
		Reason:    r.TransStatusReason,
		TransID:   r.ThreeDSServerTransID,
		ECI:       r.ECI,
		DSTransID: r.DSTransID,
		Version:   r.MessageVersion,
	}
	switch o.Status {
	case Authenticated, Attempted:
		o.CAVV = r.AuthenticationValue
	case ChallengeRequired:
		// An ECI means nothing yet: the result after the challenge brings it.
		o.ECI = ""
		o.ChallengeURL = r.ACSURL
	}
	// A CAVV with a failure (N, U, R) means nothing and is dropped.
	return r, o, nil
}

func decodeErro(body []byte, status int) *DSError {
	e, err := emv3ds.ParseErro(body)
	if err != nil {
		return &DSError{HTTPStatus: status, Description: "no Erro message"}
	}
	return &DSError{
		HTTPStatus:  status,
		Code:        clip(e.ErrorCode, 8),
		Component:   clip(e.ErrorComponent, 4),
		Description: redactDigits(clip(e.ErrorDescription, 200)),
		Detail:      redactDigits(clip(e.ErrorDetail, 64)),
	}
}

// redactDigits replaces every run of 12 or more digits with stars: an error
// text from outside could quote a PAN, and errors end up in logs.
func redactDigits(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 12 {
			b.WriteString(strings.Repeat("*", run))
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}

// clip keeps at most n bytes of printable ASCII, so nothing from outside
// can put control characters into a log line.
func clip(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}
