package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/hpp"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/paylinks"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/receipt"
	"github.com/tulpar-switch/tulpar/switch/reportmail"
	"github.com/tulpar-switch/tulpar/switch/throttle"
)

// wireCallbacks connects merchant callbacks: queued inside each order
// change's transaction, delivered by store-and-forward.
func (d *Daemon) wireCallbacks(deps *payments.Deps, kinds kindMux) error {
	cfg := d.cfg.Callbacks
	cfg.Merchants = d.cfg.callbackTargets()
	for _, m := range d.cfg.API.Merchants {
		if m.CallbackAllowPrivate {
			if cfg.PrivateOK == nil {
				cfg.PrivateOK = map[string]bool{}
			}
			cfg.PrivateOK[m.Merchant] = true
		}
	}
	// A Processing.kz merchant's transactions call their returnURL
	// themselves (the guide's "automatic call"), through the same queue.
	for _, m := range d.cfg.CNP.Merchants {
		if !m.ReturnCall() {
			continue
		}
		if cfg.ReturnCalls == nil {
			cfg.ReturnCalls = map[string]callbacks.ReturnCall{}
		}
		cfg.ReturnCalls[m.Merchant] = callbacks.ReturnCall{Secret: m.CallbackSecret, Unsigned: m.CallbackSecret == "", PublicOnly: m.PublicOnly()}
	}
	n, err := callbacks.New(cfg, d.log.With().Str("component", "callbacks").Logger(), d.reg, nil)
	if err != nil {
		return fmt.Errorf("daemon: callbacks: %w", err)
	}
	n.Bind(d.saf)
	// A merchant's own callback URL, set in the cabinet, is the payments
	// engine's (merchant settings); d.payments exists before any commit.
	n.URLs(func(merchant string) string { return d.payments.CallbackURL(merchant) })
	n.Record(func(ctx context.Context, orderID string, sent bool, payload []byte) error {
		dir := journal.In
		if sent {
			dir = journal.Out
		}
		_, err := d.journal.Append(ctx, journal.Entry{Direction: dir, Channel: order.ChannelCallback, OrderID: orderID, Payload: payload})
		return err
	})
	deps.InTx = chainInTx(deps.InTx, n.InTx)
	kinds[order.KindCallback] = n
	return nil
}

// wireFiscal connects online fiscalization: receipt jobs queued inside
// each order change's transaction, beside its callbacks, and delivered by
// store-and-forward; issued receipts recorded with their orders by the
// payments service (d.payments, set before the queue starts).
func (d *Daemon) wireFiscal(deps *payments.Deps, kinds kindMux) error {
	f, err := fiscal.New(d.cfg.Fiscal, fiscal.Deps{
		Queue: d.saf,
		Save: func(ctx context.Context, orderID string, r order.FiscalReceipt) error {
			return d.payments.RecordFiscal(ctx, orderID, r)
		},
		Record: func(ctx context.Context, orderID string, sent bool, payload []byte) error {
			dir := journal.In
			if sent {
				dir = journal.Out
			}
			_, err := d.journal.Append(ctx, journal.Entry{Direction: dir, Channel: order.ChannelFiscal, OrderID: orderID, Payload: payload})
			return err
		},
		Log: d.log.With().Str("component", "fiscal").Logger(), Registerer: d.reg,
	})
	if err != nil {
		return fmt.Errorf("daemon: fiscal: %w", err)
	}
	deps.InTx = chainInTx(deps.InTx, f.InTx)
	kinds[order.KindFiscal] = f
	return nil
}

// wireReceipts makes the receipts' handler and, when a merchant wants its
// buyers to get their receipts by e-mail, the hook that queues them with
// each order change. The handler reads orders and merchants through
// d.payments, which exists by the time a request or a queued mail comes.
func (d *Daemon) wireReceipts(deps *payments.Deps, kinds kindMux) error {
	shops := func(id string) (receipt.Shop, bool) {
		m, ok := d.payments.Merchant(id)
		if !ok {
			return receipt.Shop{}, false
		}
		return receipt.Shop{Name: m.Name, Site: m.URL}, true
	}
	orders := receipt.OrdersFunc(func(id string) (*order.Order, error) { return d.payments.Store().Get(id) })
	var err error
	if d.receipts, err = receipt.New(d.cfg.Receipts, d.journal.DB(), orders, shops, d.url,
		d.log.With().Str("component", "receipts").Logger()); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	mailing := false
	for _, m := range d.cfg.Receipts.Merchants {
		mailing = mailing || m.EmailBuyer
	}
	if !mailing {
		return nil
	}
	m, err := d.mailer()
	if err != nil {
		return err
	}
	bm := receipt.NewBuyerMail(d.receipts, d.saf, m, func(ctx context.Context, orderID string, sent bool, payload []byte) error {
		dir := journal.In
		if sent {
			dir = journal.Out
		}
		_, err := d.journal.Append(ctx, journal.Entry{Direction: dir, Channel: order.ChannelMail, OrderID: orderID, Payload: payload})
		return err
	}, d.log.With().Str("component", "receipts").Logger())
	deps.InTx = chainInTx(deps.InTx, bm.InTx)
	kinds[order.KindReceiptMail] = bm
	return nil
}

