// Package httplog sends what net/http reports on an http.Server's ErrorLog
// to a zerolog logger, one JSON event per line like the rest of the log.
package httplog

import (
	stdlog "log"
	"strings"

	"github.com/rs/zerolog"
)

// ErrorLog is an http.Server's ErrorLog that writes to log with server
// naming the listener: net/http reports there what no handler sees (a TLS
// handshake a client gave up, a malformed request line, a handler's
// panic), and the standard logger would print it as plain text beside the
// JSON lines. A panic is an error, the rest warnings.
func ErrorLog(log zerolog.Logger, server string) *stdlog.Logger {
	return stdlog.New(writer{log: log.With().Str("server", server).Logger()}, "", 0)
}

type writer struct{ log zerolog.Logger }

func (w writer) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(strings.TrimPrefix(string(p), "http: "))
	ev := w.log.Warn()
	if strings.HasPrefix(msg, "panic serving") {
		ev = w.log.Error()
	}
	ev.Msg(msg)
	return len(p), nil
}
