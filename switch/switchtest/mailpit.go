package switchtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// MailpitVersion is the SMTP catcher the mail tests deliver to
// (github.com/axllent/mailpit): a real SMTP server with an HTTP API to read
// each message back. It is a program, not a library of ours: it is built
// once into the user's cache rather than added to go.mod.
const MailpitVersion = "v1.27.11"

// Mailpit is a running mailpit.
type Mailpit struct {
	// SMTPHost and SMTPPort are its SMTP listener (STARTTLS with the CA
	// in CAFile when started WithTLS).
	SMTPHost string
	SMTPPort int
	// API is its HTTP base URL.
	API    string
	CAFile string
	t      testing.TB
	cmd    *exec.Cmd
	args   []string
	bin    string
}

// MailpitOptions shape StartMailpit.
type MailpitOptions struct {
	// TLS requires STARTTLS, with a certificate from a CA made for the
	// test (Mailpit.CAFile), and offers authentication (any credentials).
	TLS bool
	// SMTPPort, when set, is the port to listen on (a test that starts
	// the switch before the mail server is up).
	SMTPPort int
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// StartMailpit starts mailpit for the test, stopped at its end; it builds
// mailpit first when neither PATH nor the cache has it.
func StartMailpit(t testing.TB, o MailpitOptions) *Mailpit {
	t.Helper()
	m := &Mailpit{t: t, bin: mailpitBinary(t), SMTPHost: "127.0.0.1", SMTPPort: o.SMTPPort}
	if m.SMTPPort == 0 {
		m.SMTPPort = FreePort(t)
	}
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	m.API = "http://" + httpAddr
	m.args = []string{"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort), "--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit.db"), "--quiet", "--disable-version-check", "--smtp-disable-rdns"}
	if o.TLS {
		ca, err := tlsconf.NewCA(dir, "mail")
		require.NoError(t, err)
		cert, key, err := ca.Issue(dir, "smtp", "127.0.0.1", "localhost")
		require.NoError(t, err)
		m.CAFile = ca.File
		m.args = append(m.args, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls", "--smtp-auth-accept-any")
	}
	m.start()
	t.Cleanup(m.Stop)
	return m
}

func (m *Mailpit) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(m.t, m.cmd.Start())
	// Ready when its API answers: polling for a child process's
	// readiness, bounded, is the only way to know it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		require.True(m.t, time.Now().Before(deadline), "mailpit did not start: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends mailpit (an outage, for a test of retries); Start again brings
// it back on the same ports with the same messages.
func (m *Mailpit) Stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

// Start brings a stopped mailpit back.
func (m *Mailpit) Start() {
	if m.cmd == nil {
		m.start()
	}
}

// MailSummary is one message as mailpit's list shows it.
type MailSummary struct {
	ID          string
	Subject     string
	To          []struct{ Address string }
	Attachments int
}

// Messages lists what mailpit has received, newest first.
func (m *Mailpit) Messages() []MailSummary {
	m.t.Helper()
	var out struct{ Messages []MailSummary }
	m.getJSON("/api/v1/messages", &out)
	return out.Messages
}

// MailMessage is one message read back whole.
type MailMessage struct {
	ID          string
	Subject     string
	Text        string
	To          []struct{ Address string }
	Attachments []struct {
		PartID      string
		FileName    string
		ContentType string
	}
}

// Message reads one message back.
func (m *Mailpit) Message(id string) MailMessage {
	m.t.Helper()
	var out MailMessage
	m.getJSON("/api/v1/message/"+id, &out)
	return out
}

// Part is an attachment's bytes.
func (m *Mailpit) Part(id, part string) []byte {
	m.t.Helper()
	resp, err := http.Get(m.API + "/api/v1/message/" + id + "/part/" + part)
	require.NoError(m.t, err)
	defer resp.Body.Close()
	require.Equal(m.t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(m.t, err)
	return b
}

func (m *Mailpit) getJSON(path string, v any) {
	m.t.Helper()
	resp, err := http.Get(m.API + path)
	require.NoError(m.t, err)
	defer resp.Body.Close()
	require.Equal(m.t, http.StatusOK, resp.StatusCode, path)
	require.NoError(m.t, json.NewDecoder(resp.Body).Decode(v))
}

// mailpitBinary finds mailpit on PATH or in the cache, or builds it there
// (`go install`, once, under a lock that parallel test binaries share).
func mailpitBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	dir := filepath.Join(cache, "tulpar-test", "mailpit-"+MailpitVersion)
	bin := filepath.Join(dir, "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer lock.Close()
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(bin); err == nil {
		return bin // another test binary built it while this one waited
	}
	cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+MailpitVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go install mailpit: %s", out)
	return bin
}
