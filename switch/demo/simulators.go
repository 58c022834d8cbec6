package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/issuersim/acs"
	"github.com/tulpar-switch/tulpar/switch/httplog"
)

// sizing is how much the simulators hold: enough for people trying the
// demo, or for a load benchmark.
type sizing struct {
	acs acs.Config
	// cardBalance, when set, is every card's opening balance; zero keeps
	// the default card book's.
	cardBalance int64
}

var (
	// forPeople: the ACS holds at most 100,000 transactions for 15 minutes
	// and the cards hold 500,000 KZT (the simulators' defaults).
	forPeople = sizing{}
	// forLoad: a sale-day run must fail on the switch, not on the
	// simulators: cards no run drains, an ACS that forgets after a minute.
	forLoad = sizing{acs: acs.Config{TTL: time.Minute, MaxTransactions: 10_000_000}, cardBalance: 1 << 50}
)

// Simulators are the demo world's partner banks and 3-D Secure server: the
// ascii bank (BankASCII), which the switch dials; the binary bank
// (BankBinary), which dials the switch and so starts once the switch
// listens (StartBinary); and the directory server with its ACS.
type Simulators struct {
	acs    *http.Server
	acsURL string
	banks  map[string]*issuersim.Bank
	size   sizing
	log    zerolog.Logger
}

// StartSimulators starts the bench's simulators, sized for load, except the
// binary bank, which waits for StartBinary. `tulpar simulators` runs them in
// a process of their own.
func StartSimulators(log zerolog.Logger) (*Simulators, error) {
	return startSimulators(log, forLoad, nil)
}

// startSimulators starts the ACS and the ASCII bank; the ACS serves TLS
// when acsTLS is given (a browser on an HTTPS card page must not post the
// challenge form to plain HTTP).
func startSimulators(log zerolog.Logger, size sizing, acsTLS *tls.Config) (*Simulators, error) {
	s := &Simulators{banks: map[string]*issuersim.Bank{}, size: size, log: log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: acs: %w", err)
	}
	s.acs = &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: httplog.ErrorLog(log, "acs-sim"),
		Handler: acs.New(size.acs, log.With().Str("component", "acs-sim").Logger()).Handler()}
	s.acsURL = "http://" + ln.Addr().String()
	if acsTLS != nil {
		ln = tls.NewListener(ln, acsTLS)
		s.acsURL = "https://" + ln.Addr().String()
	}
	go s.acs.Serve(ln)
	if err := s.bank(BankASCII, "ascii", acquirerASCII, func(c *issuersim.Config) { c.Listen = "127.0.0.1:0" }); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// bank starts a simulated bank for the life of the simulators (a bank's
// Start ties its lifetime to the context it gets, not just its start-up).
func (s *Simulators) bank(name, dialect, acquirer string, set func(*issuersim.Config)) error {
	cfg := issuersim.DefaultConfig()
	cfg.Name, cfg.Dialect, cfg.AcquirerID = name, dialect, acquirer
	if s.size.cardBalance != 0 {
		cfg.Cards = issuersim.DefaultCards()
		for i := range cfg.Cards {
			cfg.Cards[i].Balance = s.size.cardBalance
		}
	}
	set(&cfg)
	b, err := issuersim.New(cfg, s.log.With().Str("component", "bank-sim").Str("bank", name).Logger(), nil)
	if err == nil {
		err = b.Start(context.Background())
	}
	if err != nil {
		return fmt.Errorf("demo: bank %s: %w", name, err)
	}
	s.banks[name] = b
	return nil
}

// ACSURL is the 3-D Secure directory server's base URL.
func (s *Simulators) ACSURL() string { return s.acsURL }

// ASCIIAddr is the address the switch dials for the ascii bank.
func (s *Simulators) ASCIIAddr() string { return s.banks[BankASCII].Addr() }

// StartBinary starts the binary bank, which dials the switch's listening
// link at switchAddr.
func (s *Simulators) StartBinary(switchAddr string) error {
	return s.bank(BankBinary, "binary", acquirerBinary, func(c *issuersim.Config) { c.Listen, c.Dial = "", switchAddr })
}

// Close stops the banks and the 3-D Secure server.
func (s *Simulators) Close() error {
	var errs []error
	for _, b := range s.banks {
		errs = append(errs, b.Close())
	}
	if s.acs != nil {
		errs = append(errs, s.acs.Close())
	}
	return errors.Join(errs...)
}
