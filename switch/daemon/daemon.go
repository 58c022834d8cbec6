package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/httplog"
	"github.com/tulpar-switch/tulpar/switch/httpmetrics"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/receipt"
	"github.com/tulpar-switch/tulpar/switch/reportmail"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/threeds"
	"github.com/tulpar-switch/tulpar/switch/tlsconf"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// Daemon is a running switch.
type Daemon struct {
	cfg      Config
	log      zerolog.Logger
	proxies  clientip.Proxies // whose X-Forwarded-For the web listeners believe
	httpm    *httpmetrics.Metrics
	kicks    *kicker
	reg      *prometheus.Registry
	hsm      hsm.Module
	journal  *journal.Journal
	links    *links.Set
	banks    bankLinks
	saf      *saf.Queue
	payments *payments.Service
	receipts *receipt.Handler
	paylinks *paylinks.Service
	// mail is the one mailer (nil until asked for; see mailer()).
	mail    *mailer.Mailer
	reports *reportmail.Sender // nil without mail
	ln      net.Listener
	http    *http.Server
	adminLn net.Listener
	admin   *http.Server
	// cnpLn and cnpHTTP are the Processing.kz service's own TLS listener
	// (cnp.tls), when configured.
	cnpLn   net.Listener
	cnpHTTP *http.Server
	cnp     http.Handler
	// The merchant cabinet (cabinet.go), when cabinet_listen is set.
	cabinetLn  net.Listener
	cabinet    *http.Server
	cabinetURL string
	users      *users.Store
	recovered  atomic.Bool
	// archiveFailures counts failed closings of a journal day (archive.go).
	archiveFailures prometheus.Counter
	archiveLoc      *time.Location // journal_archive.time_zone
	mux             *http.ServeMux
	url             string
	gate            *gate

	stop     context.CancelFunc
	wg       sync.WaitGroup
	unsol    chan journal.Entry
	stopOnce sync.Once
	stopErr  error
}

