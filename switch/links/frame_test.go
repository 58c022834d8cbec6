package links

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

// rawBank is a bank host on a plain net.Listener that frames by hand, so
// it can send what moov's server never would. It answers every request
// 00. On the connection numbered bad (1 for the first), once the test
// calls misbehave, it writes the bytes it is given.
type rawBank struct {
	t       testing.TB
	codec   *iso.Codec
	ln      net.Listener
	bad     int32
	conns   atomic.Int32
	signOns atomic.Int32
	wrote   chan struct{} // closed when the bad bytes are written
	garbage chan []byte   // the bytes to write on the bad connection
}

func newRawBank(t testing.TB, dialect string, bad int32) *rawBank {
	t.Helper()
	c, err := iso.LoadCodec(dialect)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &rawBank{t: t, codec: c, ln: ln, bad: bad, wrote: make(chan struct{}), garbage: make(chan []byte, 1)}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n := b.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(nc, n)
			}()
		}
	}()
	return b
}

// misbehave makes the bad connection write p.
func (b *rawBank) misbehave(p []byte) {
	b.garbage <- p
	select {
	case <-b.wrote:
	case <-time.After(5 * time.Second):
		b.t.Fatal("the bad connection never wrote")
	}
}

func (b *rawBank) serve(nc net.Conn, n int32) {
	defer nc.Close()
	var wmu sync.Mutex
	write := func(p []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = nc.Write(p)
	}
	stop := make(chan struct{})
	defer close(stop)
	if n == b.bad {
		go func() {
			select {
			case p := <-b.garbage:
				write(p)
				close(b.wrote)
			case <-stop:
			}
		}()
	}
	r := bufio.NewReader(nc)
	for {
		size, err := b.codec.ReadLength(r)
		if err != nil {
			return
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		m, err := b.codec.Unpack(body)
		if err != nil {
			b.t.Errorf("raw bank: %v", err)
			return
		}
		if m.MTI == iso.MTINetworkManagement && m.NetworkCode == iso.NetSignOn {
			b.signOns.Add(1)
		}
		write(b.frame(iso.Respond(m, iso.RCApproved)))
	}
}

func (b *rawBank) frame(m *iso.Message) []byte {
	body, err := b.codec.Pack(m)
	if err == nil {
		var f []byte
		if f, err = b.codec.Frame(body); err == nil {
			return f
		}
	}
	b.t.Errorf("raw bank: %v", err)
	return nil
}

// logBuffer collects a link's log lines; safe for the link's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// find returns the first log line with the given message.
func (l *logBuffer) find(t testing.TB, msg string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(l.String(), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		if ev["message"] == msg {
			return ev
		}
	}
	t.Fatalf("no log line %q in:\n%s", msg, l.String())
	return nil
}

// metricValue reads one counter or gauge of a registry.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// A frame Tulpar cannot read drops the connection at once; the link is
// not ready until it has dialed again and signed on; a counter and a
// warning (link, reason, header, never the frame) say why.
func TestBadFrameDropsConnectionAndRedials(t *testing.T) {
	const pan = "4111111111111111"
	// answer is an 0110 carrying a PAN, packed in a dialect.
	answer := func(t *testing.T, dialect string) []byte {
		c, err := iso.LoadCodec(dialect)
		require.NoError(t, err)
		m := iso.Respond(auth("000042", "TLP00001", 100), iso.RCApproved)
		require.Equal(t, pan, m.PAN)
		body, err := c.Pack(m)
		require.NoError(t, err)
		return body
	}
	// chopped is a frame whose header is right for a body that lost its
	// last bytes: whole as a frame, no message in the dialect.
	chopped := func(t *testing.T, dialect string) []byte {
		c, _ := iso.LoadCodec(dialect)
		body := answer(t, dialect)
		body = body[:len(body)-3]
		f, err := c.Frame(body)
		require.NoError(t, err)
		return f
	}
	for _, tc := range []struct {
		name, dialect, reason string
		bytes                 func(t *testing.T) []byte
		field                 bool // the log names the field that failed
	}{
		{"ascii header not digits", "ascii", FrameHeaderNotNumeric, func(*testing.T) []byte { return []byte("12AB" + pan) }, false},
		{"ascii header with a space", "ascii", FrameHeaderNotNumeric, func(*testing.T) []byte { return []byte(" 123" + pan) }, false},
		{"binary header over the maximum", "binary", FrameLengthOutOfRange, func(*testing.T) []byte { return append([]byte{0xFF, 0xFF}, pan...) }, false},
		{"binary header one over", "binary", FrameLengthOutOfRange, func(*testing.T) []byte { return []byte{0x27, 0x10} }, false},
		{"ascii garbage after a valid header", "ascii", FrameUnparseable, func(t *testing.T) []byte { return chopped(t, "ascii") }, true},
		{"binary garbage after a valid header", "binary", FrameUnparseable, func(t *testing.T) []byte { return chopped(t, "binary") }, true},
		{"binary header longer than the frame", "binary", FrameTruncated, func(t *testing.T) []byte {
			return append([]byte{0x01, 0xF4}, answer(t, "binary")[:20]...) // says 500, sends 20, waits
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bank := newRawBank(t, tc.dialect, 1)
			reg := prometheus.NewRegistry()
			logs := &logBuffer{}
			states := make(chan State, 64)
			cfg := testConfig("a", tc.dialect)
			cfg.Addrs = []string{bank.ln.Addr().String()}
			// Neither an echo nor the read timeout may be what takes the
			// link down: only the frame.
			cfg.EchoInterval = time.Minute
			cfg.WriteTimeout = 300 * time.Millisecond // the truncated frame's grace
			l, err := New(cfg, Deps{Log: zerolog.New(logs), Registry: reg, OnStateChange: func(_ string, st State) { states <- st }})
			require.NoError(t, err)
			require.NoError(t, l.Start(context.Background()))
			t.Cleanup(func() { l.Close(context.Background()) })
			waitReady(t, l)
			drain(states)

			start := time.Now()
			frame := tc.bytes(t)
			bank.misbehave(frame)
			nextState(t, states, func(s State) bool { return s != StateReady })
			t.Logf("not ready %v after the bad frame", time.Since(start))
			assert.False(t, l.Ready())
			// Ready again only after a fresh sign-on on a new connection.
			nextState(t, states, func(s State) bool { return s == StateSigningOn })
			nextState(t, states, func(s State) bool { return s == StateReady })
			assert.EqualValues(t, 2, bank.conns.Load(), "redialed")
			assert.EqualValues(t, 2, bank.signOns.Load(), "signed on again")
			resp, err := l.Send(context.Background(), auth("", "TLP00001", 100))
			require.NoError(t, err)
			assert.Equal(t, iso.RCApproved, resp.ResponseCode)

			assert.EqualValues(t, 1, l.Status().FrameErrors)
			for _, r := range frameReasons {
				v, ok := metricValue(t, reg, "tulpar_link_frame_errors_total", map[string]string{"link": "a", "reason": r})
				require.True(t, ok, "series for %s exists from the start", r)
				if r == tc.reason {
					assert.Equal(t, 1.0, v, r)
				} else {
					assert.Zero(t, v, r)
				}
			}

			ev := logs.find(t, "bad frame from the bank: dropping the connection")
			assert.Equal(t, "warn", ev["level"])
			assert.Equal(t, "a", ev["link"])
			assert.Equal(t, tc.reason, ev["reason"])
			assert.Equal(t, hex.EncodeToString(frame[:l.hdrLen]), ev["header"], "the header, and only it")
			if tc.field {
				assert.NotEmpty(t, ev["field"])
			}
			all := logs.String()
			assert.NotContains(t, all, pan)
			assert.NotContains(t, all, hex.EncodeToString([]byte(pan)))
			if rest := frame[l.hdrLen:]; len(rest) > 0 {
				assert.NotContains(t, strings.ToLower(all), hex.EncodeToString(rest[:min(len(rest), 8)]),
					"no bytes of the frame beyond the header")
			}
		})
	}
}

// A zero length header is a keep-alive: read and ignored, the link stays
// up on its connection.
func TestZeroLengthHeaderIsKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		dialect string
		header  []byte
	}{{"ascii", []byte("0000")}, {"binary", []byte{0, 0}}} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			bank := newRawBank(t, tc.dialect, 1)
			cfg := testConfig("a", tc.dialect)
			cfg.Addrs = []string{bank.ln.Addr().String()}
			cfg.EchoInterval = time.Minute
			l, err := New(cfg, Deps{Log: testLogger(t)})
			require.NoError(t, err)
			require.NoError(t, l.Start(context.Background()))
			t.Cleanup(func() { l.Close(context.Background()) })
			waitReady(t, l)
			since := l.Status().Since

			bank.misbehave(append(append([]byte{}, tc.header...), tc.header...))
			// The answer comes after the keep-alives on the same stream.
			resp, err := l.Send(context.Background(), auth("", "TLP00001", 100))
			require.NoError(t, err)
			assert.Equal(t, iso.RCApproved, resp.ResponseCode)
			st := l.Status()
			assert.Equal(t, StateReady, st.State)
			assert.Equal(t, since, st.Since, "never left ready")
			assert.Zero(t, st.FrameErrors)
			assert.EqualValues(t, 1, bank.conns.Load())
		})
	}
}

func drain(ch chan State) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// nextState waits for the next state change that satisfies ok, skipping
// others; well within the minute the echo and read timeouts would take.
func nextState(t testing.TB, ch chan State, ok func(State) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-ch:
			if ok(s) {
				return
			}
		case <-deadline:
			t.Fatal("state never came")
		}
	}
}
