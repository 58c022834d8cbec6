package iso

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMTIHelpers(t *testing.T) {
	cases := []struct {
		mti, resp, repeat string
		isResp, isRepeat  bool
	}{
		{"0100", "0110", "0100", false, false},
		{"0110", "", "0110", true, false},
		{"0200", "0210", "0200", false, false},
		{"0220", "0230", "0221", false, false},
		{"0221", "0230", "0221", false, true},
		{"0400", "0410", "0400", false, false},
		{"0420", "0430", "0421", false, false},
		{"0421", "0430", "0421", false, true},
		{"0800", "0810", "0800", false, false},
		{"0810", "", "0810", true, false},
		{"08x0", "", "08x0", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.mti, func(t *testing.T) {
			require.Equal(t, tc.resp, ResponseMTI(tc.mti))
			require.Equal(t, tc.repeat, RepeatMTI(tc.mti))
			require.Equal(t, tc.isResp, IsResponse(tc.mti))
			require.Equal(t, tc.isRepeat, IsRepeat(tc.mti))
		})
	}
}

func TestMatchKey(t *testing.T) {
	base := Message{STAN: "000123", TerminalID: "TLP00001", AcquirerID: "400123"}
	with := func(mti string, edit func(*Message)) *Message {
		m := base
		m.MTI = mti
		if edit != nil {
			edit(&m)
		}
		return &m
	}
	matches := [][2]*Message{
		{with("0100", nil), with("0110", nil)},
		{with("0200", nil), with("0210", nil)},
		{with("0220", nil), with("0230", nil)},
		{with("0221", nil), with("0230", nil)},
		{with("0400", nil), with("0410", nil)},
		{with("0420", nil), with("0430", nil)},
		{with("0421", nil), with("0430", nil)},
		{with("0800", nil), with("0810", nil)},
		{with("0100", nil), with("0110", func(m *Message) { m.TerminalID = "TLP00001   " })},
		// Many hosts do not echo DE32; one that echoes another value is
		// caught by Matcher.Agree, not by the key.
		{with("0800", nil), with("0810", func(m *Message) { m.AcquirerID = "" })},
		{with("0100", nil), with("0110", func(m *Message) { m.AcquirerID = "" })},
		{with("0800", nil), with("0810", func(m *Message) { m.AcquirerID = "400124" })},
	}
	for _, p := range matches {
		require.Equal(t, MatchKey(p[0]), MatchKey(p[1]), "%s ↔ %s", p[0].MTI, p[1].MTI)
	}
	differ := [][2]*Message{
		{with("0100", nil), with("0410", nil)},
		{with("0400", nil), with("0110", nil)},
		{with("0400", nil), with("0430", nil)},
		{with("0200", nil), with("0230", nil)},
		{with("0100", nil), with("0110", func(m *Message) { m.STAN = "000124" })},
		{with("0100", nil), with("0110", func(m *Message) { m.TerminalID = "TLP00002" })},
	}
	for _, p := range differ {
		require.NotEqual(t, MatchKey(p[0]), MatchKey(p[1]), "%s must not match %s", p[0].MTI, p[1].MTI)
	}
}

func TestMoovMatchKeyAgreesWithTyped(t *testing.T) {
	for dname, c := range codecs(t) {
		for name, m := range samples() {
			im, err := c.Build(m)
			require.NoError(t, err)
			packed, err := im.Pack()
			require.NoError(t, err)
			// Keys are computed on what arrives from the wire too.
			in := iso8583.NewMessage(c.Spec())
			require.NoError(t, in.Unpack(packed))
			key, err := MatchKeyGenerator{}.GenerateRequestID(in)
			require.NoError(t, err, "%s/%s", dname, name)
			require.Equal(t, MatchKey(m), key, "%s/%s", dname, name)
		}
	}
	_, err := MoovMatchKey(iso8583.NewMessage(codecs(t)["ascii"].Spec()))
	require.Error(t, err)
}

func TestSTANWrapsAndNeverZero(t *testing.T) {
	s := NewSTANs(999998)
	require.Equal(t, "999999", s.Next())
	require.Equal(t, "000001", s.Next())
	require.Equal(t, "000002", s.Next())
	require.Equal(t, "000001", NewSTANs(0).Next())
	require.Equal(t, "000001", NewSTANs(999999).Next())
}

func TestSTANConcurrentUnique(t *testing.T) {
	s := NewSTANs(0)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				v := s.Next()
				mu.Lock()
				require.False(t, seen[v], "duplicate STAN %s", v)
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, 8000)
}