// Start opens everything the config describes and returns once the HTTP
// server listens. Bank links come up in the background; /readyz says when
// one is ready. On an error Start undoes what it opened (the data file's
// lock is released) and returns the failing component's error wrapped with
// "daemon: ", so a caller can still match it (journal.ErrDamaged).
func Start(ctx context.Context, cfg Config, log zerolog.Logger) (_ *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	// d is a local, not the named result: every error return sets the
	// result to nil, and the cleanup below must still see what was opened.
	d := &Daemon{cfg: cfg, log: log, reg: prometheus.NewRegistry(), stop: stop, mux: http.NewServeMux(),
		unsol: make(chan journal.Entry, 1024), gate: newGate()}
	d.proxies, _ = clientip.ParseProxies(cfg.HTTP.TrustedProxies) // checked by Validate
	d.kicks = newKicker(time.Second, func(bank string) { d.saf.Kick(bank) })
	defer func() {
		if err != nil {
			d.Shutdown(context.Background())
		}
	}()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.httpm, err = httpmetrics.New(d.reg); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}

	if d.hsm, err = openHSM(cfg.HSM); err != nil {
		return nil, fmt.Errorf("daemon: hsm: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: data_dir: %w", err)
	}
	d.journal, err = journal.Open(filepath.Join(cfg.DataDir, journal.DataFile), journal.Options{
		Logger: log.With().Str("component", "journal").Logger(), Registerer: d.reg, ArchiveDir: cfg.JournalArchive.Dir,
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if err := d.archiveMetrics(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.links, err = links.NewSet(cfg.Links, links.Deps{
		Log: log.With().Str("component", "links").Logger(), Registry: d.reg, MAC: d.hsm,
		Keys: newKeyImporter(d.hsm, cfg.Links), OnUnsolicited: d.unsolicited,
		// A bank signed on again takes its queued advices now, not after
		// the backoff the queue was waiting out while the link was down.
		// On every connection that signs on (a bank may come back on a new
		// one while the link still counts a dead one as live), at most
		// once a second per bank. d.saf is set below, before Run starts
		// the links.
		OnSignedOn: d.kicks.signedOn,
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: links: %w", err)
	}
	d.banks = bankLinks{d.links}
	router, err := routing.New(cfg.Routing, cfg.linkNames())
	if err != nil {
		return nil, fmt.Errorf("daemon: routing: %w", err)
	}
	kinds := kindMux{}
	d.saf, err = saf.New(d.journal.DB(), saf.Config{
		RetryMin: cfg.SAF.RetryMin, RetryMax: cfg.SAF.RetryMax, MaxAttempts: cfg.SAF.MaxAttempts, AttemptTimeout: cfg.SAF.AttemptTimeout,
		// What must follow what is an order's advices (a completion, then
		// its reversal), its callbacks, its fiscal receipts: the rest of a
		// bank's queue goes at once, as its payments do.
		PerOrder: true,
		Update:   d.journal.Update,
	}, kinds, log.With().Str("component", "saf").Logger(), d.reg)
	if err != nil {
		return nil, fmt.Errorf("daemon: saf: %w", err)
	}
	deps := payments.Deps{
		Journal: d.journal, Banks: d.banks, Router: router, Vault: d.hsm, SAF: d.saf,
		Log: log.With().Str("component", "payments").Logger(), Now: cfg.Clock,
	}
	if cfg.ThreeDS.DirectoryURL != "" {
		hc := threeds.HTTPClient(cfg.ThreeDS.Timeout)
		if cfg.ThreeDS.TLS != nil {
			tr, err := d.tlsTransport(*cfg.ThreeDS.TLS, "threeds.tls")
			if err != nil {
				return nil, err
			}
			hc.Transport = threeds.Pooled(tr)
		}
		ds := threeds.NewClient(cfg.ThreeDS.DirectoryURL, hc)
		if err := ds.Instrument(d.reg); err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		deps.ThreeDS = ds
	}
	// Listen before wiring the web side: its URLs need the real address
	// when the config asks for port 0.
	if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("daemon: listen: %w", err)
	}
	scheme := "http://"
	if cfg.TLS != nil {
		if d.ln, err = d.serveTLS(d.ln, *cfg.TLS, "tls"); err != nil {
			return nil, err
		}
		scheme = "https://"
	}
	d.url = strings.TrimSuffix(cfg.PublicURL, "/")
	if d.url == "" {
		d.url = scheme + d.ln.Addr().String()
	}
	if t := cfg.CNP.TLS; t.Listen != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: cnp.tls: %w", err)
		}
		// Any client certificate, or none: each merchant's pinned
		// fingerprints decide (switch/cnp), and the handshake has proved
		// the client holds the certificate's key.
		d.cnpLn, err = tls.Listen("tcp", t.Listen, &tls.Config{Certificates: []tls.Certificate{cert},
			ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12})
		if err != nil {
			return nil, fmt.Errorf("daemon: cnp.tls.listen: %w", err)
		}
	}
	if err := d.wireCallbacks(&deps, kinds); err != nil {
		return nil, err
	}
	if d.reports, err = d.wireReports(kinds); err != nil {
		return nil, err
	}
	if err := d.wireFiscal(&deps, kinds); err != nil {
		return nil, err
	}
	if err := d.wireReceipts(&deps, kinds); err != nil {
		return nil, err
	}
	if d.payments, err = payments.New(cfg.Payments, deps); err != nil {
		return nil, fmt.Errorf("daemon: payments: %w", err)
	}
	if err := d.mountMerchantSide(kinds); err != nil {
		return nil, err
	}
	kinds[order.KindReversalAdvice] = d.payments
	kinds[order.KindCompletionAdvice] = d.payments

	// Finish what a crash left before anything new starts.
	if n, err := d.payments.Recover(ctx); err != nil {
		return nil, fmt.Errorf("daemon: recover: %w", err)
	} else if n > 0 {
		log.Warn().Int("orders", n).Msg("recovered exchanges with unknown outcome: reversals queued")
	}
	d.recovered.Store(true)
	if err := d.links.Start(runCtx); err != nil {
		return nil, fmt.Errorf("daemon: links: %w", err)
	}
	if err := d.saf.Start(runCtx); err != nil {
		return nil, fmt.Errorf("daemon: saf: %w", err)
	}
	if d.reports != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.reports.Run(runCtx)
		}()
	}
	d.wg.Add(5)
	go d.journalUnsolicited()
	go d.every(runCtx, d.cfg.ExpiryInterval, d.expireDue)
	go d.every(runCtx, d.cfg.MappedReleaseInterval, d.releaseMapped)
	if !d.cfg.JournalArchive.Off {
		// Each business day of the journal into an archive file once the
		// day is over (first a day that ended while the switch was down),
		// and archives past their retention pruned.
		d.wg.Add(1)
		go func() {
			d.closeJournalDays()
			d.every(runCtx, archiveEvery, func(context.Context) { d.closeJournalDays() })
		}()
	}
	go d.every(runCtx, d.cfg.JournalProbeInterval, d.checkJournal)
	go d.openWhenReady(runCtx)
	d.reg.MustRegister(healthCollector{d})

	if err := d.mountHTTP(); err != nil {
		return nil, err
	}
	if d.sharedAddress() {
		log.Warn().Msg("plain_http without http.trusted_proxies: behind a proxy every client has the proxy's address, so lockouts by address apply to all clients together, the proxy is every cabinet user's known network (any guesser's wrong passwords lock the account everywhere) and the buyers' limits (hpp.card_attempts, payment_links.orders_per_address) are off unless set; name the proxy in http.trusted_proxies")
	}
	handler := d.web("merchant", secureDefaults(d.mux, cfg.TLS != nil))
	d.http = &http.Server{Handler: handler, ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, ReadTimeout: cfg.HTTP.ReadTimeout,
		WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout, ErrorLog: httplog.ErrorLog(log, "merchant")}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.http.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server stopped")
		}
	}()
	if d.cnpLn != nil {
		mux := http.NewServeMux()
		mux.Handle(cnp.Prefix, d.cnp)
		// Not through the trusted proxies: this listener exists to see the
		// shops' client certificates, which only a direct connection
		// shows, so its peer is the shop and no header names another.
		d.cnpHTTP = &http.Server{Handler: d.httpm.Handler("cnp", mux), ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, ReadTimeout: cfg.HTTP.ReadTimeout,
			WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout, ErrorLog: httplog.ErrorLog(log, "cnp")}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.cnpHTTP.Serve(d.cnpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("cnp TLS server stopped")
			}
		}()
	}
	if cfg.AdminListen != "" {
		if d.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			return nil, fmt.Errorf("daemon: admin_listen: %w", err)
		}
		if cfg.AdminTLS != nil {
			if d.adminLn, err = d.serveTLS(d.adminLn, *cfg.AdminTLS, "admin_tls"); err != nil {
				return nil, err
			}
		}
		d.admin = &http.Server{Handler: d.web("admin", d.adminHandler()), ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, ErrorLog: httplog.ErrorLog(log, "admin")}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.admin.Serve(d.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("admin server stopped")
			}
		}()
	}
	if cfg.CabinetListen != "" {
		if err := d.startCabinet(); err != nil {
			return nil, err
		}
	}
	log.Info().Str("url", d.url).Str("cabinet", d.cabinetURL).Str("data", filepath.Join(cfg.DataDir, journal.DataFile)).Msg("tulpar started")
	return d, nil
}

