package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lockedBuffer is a buffer a command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tulpar fiscalsim serves the API on the address given, prints its URL,
// takes only its login, and stops with its context.
func TestFiscalsimCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"fiscalsim", "--listen", "127.0.0.1:0", "--login", "+7701", "--password", "pw", "--log-level", "warn"}, &out, &errOut)
	}()
	urlRE := regexp.MustCompile(`listening on (http://\S+)`)
	require.Eventually(t, func() bool { return urlRE.MatchString(out.String()) }, 10*time.Second, 5*time.Millisecond, "the URL printed")
	base := urlRE.FindStringSubmatch(out.String())[1]
	login := func(body string) int {
		resp, err := http.Post(base+"/api/v1/login", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, login(`{"phone_number":"+7701","password":"pw"}`))
	require.Equal(t, http.StatusUnauthorized, login(`{"phone_number":"+7701","password":"other"}`))
	cancel()
	require.Equal(t, exitOK, <-done, errOut.String())

	require.Equal(t, exitUsage, run(context.Background(), []string{"fiscalsim", "--login", "x"}, &out, &errOut))
}