// inTxHook is payments.Deps.InTx: work done inside an order change's own
// transaction.
type inTxHook = func(tx *bolt.Tx, o *order.Order, op *order.Operation) error

// chainInTx runs first, then next, in the same transaction: several
// components queue their work with one order change (callbacks, fiscal
// receipts), and the first error fails the commit, so the change and all
// its queued work commit together or not at all.
func chainInTx(first, next inTxHook) inTxHook {
	if first == nil {
		return next
	}
	return func(tx *bolt.Tx, o *order.Order, op *order.Operation) error {
		if err := first(tx, o, op); err != nil {
			return err
		}
		return next(tx, o, op)
	}
}

// callbackTargets are where each merchant's callbacks go. A merchant's
// integration is described once, in its api entry; the callbacks section,
// for targets that need more (POST, unsigned), replaces those entries when
// it lists any merchant.
func (c *Config) callbackTargets() map[string]callbacks.Target {
	if len(c.Callbacks.Merchants) > 0 {
		return c.Callbacks.Merchants
	}
	t := map[string]callbacks.Target{}
	for _, m := range c.API.Merchants {
		if m.CallbackURL != "" {
			t[m.Merchant] = callbacks.Target{URL: m.CallbackURL, Secret: m.CallbackSecret, AllowPrivate: m.CallbackAllowPrivate}
		}
	}
	return t
}

// mountMerchantSide serves the merchant web service and the hosted page.
func (d *Daemon) mountMerchantSide(kinds kindMux) error {
	acfg := d.cfg.API
	// An order's dynamicCallbackUrl may name the host its merchant's
	// callbacks go to, wherever the config says it.
	targets := d.cfg.callbackTargets()
	acfg.Merchants = append([]api.MerchantConfig(nil), acfg.Merchants...)
	for i, m := range acfg.Merchants {
		t, ok := targets[m.Merchant]
		switch {
		case !ok:
			// No callbacks go anywhere for this merchant (a callbacks
			// section that leaves it out): the API must refuse an order's
			// own address rather than accept one nothing will be sent to.
			acfg.Merchants[i].CallbackURL, acfg.Merchants[i].CallbackSecret, acfg.Merchants[i].CallbackHosts = "", "", nil
		case t.URL != m.CallbackURL:
			if u, err := url.Parse(t.URL); err == nil && u.Host != "" {
				acfg.Merchants[i].CallbackHosts = append(append([]string(nil), m.CallbackHosts...), u.Host)
			}
		}
	}
	if acfg.PaymentPageURL == "" {
		acfg.PaymentPageURL = d.url + "/pay"
	}
	d.mux.Handle(receipt.Prefix, d.receipts)
	acfg.ReceiptURL = d.receipts.URL
	if err := d.wirePaymentLinks(kinds); err != nil {
		return err
	}
	acfg.PaymentLinks = d.paylinks
	if acfg.Guard.Now == nil {
		acfg.Guard.Now = d.cfg.Clock
	}
	a, err := api.New(d.payments, acfg, d.log.With().Str("component", "api").Logger(), d.reg)
	if err != nil {
		return fmt.Errorf("daemon: api: %w", err)
	}
	d.mux.Handle("/payment/rest/", d.guard(a.Handler(), a.Unavailable))
	d.mux.Handle("/v1/", d.guard(a.Handler(), a.Unavailable))
	hcfg := d.cfg.HPP
	if hcfg.PublicURL == "" {
		hcfg.PublicURL = d.url
	}
	hcfg.CardAttempts = d.buyerLimit(hcfg.CardAttempts)
	h, err := hpp.New(d.payments, hcfg, d.log.With().Str("component", "hpp").Logger(), d.reg)
	if err != nil {
		return fmt.Errorf("daemon: hpp: %w", err)
	}
	d.mux.Handle("/pay/", d.guard(h.Handler(), h.Unavailable))
	ccfg := d.cfg.CNP
	if ccfg.PublicURL == "" {
		ccfg.PublicURL = d.url
	}
	if ccfg.PaymentPageURL == "" {
		ccfg.PaymentPageURL = strings.TrimRight(hcfg.PublicURL, "/") + "/pay"
	}
	if ccfg.TLS.PublicURL == "" && d.cnpLn != nil {
		ccfg.TLS.PublicURL = "https://" + d.cnpLn.Addr().String()
	}
	if ccfg.Guard.Now == nil {
		ccfg.Guard.Now = d.cfg.Clock // a lock ends by the switch's clock
	}
	c, err := cnp.New(d.payments, ccfg, d.log.With().Str("component", "cnp").Logger(), d.reg)
	if err != nil {
		return fmt.Errorf("daemon: cnp: %w", err)
	}
	d.cnp = d.guard(c.Handler(), c.Unavailable)
	d.mux.Handle(cnp.Prefix, d.cnp)
	return nil
}