func TestRRNDecimalFormatAndDayRollover(t *testing.T) {
	now := time.Date(2026, 11, 23, 23, 59, 59, 0, time.UTC)
	g := NewRRNs(RRNOptions{Now: func() time.Time { return now }})
	r1, err := g.Next()
	require.NoError(t, err)
	require.Equal(t, "632700000001", r1, "y=6 ddd=327 then an eight-digit sequence")
	for range 9 {
		_, err = g.Next()
		require.NoError(t, err)
	}
	r11, err := g.Next()
	require.NoError(t, err)
	require.Equal(t, "632700000011", r11, "digits only")
	now = now.Add(time.Second)
	r, err := g.Next()
	require.NoError(t, err)
	require.Equal(t, "632800000001", r, "a new day restarts the sequence")
	f, err := ParseRRNFormat("base36")
	require.NoError(t, err)
	require.Equal(t, RRNBase36, f)
	_, err = ParseRRNFormat("hex")
	require.ErrorContains(t, err, "must be decimal or base36")
}

func TestRRNBase36FormatAndHourRollover(t *testing.T) {
	now := time.Date(2026, 11, 23, 14, 59, 59, 0, time.UTC)
	g := NewRRNs(RRNOptions{Now: func() time.Time { return now }, Format: RRNBase36})
	r1, err := g.Next()
	require.NoError(t, err)
	require.Equal(t, "632714000001", r1, "y=6 ddd=327 hh=14 then sequence")
	for range 8 {
		_, err = g.Next()
		require.NoError(t, err)
	}
	r10, err := g.Next()
	require.NoError(t, err)
	require.Equal(t, "63271400000A", r10, "sequence is base 36 after 9")
	now = now.Add(time.Second)
	r, err := g.Next()
	require.NoError(t, err)
	require.Equal(t, "632715000001", r, "a new hour restarts the sequence")
	require.Len(t, r, 12)
}

func TestRRNUniqueAcrossRestart(t *testing.T) {
	now := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var mu sync.Mutex // reservations ahead run on their own goroutine
	var durablePeriod string
	var durableUpto uint64
	reserve := func(period string, upto uint64) error {
		mu.Lock()
		defer mu.Unlock()
		durablePeriod, durableUpto = period, upto
		return nil
	}
	seen := map[string]bool{}
	g := NewRRNs(RRNOptions{Now: clock, Reserve: reserve, Block: 10})
	for range 25 {
		r, err := g.Next()
		require.NoError(t, err)
		seen[r] = true
	}
	g.Settle()
	mu.Lock()
	require.Equal(t, uint64(30), durableUpto, "reserved in blocks, the next one ahead of use")
	mu.Unlock()
	// The process dies; the next one resumes from the durable reservation.
	g2 := NewRRNs(RRNOptions{Now: clock, Reserve: reserve, Block: 10, ResumePeriod: durablePeriod, ResumeUpto: durableUpto})
	for range 25 {
		r, err := g2.Next()
		require.NoError(t, err)
		require.False(t, seen[r], "RRN %s reused after restart", r)
		seen[r] = true
	}
	failing := NewRRNs(RRNOptions{Now: clock, Reserve: func(string, uint64) error { return errors.New("disk full") }})
	_, err := failing.Next()
	require.ErrorContains(t, err, "disk full", "no RRN is issued that was not reserved")
}

// TestRRNReservedAhead: the next block is made durable in the background
// while the current one is used, and no number outside a durable block is
// ever handed out: when the block runs out first, Next waits.
func TestRRNReservedAhead(t *testing.T) {
	now := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	release := make(chan struct{})
	var mu sync.Mutex
	var durable uint64
	calls := 0
	g := NewRRNs(RRNOptions{Now: func() time.Time { return now }, Block: 10, Reserve: func(_ string, upto uint64) error {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if !first {
			<-release // the disk is slow
		}
		mu.Lock()
		durable = upto
		mu.Unlock()
		return nil
	}})
	for i := 1; i <= 10; i++ {
		r, err := g.Next() // the first block: none of these waits for the slow reservation ahead
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%s%08d", RRNPeriod(RRNDecimal, now), i), r)
	}
	got := make(chan string)
	go func() {
		r, err := g.Next()
		assert.NoError(t, err)
		mu.Lock()
		assert.Equal(t, uint64(20), durable, "number 11 only once 11-20 are durable")
		mu.Unlock()
		got <- r
	}()
	close(release)
	require.Equal(t, fmt.Sprintf("%s%08d", RRNPeriod(RRNDecimal, now), 11), <-got)
	g.Settle()
}

func TestResponseCodes(t *testing.T) {
	require.True(t, LookupResponseCode("00").Approved)
	rc := LookupResponseCode("51")
	require.False(t, rc.Approved)
	require.Equal(t, "insufficient_funds", rc.Reason)
	unknown := LookupResponseCode("Q9")
	require.False(t, unknown.Approved, "an unknown code is never an approval")
	require.NotEmpty(t, unknown.Reason)
	for _, rc := range ResponseCodes() {
		require.Len(t, rc.Code, 2)
		require.NotEmpty(t, rc.Meaning)
		require.Equal(t, rc.Approved, rc.Reason == "", "%s: declines have a reason, approvals none", rc.Code)
	}
}

