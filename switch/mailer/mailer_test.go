package mailer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestSendOverSTARTTLS: a message with an attachment goes through a real
// SMTP server that requires STARTTLS, trusted by the configured CA, with
// authentication, and reads back whole.
func TestSendOverSTARTTLS(t *testing.T) {
	mp := switchtest.StartMailpit(t, switchtest.MailpitOptions{TLS: true})
	t.Setenv("TEST_SMTP_PASSWORD", "secret")
	m, err := mailer.New(mailer.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, CAFile: mp.CAFile,
		Username: "reports", PasswordEnv: "TEST_SMTP_PASSWORD", From: "Tulpar <noreply@tulpar.test>"})
	require.NoError(t, err)
	require.Contains(t, m.Describe(), "(starttls)")
	err = m.Send(context.Background(), mailer.Message{To: []string{"shop@example.kz"}, Subject: "Отчёт за 2026-12-05",
		Text: "Операций: 3", Attachments: []mailer.Attachment{{Name: "report.csv", ContentType: "text/csv", Data: []byte("a,b\n1,2\n")}}})
	require.NoError(t, err)
	list := mp.Messages()
	require.Len(t, list, 1)
	got := mp.Message(list[0].ID)
	require.Equal(t, "Отчёт за 2026-12-05", got.Subject)
	require.Equal(t, "shop@example.kz", got.To[0].Address)
	require.Contains(t, got.Text, "Операций: 3")
	require.Len(t, got.Attachments, 1)
	require.Equal(t, "report.csv", got.Attachments[0].FileName)
	require.Equal(t, "a,b\n1,2\n", string(mp.Part(got.ID, got.Attachments[0].PartID)))
}

// TestSendRefusesPlainServer: with starttls (the default) a server that
// does not offer it gets nothing, the password least of all.
func TestSendRefusesPlainServer(t *testing.T) {
	mp := switchtest.StartMailpit(t, switchtest.MailpitOptions{})
	m, err := mailer.New(mailer.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, Username: "u", Password: "pw-secret-9", From: "noreply@tulpar.test"})
	require.NoError(t, err)
	err = m.Send(context.Background(), mailer.Message{To: []string{"shop@example.kz"}, Subject: "x", Text: "x"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "STARTTLS")
	require.NotContains(t, err.Error(), "pw-secret-9")
	require.Empty(t, mp.Messages())

	plain, err := mailer.New(mailer.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, Security: "none", From: "noreply@tulpar.test"})
	require.NoError(t, err)
	require.NoError(t, plain.Send(context.Background(), mailer.Message{To: []string{"shop@example.kz"}, Subject: "x", Text: "x"}))
	require.Len(t, mp.Messages(), 1, "security: none is explicit")
}

// TestSendToFolder: without a server, messages are written whole as .eml.
func TestSendToFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	m, err := mailer.New(mailer.Config{Dir: dir, From: "noreply@tulpar.test"})
	require.NoError(t, err)
	require.NoError(t, m.Send(context.Background(), mailer.Message{To: []string{"a@example.kz"}, Subject: "one", Text: "body"}))
	require.NoError(t, m.Send(context.Background(), mailer.Message{To: []string{"a@example.kz"}, Subject: "two", Text: "body"}))
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 2)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(b), "Subject: one")
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg  mailer.Config
		want string
	}{
		{mailer.Config{Host: "smtp.kz"}, "mail: from: required"},
		{mailer.Config{Host: "smtp.kz", From: "not an address"}, "mail: from:"},
		{mailer.Config{Host: "smtp.kz", Dir: "/tmp/x", From: "a@b.kz"}, "mail: host, dir: one or the other"},
		{mailer.Config{Host: "smtp.kz", Security: "ssl", From: "a@b.kz"}, `mail: security: "ssl": want starttls, tls or none`},
		{mailer.Config{Host: "smtp.kz", Security: "none", Username: "u", Password: "p", From: "a@b.kz"}, "mail: username: credentials are never sent without TLS"},
		{mailer.Config{Host: "smtp.kz", Username: "u", From: "a@b.kz"}, "mail: password_env: required with username"},
		{mailer.Config{Host: "smtp.kz", Username: "u", PasswordEnv: "TULPAR_TEST_UNSET_VAR", From: "a@b.kz"}, "mail: password_env: environment variable TULPAR_TEST_UNSET_VAR is empty"},
		{mailer.Config{Host: "smtp.kz", Port: 70000, From: "a@b.kz"}, "mail: port: 70000: out of range"},
	} {
		err := tc.cfg.Validate()
		require.Error(t, err, tc.want)
		require.True(t, strings.Contains(err.Error(), tc.want), "%v does not contain %q", err, tc.want)
	}
	require.NotContains(t, mailer.Config{Host: "h", Password: "top-secret"}.String(), "top-secret")
}
