package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/field"

	"github.com/tulpar-switch/tulpar/specs"
)

// MaxMessageLen bounds a message body: 9999 is the most a 4-digit header
// can say, and no Tulpar message comes near it. A larger 2-byte header is
// a framing error, not a reason to allocate 64 KiB.
const MaxMessageLen = 9999

// Codec packs and unpacks Tulpar messages in one dialect. It is safe for
// concurrent use.
type Codec struct {
	d *specs.Dialect
	// tags maps a role to its subfield path ("48.05").
	paths map[string]string
}

// NewCodec returns a codec for a dialect.
func NewCodec(d *specs.Dialect) *Codec {
	c := &Codec{d: d, paths: make(map[string]string, len(d.PrivateTags))}
	for role, tag := range d.PrivateTags {
		c.paths[role] = strconv.Itoa(d.PrivateField) + "." + tag
	}
	return c
}

// LoadCodec returns the codec of an embedded dialect.
func LoadCodec(name string) (*Codec, error) {
	d, err := specs.Load(name)
	if err != nil {
		return nil, err
	}
	return NewCodec(d), nil
}

// Dialect returns the codec's dialect.
func (c *Codec) Dialect() *specs.Dialect { return c.d }

// Spec returns the moov message spec of the dialect.
func (c *Codec) Spec() *iso8583.MessageSpec { return c.d.Spec }

// macField returns 128 when the message has a secondary bitmap (any field
// above 64 present), 64 otherwise: the MAC is always the last field.
func (c *Codec) macField(m *Message) int {
	hasPrivate := m.ThreeDS != nil || m.CVV2 != "" || m.KeyUnderZMK != "" || m.KeyCheckValue != "" || m.StoredCredential != ""
	if m.NetworkCode != "" || m.Original != nil || m.ActualAmount != nil || (hasPrivate && c.d.PrivateField > 64) {
		return 128
	}
	return 64
}

// Build converts a typed message into a moov message of the dialect.
func (c *Codec) Build(m *Message) (*iso8583.Message, error) {
	if !validMTI(m.MTI) {
		return nil, &FieldError{Field: 0, Reason: "must be 4 digits"}
	}
	im := iso8583.NewMessage(c.d.Spec)
	im.MTI(m.MTI)
	set := func(id int, v string) error {
		if v == "" {
			return nil
		}
		if err := im.Field(id, v); err != nil {
			return &FieldError{Field: id, Reason: scrub(err.Error())}
		}
		return nil
	}
	if m.HasAmount && m.Amount < 0 {
		return nil, &FieldError{Field: 4, Reason: "amount must not be negative"}
	}
	amount := ""
	if m.HasAmount {
		amount = fmt.Sprintf("%012d", m.Amount)
	}
	var original, replacement string
	if m.Original != nil {
		original = m.Original.String()
	}
	if m.ActualAmount != nil {
		replacement = de95(*m.ActualAmount)
	}
	for _, f := range []struct {
		id int
		v  string
	}{
		{2, m.PAN}, {3, m.ProcessingCode}, {4, amount}, {7, m.TransmissionTime}, {11, m.STAN},
		{12, m.LocalTime}, {13, m.LocalDate}, {14, m.Expiry}, {18, m.MCC}, {22, m.POSEntryMode},
		{25, m.POSCondition}, {32, m.AcquirerID}, {37, m.RRN}, {38, m.ApprovalCode}, {39, m.ResponseCode},
		{41, m.TerminalID}, {42, m.MerchantID}, {43, m.MerchantName}, {49, m.Currency},
		{54, m.AdditionalAmounts}, {70, m.NetworkCode}, {90, original}, {95, replacement},
	} {
		if err := set(f.id, f.v); err != nil {
			return nil, err
		}
	}
	private := map[string]string{
		specs.RoleCVV2:          m.CVV2,
		specs.RoleKeyUnderZMK:   m.KeyUnderZMK,
		specs.RoleKeyCheckValue: m.KeyCheckValue,
	}
	if m.StoredCredential != "" {
		v := c.d.CredentialOnFile.Indicator(m.StoredCredential)
		if v == "" {
			return nil, &FieldError{Field: c.d.PrivateField, Sub: c.d.PrivateTags[specs.RoleStoredCredential], Reason: "unknown stored-credential use"}
		}
		private[specs.RoleStoredCredential] = v
	}
	if t := m.ThreeDS; t != nil {
		private[specs.RoleECI] = t.ECI
		private[specs.RoleCAVV] = t.CAVV
		private[specs.RoleTransactionID] = t.TransactionID
		private[specs.RoleVersion] = t.Version
	}
	for role, v := range private {
		if v == "" {
			continue
		}
		if err := im.MarshalPath(c.paths[role], v); err != nil {
			return nil, &FieldError{Field: c.d.PrivateField, Sub: c.d.PrivateTags[role], Reason: scrub(err.Error())}
		}
	}
	if m.MAC != nil {
		id := c.macField(m)
		if err := im.BinaryField(id, m.MAC); err != nil {
			return nil, &FieldError{Field: id, Reason: err.Error()}
		}
	}
	return im, nil
}

