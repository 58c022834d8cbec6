package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/cabinet"
	"github.com/tulpar-switch/tulpar/switch/httplog"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// startCabinet serves the merchant cabinet on cabinet_listen, over the
// payments engine and the users kept in the data file.
func (d *Daemon) startCabinet() error {
	ccfg := d.cfg.Cabinet
	guard, err := users.NewGuard(d.reg)
	if err != nil {
		return fmt.Errorf("daemon: cabinet: %w", err)
	}
	ccfg.Users.Guard = guard
	if d.users, err = users.New(d.journal.DB(), ccfg.Users, nil); err != nil {
		return fmt.Errorf("daemon: cabinet: %w", err)
	}
	if d.cabinetLn, err = net.Listen("tcp", d.cfg.CabinetListen); err != nil {
		return fmt.Errorf("daemon: cabinet_listen: %w", err)
	}
	scheme := "http://"
	tcfg := d.cfg.cabinetTLS()
	if tcfg != nil {
		if d.cabinetLn, err = d.serveTLS(d.cabinetLn, *tcfg, "cabinet_tls"); err != nil {
			return err
		}
		scheme = "https://"
	}
	public := strings.TrimSuffix(ccfg.PublicURL, "/")
	if public == "" {
		public = scheme + d.cabinetLn.Addr().String()
	}
	d.cabinetURL = public
	log := d.log.With().Str("component", "cabinet").Logger()
	c, err := cabinet.New(d.payments, d.users, ccfg, public, log)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	c.PaymentLinks(d.paylinks)
	if len(d.cfg.Fiscal.Merchants) > 0 {
		c.FiscalFailures(func(merchant string) (int, error) {
			n := 0
			for id := range d.cfg.Fiscal.Merchants {
				if merchant != "" && id != merchant {
					continue
				}
				dead, err := d.FiscalDeadLetters(id)
				if err != nil {
					return 0, err
				}
				n += len(dead)
			}
			return n, nil
		})
	}
	if d.reports != nil {
		c.SpecialReports(d.reports.QueueSpecial)
		d.reports.Special(c.RenderSpecial)
	}
	c.UnsignedCallbacks(func(merchant string) bool {
		for _, m := range d.cfg.API.Merchants {
			if m.Merchant == merchant && m.CallbackSecret != "" {
				return false
			}
		}
		t, ok := d.cfg.Callbacks.Merchants[merchant]
		return !ok || t.Unsigned || t.Secret == ""
	})
	if !strings.HasPrefix(public, "https://") {
		if host, _, _ := net.SplitHostPort(d.cabinetLn.Addr().String()); !net.ParseIP(host).IsLoopback() {
			log.Warn().Str("url", public).Msg("cabinet served over plain http on a non-loopback address: its cookies are not Secure; set cabinet.public_url to its https address behind a TLS proxy")
		}
	}
	cfg := d.cfg.HTTP
	// The merchants' port's defaults (no framing, nosniff, a deny-all
	// policy the cabinet's pages widen to their own stylesheet, HSTS under
	// TLS) on every answer, the 503 below included.
	d.cabinet = &http.Server{Handler: d.web("cabinet", secureDefaults(d.cabinetGuard(c.Handler()), tcfg != nil)), ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, ErrorLog: httplog.ErrorLog(d.log, "cabinet")}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.cabinet.Serve(d.cabinetLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("cabinet server stopped")
		}
	}()
	return nil
}

// cabinetGuard answers 503 until recovery is done, and refuses changes
// (POST) while the journal cannot write; reading goes on.
func (d *Daemon) cabinetGuard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.recovered.Load() || r.Method == http.MethodPost && d.writable() != nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "The cabinet is temporarily unavailable: try again in a minute.", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// CabinetURL is the merchant cabinet's base URL ("" when there is none).
func (d *Daemon) CabinetURL() string { return d.cabinetURL }

// Users is the cabinet's user store (nil when there is no cabinet).
func (d *Daemon) Users() *users.Store { return d.users }
