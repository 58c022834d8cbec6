package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// TestDemoCommandAndItsCurl runs `tulpar demo` as a user would, then does
// what the curl it prints does, and opens the formUrl it answers.
func TestDemoCommandAndItsCurl(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, exitOK, code)
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop")
		}
	})

	var out strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Ctrl-C stops the demo") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	text := out.String()
	require.Contains(t, text, "link ready")
	require.NotContains(t, text, "link down")

	// curl --cacert FILE: the client below trusts that file and only it.
	ca := regexp.MustCompile(`curl -s --cacert (\S+) `).FindStringSubmatch(text)
	require.NotNil(t, ca, "demo prints curl --cacert:\n%s", text)
	hc, err := tlsconf.HTTPClient(ca[1])
	require.NoError(t, err)

	// The printed curl, joined across its continuation line.
	cmd := regexp.MustCompile(`(?s)curl -s --cacert \S+ (\S+) (.*?returnUrl=\S+)`).FindStringSubmatch(strings.ReplaceAll(text, "\\\n", ""))
	require.NotNil(t, cmd, "demo prints a curl:\n%s", text)
	form := url.Values{}
	for _, kv := range regexp.MustCompile(`-d (\S+)`).FindAllStringSubmatch(cmd[2], -1) {
		k, v, _ := strings.Cut(kv[1], "=")
		v = strings.ReplaceAll(v, "$(date +%s)", "1")
		form.Set(k, v)
	}
	resp, err := hc.PostForm(cmd[1], form)
	require.NoError(t, err)
	var reg struct {
		OrderID, FormURL, ErrorCode string
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg))
	resp.Body.Close()
	require.NotEmpty(t, reg.OrderID, "register.do answered %+v", reg)
	require.Empty(t, reg.ErrorCode)

	page, err := hc.Get(reg.FormURL)
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(body), "150,00", "the page shows the amount")

	// The JSON API's curl too: its headers and body, $(date +%s) filled in.
	joined := strings.ReplaceAll(strings.ReplaceAll(text, "\\\n", ""), "$(date +%s)", "7")
	v1 := regexp.MustCompile(`curl -s --cacert \S+ (\S+/v1/orders)((?: +-H (?:'[^']*'|"[^"]*"))+) +-d '(.*)'`).FindStringSubmatch(joined)
	require.NotNil(t, v1, "demo prints a JSON API curl:\n%s", text)
	req, err := http.NewRequest(http.MethodPost, v1[1], strings.NewReader(strings.ReplaceAll(v1[3], "'7'", "7")))
	require.NoError(t, err)
	for _, h := range regexp.MustCompile(`-H (?:'([^']*)'|"([^"]*)")`).FindAllStringSubmatch(v1[2], -1) {
		k, val, _ := strings.Cut(h[1]+h[2], ": ")
		req.Header.Set(k, val)
	}
	created, err := hc.Do(req)
	require.NoError(t, err)
	msg, _ := io.ReadAll(created.Body)
	created.Body.Close()
	require.Equal(t, http.StatusCreated, created.StatusCode, string(msg))

	// The Processing.kz shop's curl: its address, headers and the SOAP
	// request in the here-document, the shell's $(date ...) filled in.
	soap := regexp.MustCompile(`(?s)curl -s --cacert \S+ (\S+/CNPMerchantWebService) -H '([^']*)' +-H '([^']*)' --data-binary @- <<EOF\n(.*?)\nEOF\n`).FindStringSubmatch(joined)
	require.NotNil(t, soap, "demo prints a SOAP curl:\n%s", text)
	envelope := strings.NewReplacer("$(date +'%d.%m.%Y %H:%M:%S')", "06.12.2026 12:00:00", "$(date +%s)", "7").Replace(soap[4])
	req, err = http.NewRequest(http.MethodPost, soap[1], strings.NewReader(envelope))
	require.NoError(t, err)
	for _, h := range soap[2:4] {
		k, val, _ := strings.Cut(h, ": ")
		req.Header.Set(k, val)
	}
	started, err := hc.Do(req)
	require.NoError(t, err)
	msg, _ = io.ReadAll(started.Body)
	started.Body.Close()
	require.Equal(t, http.StatusOK, started.StatusCode, string(msg))
	require.Contains(t, string(msg), "<ax23:success>true</ax23:success>")
	redirect := regexp.MustCompile(`<ax23:redirectURL>([^<]+)</ax23:redirectURL>`).FindStringSubmatch(string(msg))
	require.NotNil(t, redirect, string(msg))
	page, err = hc.Get(redirect[1])
	require.NoError(t, err)
	body, _ = io.ReadAll(page.Body)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(body), "Demo goods", "the page shows the goods")

	// And the order the demo registered itself opens its payment page.
	ready := regexp.MustCompile(`(https://\S+/pay/\S+)`).FindStringSubmatch(text)
	require.NotNil(t, ready, text)
	page, err = hc.Get(ready[1])
	require.NoError(t, err)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
}

// TestDemoLeavesItsDataToTheAuditors: after Ctrl-C, `tulpar demo` prints
// where its data stays and the auditors' commands for it, and they run.
func TestDemoLeavesItsDataToTheAuditors(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the demo's temporary directory goes with the test's
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "Ctrl-C stops the demo") {
	}
	cancel()
	rest, err := io.ReadAll(pr)
	require.NoError(t, err)
	require.Equal(t, exitOK, <-done)

	cmds := regexp.MustCompile(`(?m)^  tulpar (.*)$`).FindAllStringSubmatch(string(rest), -1)
	require.Len(t, cmds, 3, "verify, replay and a daily report:\n%s", rest)
	for _, c := range cmds {
		var out, errOut strings.Builder
		code := run(context.Background(), strings.Fields(c[1]), &out, &errOut)
		require.Equal(t, exitOK, code, "tulpar %s\nstdout:\n%s\nstderr:\n%s", c[1], out.String(), errOut.String())
	}
}