// digitFields are the data elements the typed layer reads as numbers.
var digitFields = map[int]bool{2: true, 3: true, 4: true, 7: true, 11: true, 12: true, 13: true, 14: true, 18: true, 22: true, 25: true, 32: true, 49: true, 70: true}

// Parse converts a moov message of the dialect into a typed message,
// checking what the typed layer relies on (digits where digits are due).
func (c *Codec) Parse(im *iso8583.Message) (*Message, error) {
	mti, err := im.GetMTI()
	if err != nil || !validMTI(mti) {
		return nil, &FieldError{Field: 0, Reason: "must be 4 digits"}
	}
	m := &Message{MTI: mti}
	fields := im.GetFields()
	get := func(id int) (string, error) {
		f, ok := fields[id]
		if !ok {
			return "", nil
		}
		s, err := f.String()
		if err != nil {
			return "", &FieldError{Field: id, Reason: scrub(err.Error())}
		}
		return s, nil
	}
	for _, f := range []struct {
		id  int
		dst *string
	}{
		{2, &m.PAN}, {3, &m.ProcessingCode}, {7, &m.TransmissionTime}, {11, &m.STAN},
		{12, &m.LocalTime}, {13, &m.LocalDate}, {14, &m.Expiry}, {18, &m.MCC}, {22, &m.POSEntryMode},
		{25, &m.POSCondition}, {32, &m.AcquirerID}, {37, &m.RRN}, {38, &m.ApprovalCode}, {39, &m.ResponseCode},
		{41, &m.TerminalID}, {42, &m.MerchantID}, {43, &m.MerchantName}, {49, &m.Currency},
		{54, &m.AdditionalAmounts}, {70, &m.NetworkCode},
	} {
		v, err := get(f.id)
		if err != nil {
			return nil, err
		}
		if digitFields[f.id] && !isDigits(v) {
			return nil, &FieldError{Field: f.id, Reason: "must be digits"}
		}
		*f.dst = v
	}
	if v, err := get(4); err != nil {
		return nil, err
	} else if v != "" {
		if !isDigits(v) || len(v) > 12 {
			return nil, &FieldError{Field: 4, Reason: "amount must be up to 12 digits"}
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		m.SetAmount(n)
	}
	if v, err := get(90); err != nil {
		return nil, err
	} else if v != "" {
		if m.Original, err = ParseOriginalData(v); err != nil {
			return nil, err
		}
	}
	if v, err := get(95); err != nil {
		return nil, err
	} else if v != "" {
		n, err := parseDE95(v)
		if err != nil {
			return nil, err
		}
		m.ActualAmount = &n
	}
	if pf, ok := fields[c.d.PrivateField]; ok {
		if err := c.parsePrivate(pf, m); err != nil {
			return nil, err
		}
	}
	for _, id := range []int{64, 128} {
		if f, ok := fields[id]; ok {
			b, err := f.Bytes()
			if err != nil {
				return nil, &FieldError{Field: id, Reason: err.Error()}
			}
			m.MAC = b
		}
	}
	return m, nil
}

func (c *Codec) parsePrivate(pf field.Field, m *Message) error {
	comp, ok := pf.(*field.Composite)
	if !ok {
		return &FieldError{Field: c.d.PrivateField, Reason: "not a composite field in this dialect"}
	}
	subs := comp.GetSubfields()
	val := func(role string) (string, error) {
		f, ok := subs[c.d.PrivateTags[role]]
		if !ok {
			return "", nil
		}
		s, err := f.String()
		if err != nil {
			return "", &FieldError{Field: c.d.PrivateField, Sub: c.d.PrivateTags[role], Reason: scrub(err.Error())}
		}
		return s, nil
	}
	var t ThreeDS
	for _, p := range []struct {
		role string
		dst  *string
	}{
		{specs.RoleECI, &t.ECI}, {specs.RoleCAVV, &t.CAVV}, {specs.RoleTransactionID, &t.TransactionID},
		{specs.RoleVersion, &t.Version}, {specs.RoleCVV2, &m.CVV2},
		{specs.RoleKeyUnderZMK, &m.KeyUnderZMK}, {specs.RoleKeyCheckValue, &m.KeyCheckValue},
	} {
		v, err := val(p.role)
		if err != nil {
			return err
		}
		*p.dst = v
	}
	if t != (ThreeDS{}) {
		m.ThreeDS = &t
	}
	v, err := val(specs.RoleStoredCredential)
	if err != nil {
		return err
	}
	if v != "" {
		if m.StoredCredential = c.d.CredentialOnFile.Use(v); m.StoredCredential == "" {
			return &FieldError{Field: c.d.PrivateField, Sub: c.d.PrivateTags[specs.RoleStoredCredential], Reason: "not one of the dialect's stored-credential indicators"}
		}
	}
	return nil
}

// Pack returns the message body (no length header).
func (c *Codec) Pack(m *Message) ([]byte, error) {
	im, err := c.Build(m)
	if err != nil {
		return nil, fmt.Errorf("iso: pack %s: %w", m.MTI, err)
	}
	b, err := im.Pack()
	if err != nil {
		return nil, fmt.Errorf("iso: pack %s: %w", m.MTI, safePackError(err))
	}
	return b, nil
}

// Unpack parses a message body (no length header). Errors wrap ErrUnpack,
// name the field and never quote its data.
func (c *Codec) Unpack(b []byte) (m *Message, err error) {
	defer func() {
		// moov has panicked on hostile input before; a bank's bytes must
		// never take the process down.
		if r := recover(); r != nil {
			m, err = nil, &UnpackError{FieldError{Field: 0, Reason: "malformed message"}}
		}
	}()
	im := iso8583.NewMessage(c.d.Spec)
	if err := im.Unpack(b); err != nil {
		return nil, safeUnpackError(err)
	}
	m, err = c.Parse(im)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, &UnpackError{FieldError: *fe}
		}
		return nil, &UnpackError{FieldError{Reason: scrub(err.Error())}}
	}
	return m, nil
}

