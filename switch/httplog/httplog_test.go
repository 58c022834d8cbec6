package httplog

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// lines hands each line written to it on a channel: the server logs from
// its own goroutine, and the test waits for the line instead of sleeping.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

func next(t *testing.T, l lines) map[string]any {
	t.Helper()
	select {
	case s := <-l:
		require.False(t, strings.Contains(strings.TrimSuffix(s, "\n"), "\n"), "one event per line: %q", s)
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &ev), "a JSON event: %q", s)
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("the server logged nothing")
		return nil
	}
}

// TestPanicIsAnErrorEvent: a handler's panic, which net/http recovers and
// reports on the server's ErrorLog with a stack, is one error event of the
// JSON log naming the server, not plain text on the standard logger.
func TestPanicIsAnErrorEvent(t *testing.T) {
	out := make(lines, 8)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv.Config.ErrorLog = ErrorLog(zerolog.New(out), "merchant")
	srv.Start()
	defer srv.Close()

	_, err := http.Get(srv.URL)
	require.Error(t, err, "the panic cuts the connection")
	ev := next(t, out)
	require.Equal(t, "error", ev["level"])
	require.Equal(t, "merchant", ev["server"])
	require.True(t, strings.HasPrefix(ev["message"].(string), "panic serving 127.0.0.1:"), "%v", ev["message"])
	require.Contains(t, ev["message"], "boom")
}

// TestHandshakeFailureIsAWarning: a client that gives up in the TLS
// handshake is a warning naming the server and the client's address.
func TestHandshakeFailureIsAWarning(t *testing.T) {
	out := make(lines, 8)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = ErrorLog(zerolog.New(out), "cabinet")
	srv.StartTLS()
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // plain HTTP on a TLS port
	require.NoError(t, err)
	ev := next(t, out)
	c.Close()
	require.Equal(t, "warn", ev["level"])
	require.Equal(t, "cabinet", ev["server"])
	require.True(t, strings.HasPrefix(ev["message"].(string), "TLS handshake error from "+c.LocalAddr().String()), "%v", ev["message"])
}