// wireReports sets up the reports by e-mail when the switch has mail: the
// daily reports of the merchants that asked for them, and the special
// reports the cabinet's users ask for; the sender delivers their queued
// items. Nil without mail.
func (d *Daemon) wireReports(kinds kindMux) (*reportmail.Sender, error) {
	if !d.cfg.Mail.Enabled() {
		return nil, nil
	}
	m, err := d.mailer()
	if err != nil {
		return nil, err
	}
	s, err := reportmail.New(d.cfg.Reports, m, d.journal, d.saf, d.log.With().Str("component", "reports").Logger(), d.reg, d.cfg.Clock)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	kinds[order.KindReportMail] = s
	d.log.Info().Str("mail", m.Describe()).Int("merchants", len(d.cfg.Reports.Merchants)).Msg("daily reports by e-mail")
	return s, nil
}

// mailer is the daemon's one mailer, made the first time a component
// needs it.
func (d *Daemon) mailer() (*mailer.Mailer, error) {
	if d.mail != nil {
		return d.mail, nil
	}
	m, err := mailer.New(d.cfg.Mail)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.mail = m
	return m, nil
}

// wirePaymentLinks serves the payment links' pages at paylinks.Prefix and
// makes the service the deliverer of invoice mails (sent only when mail
// is configured).
func (d *Daemon) wirePaymentLinks(kinds kindMux) error {
	deps := paylinks.Deps{
		Journal: d.journal, Orders: d.payments, PublicURL: d.url, Now: d.cfg.Clock,
		Log: d.log.With().Str("component", "paylinks").Logger(),
		Shops: func(id string) (paylinks.Shop, bool) {
			m, ok := d.payments.Merchant(id)
			if !ok {
				return paylinks.Shop{}, false
			}
			return paylinks.Shop{Name: m.Name, Site: m.URL}, true
		},
	}
	if d.cfg.Mail.Enabled() {
		m, err := d.mailer()
		if err != nil {
			return err
		}
		deps.Mail, deps.Queue = m, d.saf
	}
	var err error
	lcfg := d.cfg.PaymentLinks
	lcfg.Orders = d.buyerLimit(lcfg.Orders)
	if d.paylinks, err = paylinks.New(lcfg, deps); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	kinds[order.KindInvoiceMail] = d.paylinks
	d.mux.Handle(paylinks.Prefix, d.guard(d.paylinks.Handler(), func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
	}))
	return nil
}

// buyerLimit is a limit on buyers' addresses as configured, or off when it
// is left at its default and every client may share one address: behind a
// proxy (plain_http) that http.trusted_proxies does not name, each request
// comes from the proxy, and a default limit would cap all buyers together.
// Start warns about that.
func (d *Daemon) buyerLimit(limit throttle.Config) throttle.Config {
	if limit.Unset() && d.sharedAddress() {
		return throttle.Config{Off: true}
	}
	return limit
}

// sharedAddress is true when the switch may see one address for every
// client: plain HTTP, which is meant for behind a proxy, with no proxy
// trusted to name its clients.
func (d *Daemon) sharedAddress() bool {
	return d.cfg.PlainHTTP && len(d.cfg.HTTP.TrustedProxies) == 0
}
