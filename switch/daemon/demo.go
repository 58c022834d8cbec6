package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/issuersim/acs"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// Demo is the switch with two simulated banks and a simulated 3-D Secure
// directory server and ACS, all in one process.
type Demo struct {
	*Daemon
	Banks  map[string]*issuersim.Bank
	ACSURL string
	// Secrets are the demo merchant's credentials, to print.
	Secrets api.DemoSecrets
	acs     *http.Server
}

// DemoOptions configure StartDemo.
type DemoOptions struct {
	// DataDir holds the data file and the demo's keys; created if needed.
	DataDir string
	// Listen is the switch's HTTP address. Default 127.0.0.1:8080.
	Listen string
	Log    zerolog.Logger
	// Configure, when set, adjusts the demo's config before the switch
	// starts (tests and the bench use it).
	Configure func(*Config)
}

// The demo's names, shown in its output and used by tests.
const (
	DemoMerchant = "demo-shop"
	// DemoBankASCII is dialed by the switch and speaks the ascii dialect.
	DemoBankASCII = "alatau-sim"
	// DemoBankBinary dials the switch and speaks the binary dialect.
	DemoBankBinary = "saryarka-sim"
)

// DemoConfig is the config the demo runs: ready to copy into a file.
// dsURL is the 3-D Secure directory server; bankASCII the address of the
// ascii bank, which the switch dials.
func DemoConfig(dataDir, listen, dsURL, bankASCII string) (Config, api.DemoSecrets, error) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.AdminListen = dataDir, listen, "127.0.0.1:0"
	cfg.HSM.MasterKeyFile = filepath.Join(dataDir, "master.key")
	cfg.HSM.KeyStore = filepath.Join(dataDir, "keys.json")
	cfg.ThreeDS.DirectoryURL = dsURL
	cfg.ExpiryInterval = 10 * time.Second
	a := links.DefaultConfig(DemoBankASCII, "ascii", bankASCII)
	a.AcquirerID, a.EchoInterval = "400001", 10*time.Second
	b := links.DefaultConfig(DemoBankBinary, "binary")
	b.Side, b.Listen, b.AcquirerID, b.EchoInterval = links.SideListen, "127.0.0.1:0", "400002", 10*time.Second
	cfg.Links = []links.Config{a, b}
	cfg.Routing = routing.Config{Rules: []routing.RuleConfig{
		{Name: "mastercard-and-mir-to-saryarka", Brands: []string{"mastercard", "mir"},
			Banks: []routing.BankConfig{{Name: DemoBankBinary}, {Name: DemoBankASCII}}},
		{Name: "everything-else-split", Banks: []routing.BankConfig{{Name: DemoBankASCII, Weight: 50}, {Name: DemoBankBinary, Weight: 50}}},
	}}
	cfg.Payments.Merchants = []payments.Merchant{{
		ID: DemoMerchant, Name: "Demo Shop", URL: "https://shop.example.kz", MCC: "5411", City: "Almaty", Country: "KZ",
		Terminals: map[string]payments.Terminal{
			DemoBankASCII:  {TerminalID: "TLPA0001", MerchantID: "000000000000101"},
			DemoBankBinary: {TerminalID: "TLPB0001", MerchantID: "000000000000201"},
		},
	}}
	cfg.SAF.RetryMin, cfg.SAF.RetryMax = 500*time.Millisecond, 10*time.Second
	// The payment page URL follows the address the switch listens on.
	apiCfg, secrets, err := api.DemoCredentials(DemoMerchant, "http://"+listen+"/pay")
	if err != nil {
		return Config{}, api.DemoSecrets{}, fmt.Errorf("demo: credentials: %w", err)
	}
	apiCfg.PaymentPageURL = ""
	cfg.API = apiCfg
	return cfg, secrets, nil
}

// StartDemo starts the 3-D Secure simulator, the ascii bank, the switch,
// and then the binary bank, which dials the switch.
func StartDemo(ctx context.Context, o DemoOptions) (demo *Demo, err error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := ensureDemoKeys(o.DataDir); err != nil {
		return nil, err
	}
	demo = &Demo{Banks: map[string]*issuersim.Bank{}}
	defer func() {
		if err != nil {
			demo.Close(context.Background())
		}
	}()
	acsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: acs: %w", err)
	}
	demo.ACSURL = "http://" + acsLn.Addr().String()
	demo.acs = &http.Server{Handler: acs.New(acs.Config{}, o.Log.With().Str("component", "acs-sim").Logger()).Handler(), ReadHeaderTimeout: 10 * time.Second}
	go demo.acs.Serve(acsLn)

	asciiCfg := issuersim.DefaultConfig()
	asciiCfg.Name, asciiCfg.Dialect, asciiCfg.Listen, asciiCfg.AcquirerID = DemoBankASCII, "ascii", "127.0.0.1:0", "400001"
	if err := demo.startBank(ctx, asciiCfg, o.Log); err != nil {
		return nil, err
	}
	cfg, secrets, err := DemoConfig(o.DataDir, o.Listen, demo.ACSURL, demo.Banks[DemoBankASCII].Addr())
	if err != nil {
		return nil, err
	}
	demo.Secrets = secrets
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	if demo.Daemon, err = Start(ctx, cfg, o.Log); err != nil {
		return nil, err
	}
	binCfg := issuersim.DefaultConfig()
	binCfg.Name, binCfg.Dialect, binCfg.Dial, binCfg.AcquirerID = DemoBankBinary, "binary", demo.Links().Get(DemoBankBinary).Addr(), "400002"
	binCfg.Listen = ""
	if err := demo.startBank(ctx, binCfg, o.Log); err != nil {
		return nil, err
	}
	return demo, nil
}

// startBank starts a simulated bank for the life of the demo (a bank's
// Start ties its lifetime to the context it gets, not just its start-up).
func (d *Demo) startBank(_ context.Context, cfg issuersim.Config, log zerolog.Logger) error {
	b, err := issuersim.New(cfg, log.With().Str("component", "bank-sim").Str("bank", cfg.Name).Logger(), nil)
	if err != nil {
		return fmt.Errorf("demo: bank %s: %w", cfg.Name, err)
	}
	if err := b.Start(context.Background()); err != nil {
		return fmt.Errorf("demo: bank %s: %w", cfg.Name, err)
	}
	d.Banks[cfg.Name] = b
	return nil
}

// Close stops the switch, then the banks and the 3-D Secure simulator.
func (d *Demo) Close(ctx context.Context) error {
	var errs []error
	if d.Daemon != nil {
		errs = append(errs, d.Daemon.Shutdown(ctx))
	}
	for _, b := range d.Banks {
		errs = append(errs, b.Close())
	}
	if d.acs != nil {
		errs = append(errs, d.acs.Close())
	}
	return errors.Join(errs...)
}

// ensureDemoKeys creates the demo's master key and key store on first run,
// so that card data the demo protects survives its restarts.
func ensureDemoKeys(dir string) error {
	cfg := hsm.DefaultConfig()
	cfg.MasterKeyFile, cfg.KeyStore = filepath.Join(dir, "master.key"), filepath.Join(dir, "keys.json")
	if err := hsm.InitKeyFiles(cfg); err != nil {
		return fmt.Errorf("demo: keys: %w", err)
	}
	return nil
}
