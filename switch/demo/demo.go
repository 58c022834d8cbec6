package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/fiscal/fiscalsim"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/reportmail"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
)

// The demo's names, shown in its output and used by tests.
const (
	Merchant = "demo-shop"
	// CNPMerchant is a shop of the Processing.kz dialect, its merchantId
	// CNPMerchantID the one the vendor's PHP sample sends.
	CNPMerchant   = "demo-cnp"
	CNPMerchantID = "000000000000015"
	// BankASCII is dialed by the switch and speaks the ascii dialect.
	BankASCII = "alatau-sim"
	// BankBinary dials the switch and speaks the binary dialect.
	BankBinary = "saryarka-sim"
)

// The acquirer ids (DE32) the switch sends each demo bank, and each bank
// expects.
const (
	acquirerASCII  = "400001"
	acquirerBinary = "400002"
)

// Demo is the switch with two simulated banks and a simulated 3-D Secure
// directory server and ACS, all in one process.
type Demo struct {
	*daemon.Daemon
	// Banks are the simulated banks by name (BankASCII, BankBinary).
	Banks  map[string]*issuersim.Bank
	ACSURL string
	// Secrets are the demo merchant's credentials, to print.
	Secrets api.DemoSecrets
	// CAFile is the demo's own CA: its HTTPS certificate chains to it, and
	// clients trust it to talk to the demo (curl --cacert).
	CAFile string
	// MailDir is where the demo's e-mail is written (.eml files).
	MailDir string
	// FiscalURL is the simulated fiscal service the demo merchant's
	// receipts go to.
	FiscalURL string
	Fiscal    *fiscalsim.Server
	sims      *Simulators
	clock     clock
}

// Client is an HTTP client that trusts the demo's CA.
func (d *Demo) Client() *http.Client {
	hc, err := tlsconf.HTTPClient(d.CAFile)
	if err != nil {
		// Start wrote the file; without it no client could trust the demo.
		panic(err)
	}
	return hc
}

// Options configure Start.
type Options struct {
	// DataDir holds the data file and the demo's keys; created if needed.
	// Required by Start; Run makes a temporary one when it is empty.
	DataDir string
	// Listen is the switch's HTTP address. Default 127.0.0.1:8080.
	Listen string
	// CabinetListen is the merchant cabinet's address. Default: Listen's
	// host, the next port (a free one when Listen's port is 0).
	CabinetListen string
	// NoSamples leaves out the sample orders Run makes.
	NoSamples bool
	Log       zerolog.Logger
	// Configure, when set, adjusts the demo's config before the switch
	// starts (tests use it).
	Configure func(*daemon.Config)
}

