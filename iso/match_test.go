package iso

import (
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewMatcherValidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		want   string // "" when valid
	}{
		{"default", nil, ""},
		{"minimal", []string{"mti_class", "stan"}, ""},
		{"strict", []string{"mti_class", "stan", "terminal", "acquirer", "rrn"}, ""},
		{"unknown", []string{"mti_class", "stan", "terminl"}, `[2] "terminl": unknown (one of mti_class, stan, terminal, acquirer, acquirer_if_echoed, rrn)`},
		{"twice", []string{"mti_class", "stan", "stan"}, `[2] "stan": given twice`},
		{"both acquirers", []string{"mti_class", "stan", "acquirer", "acquirer_if_echoed"}, `[3] "acquirer_if_echoed": only one of acquirer and acquirer_if_echoed`},
		{"no stan", []string{"mti_class", "terminal"}, "must include mti_class and stan"},
		{"no class", []string{"stan", "terminal"}, "must include mti_class and stan"},
		{"transmission time is not offered", []string{"mti_class", "stan", "transmission_time"}, `"transmission_time": unknown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMatcher(tc.fields)
			if tc.want == "" {
				require.NoError(t, err)
				require.NotNil(t, m)
				return
			}
			require.ErrorContains(t, err, tc.want)
			var fe *MatchFieldError
			require.ErrorAs(t, err, &fe)
		})
	}
	m, err := NewMatcher(nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultMatch, m.Fields())
	assert.Equal(t, "mti_class, stan, terminal, acquirer_if_echoed", m.String())
}

// wire packs and unpacks m: keys are computed on what crosses the wire.
func wire(t *testing.T, c *Codec, m *Message) *iso8583.Message {
	t.Helper()
	im, err := c.Build(m)
	require.NoError(t, err)
	b, err := im.Pack()
	require.NoError(t, err)
	in := iso8583.NewMessage(c.Spec())
	require.NoError(t, in.Unpack(b))
	return in
}

func TestMatcherOnTheWire(t *testing.T) {
	req := samples()["0100"]
	edit := func(f func(*Message)) *Message {
		r := Respond(req, RCApproved)
		f(r)
		return r
	}
	signOn := NetworkRequest(NetSignOn, "000777", sampleTime)
	signOn.AcquirerID = "400123"
	for dname, c := range codecs(t) {
		for _, tc := range []struct {
			name   string
			fields []string
			req    *Message
			resp   *Message
			key    bool // same key
			agree  bool // Agree passes (when the key matched)
		}{
			{"default: echoed as sent", nil, req, edit(func(*Message) {}), true, true},
			{"default: 0110 without DE32", nil, req, edit(func(r *Message) { r.AcquirerID = "" }), true, true},
			{"default: 0810 without DE32", nil, signOn, func() *Message { r := Respond(signOn, RCApproved); r.AcquirerID = ""; return r }(), true, true},
			{"default: DE32 zero-padded", nil, req, edit(func(r *Message) { r.AcquirerID = "00000400123" }), true, true},
			{"default: another DE32", nil, req, edit(func(r *Message) { r.AcquirerID = "400999" }), true, false},
			{"default: host's own RRN and DE7", nil, req, edit(func(r *Message) { r.RRN = "999999999999"; r.TransmissionTime = "0101000000" }), true, true},
			{"default: another terminal", nil, req, edit(func(r *Message) { r.TerminalID = "TLP00002" }), false, true},
			{"default: another STAN", nil, req, edit(func(r *Message) { r.STAN = "000124" }), false, true},
			{"default: a reversal's answer", nil, req, edit(func(r *Message) { r.MTI = MTIReversalResponse }), false, true},
			{"acquirer: must be echoed", []string{"mti_class", "stan", "terminal", "acquirer"}, req, edit(func(r *Message) { r.AcquirerID = "" }), false, true},
			{"acquirer: zero-padded", []string{"mti_class", "stan", "terminal", "acquirer"}, req, edit(func(r *Message) { r.AcquirerID = "00000400123" }), true, true},
			{"rrn: echoed", []string{"mti_class", "stan", "rrn"}, req, edit(func(*Message) {}), true, true},
			{"rrn: host's own", []string{"mti_class", "stan", "rrn"}, req, edit(func(r *Message) { r.RRN = "999999999999" }), false, true},
			{"no terminal: another terminal", []string{"mti_class", "stan"}, req, edit(func(r *Message) { r.TerminalID = "TLP00002" }), true, true},
		} {
			t.Run(dname+"/"+tc.name, func(t *testing.T) {
				m, err := NewMatcher(tc.fields)
				require.NoError(t, err)
				rq, rs := wire(t, c, tc.req), wire(t, c, tc.resp)
				kq, err := m.Key(rq)
				require.NoError(t, err)
				ks, err := m.Key(rs)
				require.NoError(t, err)
				if !tc.key {
					assert.NotEqual(t, kq, ks)
					return
				}
				require.Equal(t, kq, ks)
				err = m.Agree(m.Checked(rq), m.Checked(rs))
				if tc.agree {
					assert.NoError(t, err)
				} else {
					require.ErrorIs(t, err, ErrEchoMismatch)
					assert.ErrorContains(t, err, "DE32")
				}
			})
		}
	}
}

func TestMatcherNeedsSTANAndMTI(t *testing.T) {
	c := codecs(t)["ascii"]
	m, err := NewMatcher(nil)
	require.NoError(t, err)
	_, err = m.Key(iso8583.NewMessage(c.Spec()))
	require.ErrorContains(t, err, "MTI")
	im := iso8583.NewMessage(c.Spec())
	im.MTI("0810")
	_, err = m.Key(im)
	require.ErrorContains(t, err, "DE11")
	assert.Nil(t, mustMatcher(t, "mti_class", "stan").Checked(im), "no checked fields: nothing to compare")
}

func mustMatcher(t *testing.T, fields ...string) *Matcher {
	t.Helper()
	m, err := NewMatcher(fields)
	require.NoError(t, err)
	return m
}

func BenchmarkMatcherKey(b *testing.B) {
	c := codecs(b)["binary"]
	im, err := c.Build(samples()["0110"])
	require.NoError(b, err)
	m, err := NewMatcher(nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Key(im); err != nil {
			b.Fatal(err)
		}
		_ = m.Checked(im)
	}
}