// Run starts the daemon and serves until ctx ends, then stops gracefully.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	d, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return d.Shutdown(sctx)
}

// URL is the switch's base URL.
func (d *Daemon) URL() string { return d.url }

// Addr is the address the HTTP server listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// AdminURL is the operators' endpoint ("" when disabled).
func (d *Daemon) AdminURL() string {
	if d.adminLn == nil {
		return ""
	}
	if d.cfg.AdminTLS != nil {
		return "https://" + d.adminLn.Addr().String()
	}
	return "http://" + d.adminLn.Addr().String()
}

// CNPTLSAddr is the address of the Processing.kz service's TLS listener
// ("" when none).
func (d *Daemon) CNPTLSAddr() string {
	if d.cnpLn == nil {
		return ""
	}
	return d.cnpLn.Addr().String()
}

// Payments is the payment service (tests and the bench drive it directly).
func (d *Daemon) Payments() *payments.Service { return d.payments }

// Receipts makes the orders' receipt links and serves them.
func (d *Daemon) Receipts() *receipt.Handler { return d.receipts }

// PaymentLinks is the payment links and invoices service.
func (d *Daemon) PaymentLinks() *paylinks.Service { return d.paylinks }

// Journal is the journal.
func (d *Daemon) Journal() *journal.Journal { return d.journal }