// SwitchConfig is the config the demo runs: ready to copy into a file.
// dsURL is the 3-D Secure directory server; bankASCII the address of the
// ascii bank, which the switch dials.
func SwitchConfig(dataDir, listen, dsURL, bankASCII string) (daemon.Config, api.DemoSecrets, error) {
	cfg := daemon.DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.AdminListen = dataDir, listen, "127.0.0.1:0"
	// HTTPS with a certificate of the demo's own CA (Start makes them).
	cfg.TLS = &tlsconf.Config{CertFile: filepath.Join(dataDir, "tls", "server.pem"), KeyFile: filepath.Join(dataDir, "tls", "server-key.pem")}
	cfg.HSM.MasterKeyFile = filepath.Join(dataDir, "master.key")
	cfg.HSM.KeyStore = filepath.Join(dataDir, "keys.json")
	cfg.ThreeDS.DirectoryURL = dsURL
	cfg.ExpiryInterval = 10 * time.Second
	a := links.DefaultConfig(BankASCII, "ascii", bankASCII)
	a.AcquirerID, a.EchoInterval = acquirerASCII, 10*time.Second
	b := links.DefaultConfig(BankBinary, "binary")
	b.Side, b.Listen, b.AcquirerID, b.EchoInterval = links.SideListen, "127.0.0.1:0", acquirerBinary, 10*time.Second
	cfg.Links = []links.Config{a, b}
	cfg.Routing = routing.Config{Rules: []routing.RuleConfig{
		{Name: "mastercard-and-mir-to-saryarka", Brands: []string{"mastercard", "mir"},
			Banks: []routing.BankConfig{{Name: BankBinary}, {Name: BankASCII}}},
		{Name: "everything-else-split", Banks: []routing.BankConfig{{Name: BankASCII, Weight: 50}, {Name: BankBinary, Weight: 50}}},
	}}
	cfg.Payments.Merchants = []payments.Merchant{{
		ID: Merchant, Name: "Demo Shop", URL: "https://shop.example.kz", MCC: "5411", City: "Almaty", Country: "KZ",
		Terminals: map[string]payments.Terminal{
			BankASCII:  {TerminalID: "TLPA0001", MerchantID: "000000000000101"},
			BankBinary: {TerminalID: "TLPB0001", MerchantID: "000000000000201"},
		},
	}}
	cfg.Payments.Merchants = append(cfg.Payments.Merchants, payments.Merchant{
		ID: CNPMerchant, Name: "Demo CNP Shop", URL: "https://cnp-shop.example.kz", MCC: "5999", City: "Astana", Country: "KZ",
		Terminals: map[string]payments.Terminal{
			BankASCII:  {TerminalID: "TLPA0002", MerchantID: "000000000000102"},
			BankBinary: {TerminalID: "TLPB0002", MerchantID: "000000000000202"},
		},
	})
	// A shop that speaks the Processing.kz web service, let in from this
	// machine only. No shop listens behind its returnURL in the demo, so
	// the automatic call of it is off here (on by default).
	off := false
	cfg.CNP = cnp.Config{
		IssuerCountries: map[string]string{"4111": "KAZAKHSTAN", "5555": "KAZAKHSTAN", "4444": "KAZAKHSTAN"},
		Merchants: []cnp.MerchantConfig{{
			MerchantID: CNPMerchantID, Merchant: CNPMerchant, AllowedIPs: []string{"127.0.0.1", "::1"},
			ReferencePrefix: "DM", Refunds: true, ReturnURLCall: &off,
		}},
	}
	cfg.SAF.RetryMin, cfg.SAF.RetryMax = 500*time.Millisecond, 10*time.Second
	// A demo has no mail server: its mail is written to a folder as .eml
	// files (mail.host in a config sends it over SMTP). The demo shop
	// gets its daily report there each night, and yesterday's at start.
	cfg.Mail = mailer.Config{Dir: filepath.Join(dataDir, "mail"), From: "Tulpar demo <reports@tulpar.example.kz>"}
	cfg.Reports.Merchants = map[string]reportmail.Subscription{Merchant: {Email: []string{"finance@shop.example.kz"}, Language: "ru"}}
	// The payment page URL follows the address the switch listens on.
	apiCfg, secrets, err := api.DemoCredentials(Merchant, "https://"+listen+"/pay")
	if err != nil {
		return daemon.Config{}, api.DemoSecrets{}, fmt.Errorf("demo: credentials: %w", err)
	}
	apiCfg.PaymentPageURL = ""
	cfg.API = apiCfg
	return cfg, secrets, nil
}

// The demo merchant's account at the simulated fiscal service.
const (
	fiscalLogin    = "+77000000000"
	fiscalPassword = "demo-kassa"
)

// fiscalConfig fiscalizes the demo merchant's sales and returns at the
// fiscal service at url: VAT 12%, receipts from cash register 1.
func fiscalConfig(url string) fiscal.Config {
	vat := 12
	return fiscal.Config{Merchants: map[string]fiscal.Merchant{Merchant: {
		URL: url, Login: fiscalLogin, Password: fiscalPassword, PosID: 1, SectionID: 1, TaxRate: &vat, Email: "receipts@shop.example.kz",
	}}}
}

// Start starts the 3-D Secure simulator, the ascii bank, the switch, and
// then the binary bank, which dials the switch. It returns once all are
// started, not once the links are up: WaitReady waits for those.
func Start(ctx context.Context, o Options) (*Demo, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if err := ensureKeys(o.DataDir); err != nil {
		return nil, err
	}
	ca, err := ensureTLS(o.DataDir, o.Listen)
	if err != nil {
		return nil, err
	}
	d := &Demo{CAFile: ca}
	if err := d.start(ctx, o, filepath.Join(o.DataDir, "tls")); err != nil {
		// Whatever did start stops again: the banks and the ACS are not
		// tied to ctx.
		d.Close(context.Background())
		return nil, err
	}
	return d, nil
}

