package demo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/demo"
)

// lockedBuffer collects log lines written from many goroutines.
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

// repeatedKeys returns the keys that occur more than once at the top level
// of one JSON log line (nested objects are their own scope).
func repeatedKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %q", line)
	}
	seen := map[string]bool{}
	var dup []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		if seen[key] {
			dup = append(dup, key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return dup, nil
}

func TestRepeatedKeysAreFound(t *testing.T) {
	dup, err := repeatedKeys(`{"component":"saf","component":"saf","n":{"component":1}}`)
	require.NoError(t, err)
	require.Equal(t, []string{"component"}, dup)
	dup, err = repeatedKeys(`{"a":1,"b":{"a":2}}`)
	require.NoError(t, err)
	require.Empty(t, dup)
}

// One logging rule: the wirer names the component, a library never adds it
// again, and no key appears twice on a line. The whole demo world logs at
// debug level through a payment by the API, a 3-D Secure challenge on the
// hosted page's path, a completion and a refund; every line is checked.
func TestLogLinesHaveEachKeyOnce(t *testing.T) {
	var logs lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		Log: zerolog.New(&logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()})
	require.NoError(t, err)
	require.NoError(t, d.WaitReady(ctx))

	rbs := func(method string, form url.Values) map[string]any {
		form.Set("userName", d.Secrets.UserName)
		form.Set("password", d.Secrets.Password)
		resp, err := d.Client().PostForm(d.URL()+"/payment/rest/"+method+".do", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		require.NoError(t, json.Unmarshal(b, &out), string(b))
		return out
	}
	for i, pan := range []string{"4111111111111111", "5555555555555599"} {
		reg := rbs("registerPreAuth", url.Values{"orderNumber": {fmt.Sprintf("logs-%d", i)}, "amount": {"50000"}, "returnUrl": {"https://shop.example.kz/ok"}})
		id, _ := reg["orderId"].(string)
		require.NotEmpty(t, id, "%v", reg)
		rbs("paymentorder", url.Values{"MDORDER": {id}, "$PAN": {pan}, "$CVC": {"123"}, "YYYY": {"2030"}, "MM": {"12"}, "TEXT": {"TEST"}})
		rbs("deposit", url.Values{"orderId": {id}, "amount": {"0"}})
		rbs("refund", url.Values{"orderId": {id}, "amount": {"100"}})
		rbs("getOrderStatusExtended", url.Values{"orderId": {id}})
	}
	require.NoError(t, d.Close(ctx))

	lines := 0
	components := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		dup, err := repeatedKeys(sc.Text())
		require.NoError(t, err)
		require.Empty(t, dup, "repeated keys in: %s", sc.Text())
		var l struct {
			Component string `json:"component"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		components[l.Component] = true
	}
	require.Greater(t, lines, 20)
	for _, c := range []string{"journal", "saf", "links", "payments", "api", "bank-sim", "acs-sim"} {
		require.True(t, components[c], "component %s logged (got %v)", c, components)
	}
}