// Frame returns the length header followed by body.
func (c *Codec) Frame(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := c.WriteLength(&buf, len(body)); err != nil {
		return nil, err
	}
	buf.Write(body)
	return buf.Bytes(), nil
}

// Unframe checks a framed message's length header against its body and
// returns the body.
func (c *Codec) Unframe(framed []byte) ([]byte, error) {
	r := bytes.NewReader(framed)
	n, err := c.ReadLength(r)
	if err != nil {
		return nil, err
	}
	if n != r.Len() {
		return nil, &UnpackError{FieldError{Field: -1, Reason: fmt.Sprintf("says %d bytes, message has %d", n, r.Len())}}
	}
	return framed[len(framed)-n:], nil
}

// ReadLength reads the dialect's length header (a connection.MessageLengthReader).
func (c *Codec) ReadLength(r io.Reader) (int, error) {
	var n int
	switch c.d.LengthHeader {
	case specs.HeaderASCII4:
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, err
		}
		if !isDigits(string(h[:])) {
			return 0, &UnpackError{FieldError{Field: -1, Reason: "4-digit ASCII length header is not digits"}}
		}
		n, _ = strconv.Atoi(string(h[:]))
	case specs.HeaderBinary2:
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint16(h[:]))
	case specs.HeaderBCD2:
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, err
		}
		s := fmt.Sprintf("%02x%02x", h[0], h[1])
		if !isDigits(s) {
			return 0, &UnpackError{FieldError{Field: -1, Reason: "BCD length header has a non-decimal nibble"}}
		}
		n, _ = strconv.Atoi(s)
	default:
		return 0, fmt.Errorf("iso: dialect %s: unknown length header %q", c.d.Name, c.d.LengthHeader)
	}
	if n == 0 || n > MaxMessageLen {
		return 0, &UnpackError{FieldError{Field: -1, Reason: fmt.Sprintf("length %d out of range 1..%d", n, MaxMessageLen)}}
	}
	return n, nil
}

// WriteLength writes the dialect's length header (a connection.MessageLengthWriter).
func (c *Codec) WriteLength(w io.Writer, n int) (int, error) {
	if n <= 0 || n > MaxMessageLen {
		return 0, fmt.Errorf("iso: length header: %d out of range 1..%d", n, MaxMessageLen)
	}
	var h []byte
	switch c.d.LengthHeader {
	case specs.HeaderASCII4:
		h = []byte(fmt.Sprintf("%04d", n))
	case specs.HeaderBinary2:
		h = binary.BigEndian.AppendUint16(nil, uint16(n))
	case specs.HeaderBCD2:
		s := fmt.Sprintf("%04d", n)
		h = []byte{(s[0]-'0')<<4 | (s[1] - '0'), (s[2]-'0')<<4 | (s[3] - '0')}
	default:
		return 0, fmt.Errorf("iso: dialect %s: unknown length header %q", c.d.Name, c.d.LengthHeader)
	}
	return w.Write(h)
}
