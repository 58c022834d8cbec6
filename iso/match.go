package iso

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moov-io/iso8583"
)

// MatchField names something a response must share with its request for
// the two to be paired. A link's match key is a list of them (the links
// config's match_key); DefaultMatch is the list when none is given.
//
// A request-id generator computes one key per message, on the request as
// it leaves and on the response as it arrives, without seeing the other.
// So a key part cannot be "DE32 when the response echoes it": the request
// does not know whether its response will. Fields come in two kinds:
//
//   - key fields (mti_class, stan, terminal, acquirer, rrn) are in the key
//     of both messages and must be equal, absent counting as empty: a
//     response that does not echo one never matches a request that
//     carried it;
//   - checked fields (acquirer_if_echoed) are not in the key; once a
//     response has found its request by key, they are compared when both
//     messages carry them (Matcher.Agree), so a host that does not echo
//     them still matches.
//
// DE7 is not offered: it is the time each message is transmitted, and a
// host that stamps its own in the response is right to. DE37 only as a
// key field, for a bank that is known to echo it: some hosts assign their
// own reference in the response.
type MatchField string

const (
	// MatchMTIClass is the MTI's class and request/response pair (0100
	// and 0110 share "10"; 0420, 0421 and 0430 share "41"): without it
	// a 0410 would answer the 0110's caller with the same STAN. Required.
	MatchMTIClass MatchField = "mti_class"
	// MatchSTAN is DE11. Required.
	MatchSTAN MatchField = "stan"
	// MatchTerminal is DE41 with trailing spaces trimmed (a host pads it,
	// an acquirer may not). Absent on network management: empty.
	MatchTerminal MatchField = "terminal"
	// MatchAcquirer is DE32 with leading zeros trimmed, as a key field:
	// only for a bank that echoes DE32 in every answer.
	MatchAcquirer MatchField = "acquirer"
	// MatchAcquirerIfEchoed is DE32, leading zeros trimmed, checked when
	// both the request and its response carry it.
	MatchAcquirerIfEchoed MatchField = "acquirer_if_echoed"
	// MatchRRN is DE37, as a key field: only for a bank that echoes it.
	MatchRRN MatchField = "rrn"
)

// DefaultMatch is the match key of a link that configures none: what
// every host echoes (MTI class, STAN, terminal), and DE32 checked when the
// response carries it, since many hosts do not echo it.
var DefaultMatch = []MatchField{MatchMTIClass, MatchSTAN, MatchTerminal, MatchAcquirerIfEchoed}

type matchPart struct {
	field   MatchField
	de      int
	checked bool // compared after the key matched, when both carry it
	norm    func(string) string
}

var matchParts = []matchPart{
	{field: MatchMTIClass, de: 0},
	{field: MatchSTAN, de: 11},
	{field: MatchTerminal, de: 41, norm: func(s string) string { return strings.TrimRight(s, " ") }},
	// A host may zero-pad DE32 to 11 digits.
	{field: MatchAcquirer, de: 32, norm: trimZeros},
	{field: MatchAcquirerIfEchoed, de: 32, norm: trimZeros, checked: true},
	{field: MatchRRN, de: 37},
}

// MatchFields lists every field a match key may name.
func MatchFields() []MatchField {
	out := make([]MatchField, len(matchParts))
	for i, p := range matchParts {
		out[i] = p.field
	}
	return out
}

// MatchFieldError says what is wrong with a match key list. Index is the
// offending element, -1 when the list as a whole is wrong.
type MatchFieldError struct {
	Index  int
	Field  string
	Reason string
}

func (e *MatchFieldError) Error() string {
	if e.Index < 0 {
		return e.Reason
	}
	return fmt.Sprintf("[%d] %q: %s", e.Index, e.Field, e.Reason)
}

// ErrEchoMismatch is wrapped by Agree's error: the response found its
// request by key but echoes another value of a checked field.
var ErrEchoMismatch = errors.New("iso: response echoes another value than its request")

// Matcher pairs responses with requests on a list of MatchFields. It is
// safe for concurrent use.
type Matcher struct {
	fields  []MatchField
	key     []matchPart
	checked []matchPart
}