// Links is the set of bank links.
func (d *Daemon) Links() *links.Set { return d.links }

// SAF is the store-and-forward queue.
func (d *Daemon) SAF() *saf.Queue { return d.saf }

// Registry is the daemon's Prometheus registry.
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Shutdown stops in order: no new HTTP requests, in-flight ones finish;
// then store-and-forward and the bank links (signing off); the journal is
// flushed and closed last.
//
// Shutdown is also Start's cleanup when Start fails half-way, so it checks
// every part before stopping it: whatever is nil was never opened.
func (d *Daemon) Shutdown(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.stopOnce.Do(func() {
		var errs []error
		if d.http != nil {
			errs = append(errs, d.http.Shutdown(ctx))
		} else if d.ln != nil {
			d.ln.Close()
		}
		if d.admin != nil {
			errs = append(errs, d.admin.Shutdown(ctx))
		} else if d.adminLn != nil {
			d.adminLn.Close()
		}
		if d.cnpHTTP != nil {
			errs = append(errs, d.cnpHTTP.Shutdown(ctx))
		} else if d.cnpLn != nil {
			d.cnpLn.Close()
		}
		if d.cabinet != nil {
			errs = append(errs, d.cabinet.Shutdown(ctx))
		} else if d.cabinetLn != nil {
			d.cabinetLn.Close()
		}
		if d.saf != nil {
			errs = append(errs, d.saf.Close(ctx))
		}
		if d.links != nil {
			errs = append(errs, d.links.Close(ctx))
		}
		if d.stop != nil {
			d.stop()
		}
		if d.unsol != nil {
			close(d.unsol)
		}
		d.wg.Wait()
		if d.journal != nil {
			errs = append(errs, d.journal.Close())
		}
		if c, ok := d.hsm.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
		d.stopErr = errors.Join(errs...)
	})
	return d.stopErr
}

// unsolicited journals what a link could not hand to a caller (late and
// unmatched responses). The link's reader must not wait for a disk, so the
// entry goes through a bounded queue; an overflow is logged, never silent.
func (d *Daemon) unsolicited(link string, m *iso.Message, late bool) {
	codec, _ := d.banks.Codec(link)
	kind, channel := "unmatched", order.ChannelUnmatched(link)
	if late {
		kind, channel = "late", order.ChannelLate(link)
	}
	d.log.Warn().Str("link", link).Str("kind", kind).Object("msg", m).Msg("unsolicited message from bank")
	// The PAN is not kept: which order the message belongs to is not known
	// here, so neither is the ciphertext the order holds.
	// The order it belongs to, when it answers a request sent recently: so
	// the order's history and replay show it.
	e := journal.Entry{Direction: journal.In, Channel: channel, OrderID: d.payments.OrderOf(link, m), MTI: m.MTI, STAN: m.STAN, RRN: m.RRN,
		Payload: order.NewISORecord(link, codec, m, nil).Payload()}
	select {
	case d.unsol <- e:
	default:
		d.log.Error().Str("link", link).Str("stan", m.STAN).Msg("unsolicited-message journal queue full: entry dropped")
	}
}

