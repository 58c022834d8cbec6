package daemon

import (
	stdlog "log"
	"strings"

	"github.com/rs/zerolog"
)

// serverErrorLog is an http.Server's ErrorLog that writes to the switch's
// log: net/http reports there what no handler sees (a TLS handshake a
// client gave up, a malformed request line, a handler's panic), and the
// standard logger would print it as plain text beside the JSON lines.
func serverErrorLog(log zerolog.Logger, server string) *stdlog.Logger {
	return stdlog.New(serverLogWriter{log: log.With().Str("server", server).Logger()}, "", 0)
}

type serverLogWriter struct{ log zerolog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(strings.TrimPrefix(string(p), "http: "))
	ev := w.log.Warn()
	if strings.HasPrefix(msg, "panic serving") {
		ev = w.log.Error()
	}
	ev.Msg(msg)
	return len(p), nil
}
