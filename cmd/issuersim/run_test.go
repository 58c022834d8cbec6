package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

// lines is an io.Writer that lets a test wait for a line matching a pattern.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// wait returns the first submatch of re once the output has it.
func (l *lines) wait(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(l.String()); m != nil {
			return m[1]
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("no %s in output:\n%s", re, l.String())
		}
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--help"}, &stdout, &stderr))
	var o options
	newFlags(&o).VisitAll(func(f *flag.Flag) {
		assert.Regexp(t, `(?m)^  -`+regexp.QuoteMeta(f.Name)+`( |$)`, stdout.String(), f.Name)
		assert.NotEmpty(t, f.Usage, f.Name)
	})
	assert.Contains(t, stdout.String(), "PUT /knobs")
	for _, key := range []string{"amount_suffix", "no_reply", "response_code", "approve_amount"} {
		assert.Contains(t, stdout.String(), key, "the knob rules are listed")
	}
}

func TestBadFlagsAndConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"--no-such-flag"}, &stdout, &stderr))
	assert.Equal(t, 2, run(context.Background(), []string{"extra"}, &stdout, &stderr))
	assert.Equal(t, 2, run(context.Background(), []string{"--log-level", "loud"}, &stdout, &stderr))
	assert.Equal(t, 1, run(context.Background(), []string{"--dialect", "ebcdic"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "dialect: unknown dialect")

	p := filepath.Join(t.TempDir(), "bank.yaml")
	require.NoError(t, os.WriteFile(p, []byte("cards:\n  - {pan: \"4111111111111112\", expiry: \"3012\", cvv2: \"123\"}\n"), 0o600))
	stderr.Reset()
	assert.Equal(t, 1, run(context.Background(), []string{"--config", p}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "cards[0].pan: fails Luhn check")
}

func TestCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--check", "--dial", "127.0.0.1:9", "--name", "halyk-sim"}, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "halyk-sim: config ok: ascii dialect, dial 127.0.0.1:9, 12 cards")
}

var (
	listenRe = regexp.MustCompile(`listening on (\S+)`)
	adminRe  = regexp.MustCompile(`admin http://(\S+)/knobs`)
)

// startRun runs the command until the test ends and returns its ISO and
// admin addresses.
func startRun(t *testing.T, args ...string) (isoAddr, adminAddr string, stdout *lines) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout = newLines()
	stderr := newLines()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, args, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exit:
			assert.Equal(t, 0, code, stderr.String())
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	return stdout.wait(t, listenRe), stdout.wait(t, adminRe), stdout
}

func TestRunServes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flags", []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--dialect", "binary", "--latency", "1ms"}},
		// No flags: 127.0.0.1:8583 and :8584, or free ports when taken.
		{"no flags", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isoAddr, adminAddr, _ := startRun(t, tc.args...)
			dialect := "ascii"
			if tc.args != nil {
				dialect = "binary"
			}
			codec, err := iso.LoadCodec(dialect)
			require.NoError(t, err)
			conn, err := connection.New(isoAddr, codec.Spec(), codec.ReadLength, codec.WriteLength,
				connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}), connection.SendTimeout(5*time.Second))
			require.NoError(t, err)
			require.NoError(t, conn.Connect())
			defer conn.Close()
			im, err := codec.Build(iso.NetworkRequest(iso.NetSignOn, "000001", time.Now()))
			require.NoError(t, err)
			resp, err := conn.Send(im)
			require.NoError(t, err)
			rc, err := resp.GetString(39)
			require.NoError(t, err)
			assert.Equal(t, iso.RCApproved, rc)

			for _, path := range []string{"/knobs", "/accounts", "/metrics", "/settlement"} {
				r, err := http.Get("http://" + adminAddr + path)
				require.NoError(t, err, path)
				body, _ := io.ReadAll(r.Body)
				r.Body.Close()
				assert.Equal(t, http.StatusOK, r.StatusCode, path)
				if path == "/metrics" {
					// The bank counts an answer after writing it: the
					// client can read the answer first.
					want := `issuersim_answers_total{bank="demo-bank",mti="0810",rc="00"} 1`
					assert.Eventually(t, func() bool {
						r, err := http.Get("http://" + adminAddr + path)
						if err != nil {
							return false
						}
						defer r.Body.Close()
						b, _ := io.ReadAll(r.Body)
						return strings.Contains(string(b), want)
					}, 5*time.Second, 5*time.Millisecond, "metric %s", want)
				}
				assert.False(t, strings.Contains(string(body), "4111111111111111"), path)
			}
		})
	}
}