func (d *Daemon) journalUnsolicited() {
	defer d.wg.Done()
	for e := range d.unsol {
		if _, err := d.journal.Append(context.Background(), e); err != nil {
			d.log.Error().Err(err).Msg("journal unsolicited message")
		}
	}
}

// every runs fn at each tick of interval until ctx ends: the daemon's
// periodic work (expiry, the journal's health, its archives, the mapped
// pages), each on its own goroutine counted in d.wg.
func (d *Daemon) every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	defer d.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// expireDue declines unpaid orders past their lifetime.
func (d *Daemon) expireDue(ctx context.Context) {
	if n, err := d.payments.ExpireDue(ctx); err != nil {
		d.log.Error().Err(err).Msg("expire orders")
	} else if n > 0 {
		d.log.Info().Int("orders", n).Msg("expired unpaid orders")
	}
}

// releaseMapped keeps the data file's pages out of the resident set
// (journal.ReleaseMapped).
func (d *Daemon) releaseMapped(context.Context) {
	if _, err := d.journal.ReleaseMapped(); err != nil {
		d.log.Error().Err(err).Msg("release the data file's mapped pages")
	}
}

// mountHTTP serves operators' endpoints; the merchant side mounts its own.
func (d *Daemon) mountHTTP() error {
	d.mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	d.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	d.mux.HandleFunc("GET /readyz", d.readyz)
	return nil
}

// kindMux routes store-and-forward items to their deliverer by kind.
type kindMux map[string]saf.Deliverer

func (k kindMux) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	d, ok := k[it.Kind]
	if !ok {
		return saf.Rejected, fmt.Errorf("daemon: no deliverer for %q items", it.Kind)
	}
	return d.Deliver(ctx, it, repeat)
}

// serveTLS wraps ln in TLS from a config section whose files are read again
// when they change.
func (d *Daemon) serveTLS(ln net.Listener, cfg tlsconf.Config, key string) (net.Listener, error) {
	src, err := tlsconf.NewSource(cfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: %s: %w", key, err)
	}
	src.OnError = func(err error) {
		d.log.Error().Err(err).Str("section", key).Msg("tls files not reloaded: keeping the last good ones")
	}
	return tls.NewListener(ln, src.Server()), nil
}

// tlsTransport is an HTTP transport whose TLS follows a client config
// section, its files read again when they change.
func (d *Daemon) tlsTransport(cfg tlsconf.Config, key string) (*http.Transport, error) {
	src, err := tlsconf.NewSource(cfg)
	if err != nil {
		return nil, fmt.Errorf("daemon: %s: %w", key, err)
	}
	src.OnError = func(err error) {
		d.log.Error().Err(err).Str("section", key).Msg("tls files not reloaded: keeping the last good ones")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&tls.Dialer{Config: src.Client(host)}).DialContext(ctx, network, addr)
	}
	return t, nil
}

// web is what the web listeners' handlers h are served through (all but
// the Processing.kz TLS listener, whose clients connect directly), server
// naming the listener: the client's address as a trusted proxy names it,
// then each request counted and timed by its route. In that order: the
// address is set on a copy of the request, and the route is read off the
// request the muxes inside h are handed.
func (d *Daemon) web(server string, h http.Handler) http.Handler {
	return d.proxies.Handler(d.httpm.Handler(server, h))
}

// secureDefaults puts on every answer of the merchants' port the headers
// no answer should lack: no framing, no MIME sniffing, no referrer, a
// policy that allows nothing (a page that needs more, the hosted page,
// sets its own) and, over TLS, HSTS so browsers that came over TLS come
// back only over TLS.
func secureDefaults(h http.Handler, tls bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		if tls {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}
