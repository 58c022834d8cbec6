package iso

import (
	"fmt"

	"github.com/moov-io/iso8583"
)

// MatchKey is the key that pairs a response with its request: the MTI's
// class and request/response pair, DE11, and the terminal (DE41) or, for
// network management, the acquirer (DE32). Matching on STAN alone would
// hand a 0410 to the caller waiting for an 0110 with the same STAN.
func MatchKey(m *Message) string {
	return matchKey(m.MTI, m.STAN, m.TerminalID, m.AcquirerID)
}

func matchKey(mti, stan, tid, acq string) string {
	// A host pads DE41 with spaces; an acquirer may not: compare trimmed.
	for len(tid) > 0 && tid[len(tid)-1] == ' ' {
		tid = tid[:len(tid)-1]
	}
	return matchClass(mti) + "|" + stan + "|" + tid + "|" + acq
}

// MoovMatchKey computes MatchKey on a moov message. It satisfies the
// request-id generator of moov-io/iso8583-connection.
func MoovMatchKey(im *iso8583.Message) (string, error) {
	mti, err := im.GetMTI()
	if err != nil || !validMTI(mti) {
		return "", fmt.Errorf("iso: match key: MTI: must be 4 digits")
	}
	get := func(id int) string {
		f := im.GetField(id)
		if f == nil {
			return ""
		}
		s, _ := f.String()
		return s
	}
	stan := get(11)
	if stan == "" {
		return "", fmt.Errorf("iso: match key: DE11: required to match %s", mti)
	}
	return matchKey(mti, stan, get(41), get(32)), nil
}

// MatchKeyGenerator adapts MoovMatchKey to iso8583-connection's
// RequestIDGenerator interface.
type MatchKeyGenerator struct{}

// GenerateRequestID implements connection.RequestIDGenerator.
func (MatchKeyGenerator) GenerateRequestID(im *iso8583.Message) (string, error) {
	return MoovMatchKey(im)
}