func TestDescribeIsLogSafe(t *testing.T) {
	m := samples()["0100"]
	m.MAC = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	d := Describe(m)
	require.Contains(t, d, "411111******1111")
	require.Contains(t, d, "stan=000123")
	require.Contains(t, d, "cvv2=present")
	var buf bytes.Buffer
	logger := zerolog.New(&buf)
	logger.Info().Object("msg", m).Send()
	for _, out := range []string{d, buf.String()} {
		require.NotContains(t, out, "4111111111111111")
		require.NotContains(t, out, m.ThreeDS.CAVV)
		require.NotContains(t, out, "cvv2=123")
		require.NotContains(t, out, `"cvv2":"123"`)
		require.NotContains(t, out, "2812", "expiry is hidden")
	}
	require.Contains(t, buf.String(), `"pan":"411111******1111"`)
	require.Equal(t, "555500******4444", MaskPAN("5555000011114444"))
	require.Equal(t, "****", MaskPAN("1234"))
}

func hmacMAC(key []byte) (func([]byte) ([]byte, error), func(data, mac []byte) error) {
	gen := func(data []byte) ([]byte, error) {
		h := hmac.New(sha256.New, key)
		h.Write(data)
		return h.Sum(nil)[:8], nil
	}
	check := func(data, mac []byte) error {
		want, _ := gen(data)
		if !hmac.Equal(want, mac) {
			return errors.New("mismatch")
		}
		return nil
	}
	return gen, check
}

func TestMACSignAndVerify(t *testing.T) {
	gen, check := hmacMAC([]byte("test key for this test only"))
	for dname, c := range codecs(t) {
		for _, name := range []string{"0100", "0400", "0800"} {
			t.Run(dname+"/"+name, func(t *testing.T) {
				im, err := c.Build(samples()[name])
				require.NoError(t, err)
				require.NoError(t, SignMAC(im, gen))
				packed, err := im.Pack()
				require.NoError(t, err)

				in := iso8583.NewMessage(c.Spec())
				require.NoError(t, in.Unpack(packed))
				require.NoError(t, VerifyMAC(in, check))
				typed, err := c.Parse(in)
				require.NoError(t, err)
				require.Len(t, typed.MAC, 8)

				// One changed byte anywhere before the MAC breaks it.
				for _, i := range []int{0, len(packed) / 2, len(packed) - 9} {
					bad := bytes.Clone(packed)
					bad[i] ^= 0x01
					in := iso8583.NewMessage(c.Spec())
					if in.Unpack(bad) != nil {
						continue // no longer a message at all
					}
					require.ErrorIs(t, VerifyMAC(in, check), ErrBadMAC, "byte %d", i)
				}
			})
		}
	}
	im, err := codecs(t)["ascii"].Build(samples()["0100"])
	require.NoError(t, err)
	require.ErrorIs(t, VerifyMAC(im, check), ErrBadMAC, "a message without a MAC fails")
}

func TestBuilders(t *testing.T) {
	auth := samples()["0100"]
	now := sampleTime
	resp := Respond(auth, RCApproved)
	require.Equal(t, "0110", resp.MTI)
	require.Equal(t, MatchKey(auth), MatchKey(resp))
	require.Empty(t, resp.CVV2)
	require.Nil(t, resp.ThreeDS)

	part := int64(500000)
	rev := ReversalOf(auth, false, "000200", now, &part)
	require.Equal(t, "0400", rev.MTI)
	require.Equal(t, "000123", rev.Original.STAN)
	require.Equal(t, "0100", rev.Original.MTI)
	require.Equal(t, part, *rev.ActualAmount)
	require.Empty(t, rev.CVV2, "a reversal never carries CVV2")
	adv := ReversalOf(auth, true, "000201", now, nil)
	require.Equal(t, "0420", adv.MTI)
	rep := Repeat(adv)
	require.Equal(t, "0421", rep.MTI)
	require.Equal(t, adv.STAN, rep.STAN)

	comp := CompletionOf(auth, "A1B2C3", 1000000, "000202", now)
	require.Equal(t, "0220", comp.MTI)
	require.Equal(t, int64(1000000), comp.Amount)
	require.Equal(t, auth.RRN, comp.RRN)

	net := NetworkRequest(NetEcho, "000003", now)
	require.Equal(t, "0800", net.MTI)
	require.Equal(t, "301", net.NetworkCode)
	for dname, c := range codecs(t) {
		for _, m := range []*Message{resp, rev, adv, rep, comp, net} {
			_, err := c.Pack(m)
			require.NoError(t, err, "%s %s", dname, m.MTI)
		}
	}
}

func TestOriginalDataErrors(t *testing.T) {
	for _, s := range []string{"", "0100", strings.Repeat("1", 41), strings.Repeat("x", 42)} {
		_, err := ParseOriginalData(s)
		require.ErrorContains(t, err, "DE90", fmt.Sprintf("%q", s))
	}
}
