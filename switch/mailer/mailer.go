// Package mailer sends the switch's e-mail: merchants' daily reports
// today, and invoices and receipts to buyers through the same door. It is
// one SMTP client (github.com/wneessen/go-mail) configured once, with
// STARTTLS or implicit TLS and authentication as the operator's mail
// server wants, or, for a demo without a mail server, a folder the
// messages are written to as .eml files.
//
// Sending is at least once: a caller that retries after a timeout may
// deliver a message twice (SMTP has no idempotency), which is why the
// callers queue messages in store-and-forward and journal each attempt.
package mailer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Config is the mail section of the daemon's config.
type Config struct {
	// Host and Port are the SMTP server (submission). Port defaults to 587
	// with starttls, 465 with tls and 25 with none.
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// Security is starttls (default: the server must offer it), tls
	// (implicit TLS, "SMTPS") or none (a relay on loopback or a test
	// catcher only: credentials are never sent without TLS).
	Security string `yaml:"security"`
	// CAFile, when set, is the only CA trusted for the server's
	// certificate (a private relay); otherwise the system's.
	CAFile string `yaml:"ca_file"`
	// Username and the password (from the environment variable
	// PasswordEnv, or Password in tests) sign in; empty Username: no
	// authentication.
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	Password    string `yaml:"password"`
	// From is the sender, e.g. "Tulpar <noreply@pay.example.kz>".
	From string `yaml:"from"`
	// Timeout bounds one delivery (connect, TLS, the whole transaction).
	// Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Dir, instead of Host, writes each message to this folder as an .eml
	// file (a demo without a mail server; mail clients open them).
	Dir string `yaml:"dir"`
}

// String keeps the password out of logs.
func (c Config) String() string {
	return fmt.Sprintf("{Host:%s Port:%d Security:%s Username:%s From:%s Dir:%s}", c.Host, c.Port, c.Security, c.Username, c.From, c.Dir)
}

// Enabled says whether mail is configured at all.
func (c Config) Enabled() bool { return c.Host != "" || c.Dir != "" }

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 30 * time.Second

// Validate checks the section; errors name the key.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("mail: "+format, a...)) }
	if c.Host != "" && c.Dir != "" {
		bad("host, dir: one or the other")
	}
	switch c.Security {
	case "", "starttls", "tls", "none":
	default:
		bad("security: %q: want starttls, tls or none", c.Security)
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port: %d: out of range", c.Port)
	}
	if c.Security == "none" && c.Username != "" {
		bad("username: credentials are never sent without TLS (security: none)")
	}
	if c.Username != "" && c.PasswordEnv == "" && c.Password == "" {
		bad("password_env: required with username")
	}
	if c.PasswordEnv != "" && os.Getenv(c.PasswordEnv) == "" {
		bad("password_env: environment variable %s is empty", c.PasswordEnv)
	}
	if c.From == "" {
		bad("from: required")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		bad("from: %q: %v", c.From, err)
	}
	if c.Timeout < 0 {
		bad("timeout: must not be negative")
	}
	if c.CAFile != "" {
		if _, err := os.ReadFile(c.CAFile); err != nil {
			bad("ca_file: %v", err)
		}
	}
	return errors.Join(errs...)
}

// Message is one e-mail.
type Message struct {
	To      []string
	Subject string
	// Text is the plain-text body; HTML, when set, an alternative the
	// mail client may show instead.
	Text, HTML  string
	Attachments []Attachment
}

// Attachment is a file sent with a message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Mailer sends messages. Safe for concurrent use: each Send is its own
// SMTP session (reports and invoices are few; a pooled connection would
// hold a server slot all day for them).
type Mailer struct {
	cfg  Config
	tls  *tls.Config
	seq  atomic.Uint64
	pass string
}

// New checks cfg and returns its Mailer.
func New(cfg Config) (*Mailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("mail: neither host nor dir is configured")
	}
	if cfg.Security == "" {
		cfg.Security = "starttls"
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[cfg.Security]
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	m := &Mailer{cfg: cfg, pass: cfg.Password, tls: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}}
	if cfg.PasswordEnv != "" {
		m.pass = os.Getenv(cfg.PasswordEnv)
	}
	if cfg.CAFile != "" {
		pem, _ := os.ReadFile(cfg.CAFile) // Validate read it
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail: ca_file: %s: no PEM certificate", cfg.CAFile)
		}
		m.tls.RootCAs = pool
	}
	return m, nil
}

// Describe says where mail goes, for a start-up banner.
func (m *Mailer) Describe() string {
	if m.cfg.Dir != "" {
		return "written as .eml files to " + m.cfg.Dir
	}
	return fmt.Sprintf("SMTP %s (%s)", net.JoinHostPort(m.cfg.Host, fmt.Sprint(m.cfg.Port)), m.cfg.Security)
}

// Send delivers msg, or writes it to the folder. Errors name the step and
// never carry the password.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	gm, err := m.build(msg)
	if err != nil {
		return err
	}
	if m.cfg.Dir != "" {
		return m.write(gm)
	}
	opts := []gomail.Option{gomail.WithPort(m.cfg.Port), gomail.WithTimeout(m.cfg.Timeout), gomail.WithTLSConfig(m.tls)}
	switch m.cfg.Security {
	case "tls":
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if m.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.cfg.Username), gomail.WithPassword(m.pass))
	}
	c, err := gomail.NewClient(m.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, gm); err != nil {
		return fmt.Errorf("mail: send to %s: %w", strings.Join(msg.To, ", "), err)
	}
	return nil
}

func (m *Mailer) build(msg Message) (*gomail.Msg, error) {
	if len(msg.To) == 0 {
		return nil, errors.New("mail: no recipient")
	}
	gm := gomail.NewMsg()
	if err := gm.From(m.cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	if err := gm.To(msg.To...); err != nil {
		return nil, fmt.Errorf("mail: to: %w", err)
	}
	gm.Subject(msg.Subject)
	gm.SetDate()
	gm.SetMessageID()
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	for _, a := range msg.Attachments {
		var opts []gomail.FileOption
		if a.ContentType != "" {
			opts = append(opts, gomail.WithFileContentType(gomail.ContentType(a.ContentType)))
		}
		if err := gm.AttachReader(a.Name, bytes.NewReader(a.Data), opts...); err != nil {
			return nil, fmt.Errorf("mail: attachment %s: %w", a.Name, err)
		}
	}
	return gm, nil
}

// write puts the message in the folder under a name that sorts by time and
// never collides, written whole then renamed so a reader never sees half.
func (m *Mailer) write(gm *gomail.Msg) error {
	if err := os.MkdirAll(m.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("mail: dir: %w", err)
	}
	name := fmt.Sprintf("%s-%06d.eml", time.Now().UTC().Format("20060102T150405.000000000"), m.seq.Add(1))
	tmp := filepath.Join(m.cfg.Dir, "."+name+".tmp")
	if err := gm.WriteToFile(tmp); err != nil {
		return fmt.Errorf("mail: dir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.cfg.Dir, name)); err != nil {
		return fmt.Errorf("mail: dir: %w", err)
	}
	return nil
}