// NewMatcher returns a matcher on fields, DefaultMatch when fields is
// empty. The list must name mti_class and stan, each field once, and not
// both acquirer and acquirer_if_echoed.
func NewMatcher(fields []string) (*Matcher, error) {
	if len(fields) == 0 {
		fields = make([]string, len(DefaultMatch))
		for i, f := range DefaultMatch {
			fields[i] = string(f)
		}
	}
	m := &Matcher{}
	seen := map[MatchField]bool{}
	for i, name := range fields {
		f := MatchField(name)
		var part *matchPart
		for j := range matchParts {
			if matchParts[j].field == f {
				part = &matchParts[j]
			}
		}
		switch {
		case part == nil:
			return nil, &MatchFieldError{i, name, fmt.Sprintf("unknown (one of %s)", joinFields(MatchFields()))}
		case seen[f]:
			return nil, &MatchFieldError{i, name, "given twice"}
		case f == MatchAcquirer && seen[MatchAcquirerIfEchoed], f == MatchAcquirerIfEchoed && seen[MatchAcquirer]:
			return nil, &MatchFieldError{i, name, "only one of acquirer and acquirer_if_echoed"}
		}
		seen[f] = true
		m.fields = append(m.fields, f)
		if part.checked {
			m.checked = append(m.checked, *part)
		} else {
			m.key = append(m.key, *part)
		}
	}
	if !seen[MatchMTIClass] || !seen[MatchSTAN] {
		return nil, &MatchFieldError{-1, "", "must include mti_class and stan: without them a response can answer another request"}
	}
	return m, nil
}

func joinFields(fs []MatchField) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// Fields returns the matcher's fields in the order given.
func (m *Matcher) Fields() []MatchField { return append([]MatchField(nil), m.fields...) }

// String lists the fields, comma-separated, for logs.
func (m *Matcher) String() string { return joinFields(m.fields) }

// Key returns the match key of a request or a response: its key fields,
// in order. It fails on a message without a valid MTI or without DE11.
func (m *Matcher) Key(im *iso8583.Message) (string, error) {
	mti, err := im.GetMTI()
	if err != nil || !validMTI(mti) {
		return "", fmt.Errorf("iso: match key: MTI: must be 4 digits")
	}
	var b strings.Builder
	for i, p := range m.key {
		if i > 0 {
			b.WriteByte('|')
		}
		switch p.field {
		case MatchMTIClass:
			b.WriteString(matchClass(mti))
		case MatchSTAN:
			stan := fieldString(im, 11)
			if stan == "" {
				return "", fmt.Errorf("iso: match key: DE11: required to match %s", mti)
			}
			b.WriteString(stan)
		default:
			b.WriteString(p.value(im))
		}
	}
	return b.String(), nil
}

// Checked returns the values of the checked fields of a message, in
// order, "" where it does not carry one. Nil when there are none.
func (m *Matcher) Checked(im *iso8583.Message) []string {
	if len(m.checked) == 0 {
		return nil
	}
	out := make([]string, len(m.checked))
	for i, p := range m.checked {
		out[i] = p.value(im)
	}
	return out
}

// Agree compares what Checked returned for a request and for a response
// with the same key. A field is compared only when both carry it; a
// difference is an error wrapping ErrEchoMismatch and naming the field.
// Neither value is card data (DE32 is up to 11 digits).
func (m *Matcher) Agree(req, resp []string) error {
	for i, p := range m.checked {
		if i >= len(req) || i >= len(resp) {
			break
		}
		if req[i] != "" && resp[i] != "" && req[i] != resp[i] {
			return fmt.Errorf("%w: DE%d (%s) is %q, the request's %q", ErrEchoMismatch, p.de, p.field, resp[i], req[i])
		}
	}
	return nil
}

func (p matchPart) value(im *iso8583.Message) string {
	v := fieldString(im, p.de)
	if p.norm != nil {
		v = p.norm(v)
	}
	return v
}

func fieldString(im *iso8583.Message, id int) string {
	f := im.GetField(id)
	if f == nil {
		return ""
	}
	s, _ := f.String()
	return s
}

// defaultMatcher is the matcher on DefaultMatch.
var defaultMatcher = func() *Matcher {
	m, err := NewMatcher(nil)
	if err != nil {
		panic(err)
	}
	return m
}()

// MatchKey is the default match key of a typed message: MTI class, DE11
// and DE41 (trailing spaces trimmed). It equals MoovMatchKey on the same
// message packed and unpacked.
func MatchKey(m *Message) string {
	return matchClass(m.MTI) + "|" + m.STAN + "|" + strings.TrimRight(m.TerminalID, " ")
}

// MoovMatchKey computes the default match key on a moov message.
func MoovMatchKey(im *iso8583.Message) (string, error) {
	return defaultMatcher.Key(im)
}

// MatchKeyGenerator adapts MoovMatchKey to iso8583-connection's
// RequestIDGenerator interface, for clients on moov's Send. It sees one
// message at a time, so the DE32 check of DefaultMatch is not made: on
// one connection of one acquirer, DE32 does not tell requests apart.
type MatchKeyGenerator struct{}

// GenerateRequestID implements connection.RequestIDGenerator.
func (MatchKeyGenerator) GenerateRequestID(im *iso8583.Message) (string, error) {
	return MoovMatchKey(im)
}