func (d *Demo) start(ctx context.Context, o Options, tlsDir string) (err error) {
	// The ACS simulator serves the switch's certificate: one CA to trust.
	acsTLS, err := tlsconf.NewSource(tlsconf.Config{CertFile: filepath.Join(tlsDir, "server.pem"), KeyFile: filepath.Join(tlsDir, "server-key.pem")})
	if err != nil {
		return fmt.Errorf("demo: tls: %w", err)
	}
	if d.sims, err = startSimulators(o.Log, forPeople, acsTLS.Server()); err != nil {
		return err
	}
	d.Banks, d.ACSURL = d.sims.banks, d.sims.ACSURL()
	if d.Fiscal, err = fiscalsim.Start("127.0.0.1:0", fiscalsim.Config{Users: map[string]string{fiscalLogin: fiscalPassword}},
		o.Log.With().Str("component", "fiscal-sim").Logger()); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.FiscalURL = d.Fiscal.URL()
	cfg, secrets, err := SwitchConfig(o.DataDir, o.Listen, d.ACSURL, d.sims.ASCIIAddr())
	if err != nil {
		return err
	}
	// Not in SwitchConfig: the bench runs the demo's config, and measures
	// payments, not the fiscal service.
	cfg.Fiscal = fiscalConfig(d.FiscalURL)
	cfg.ThreeDS.TLS = &tlsconf.Config{CAFile: d.CAFile}
	d.Secrets = secrets
	cfg.CabinetListen, cfg.Clock = cabinetAddr(o.CabinetListen, o.Listen), d.clock.Now
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	d.MailDir = cfg.Mail.Dir
	if d.Daemon, err = daemon.Start(ctx, cfg, o.Log); err != nil {
		return err
	}
	if err := d.ensureCabinetUsers(ctx); err != nil {
		return err
	}
	return d.sims.StartBinary(d.Links().Get(BankBinary).Addr())
}

// cabinetAddr is the cabinet's address: as given, or the switch's host on
// the next port.
func cabinetAddr(cabinet, listen string) string {
	if cabinet != "" {
		return cabinet
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "127.0.0.1:0"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 || p >= 65535 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
}

// Close stops the switch, then the banks and the 3-D Secure simulator.
func (d *Demo) Close(ctx context.Context) error {
	var errs []error
	if d.Daemon != nil {
		errs = append(errs, d.Daemon.Shutdown(ctx))
	}
	if d.sims != nil {
		errs = append(errs, d.sims.Close())
	}
	if d.Fiscal != nil {
		errs = append(errs, d.Fiscal.Close())
	}
	return errors.Join(errs...)
}

// ensureKeys creates the demo's data directory, master key and key store
// on first run, so that card data the demo protects survives its restarts.
// The key files are where SwitchConfig names them.
func ensureKeys(dir string) error {
	if dir == "" {
		return errors.New("demo: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg := hsm.DefaultConfig()
	cfg.MasterKeyFile, cfg.KeyStore = filepath.Join(dir, "master.key"), filepath.Join(dir, "keys.json")
	if err := hsm.InitKeyFiles(cfg); err != nil {
		return fmt.Errorf("demo: keys: %w", err)
	}
	return nil
}

// ensureTLS gives the demo its own CA and a server certificate for the
// address it listens on, once: a restarted demo keeps them, so a browser
// told to trust the CA goes on trusting it. It returns the CA's file.
func ensureTLS(dir, listen string) (string, error) {
	tdir := filepath.Join(dir, "tls")
	caFile := filepath.Join(tdir, "demo-ca.pem")
	if _, err := os.Stat(filepath.Join(tdir, "server.pem")); err == nil {
		return caFile, nil
	}
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return "", fmt.Errorf("demo: tls: %w", err)
	}
	ca, err := tlsconf.NewCA(tdir, "demo")
	if err != nil {
		return "", fmt.Errorf("demo: tls: %w", err)
	}
	names := []string{"127.0.0.1", "localhost", "::1"}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		names = append(names, host)
	}
	if _, _, err := ca.Issue(tdir, "server", names...); err != nil {
		return "", fmt.Errorf("demo: tls: %w", err)
	}
	return ca.File, nil
}
