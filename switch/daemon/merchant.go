package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/hpp"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// wireCallbacks connects merchant callbacks: queued inside each order
// change's transaction, delivered by store-and-forward.
func (d *Daemon) wireCallbacks(deps *payments.Deps, kinds kindMux) error {
	cfg := d.cfg.Callbacks
	// A merchant's integration is described once, in its api entry; the
	// callbacks section is for targets that need more (POST, unsigned).
	if len(cfg.Merchants) == 0 {
		cfg.Merchants = map[string]callbacks.Target{}
		for _, m := range d.cfg.API.Merchants {
			if m.CallbackURL != "" {
				cfg.Merchants[m.Merchant] = callbacks.Target{URL: m.CallbackURL, Secret: m.CallbackSecret}
			}
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
	n.Record(func(ctx context.Context, orderID string, sent bool, payload []byte) error {
		dir := journal.In
		if sent {
			dir = journal.Out
		}
		_, err := d.journal.Append(ctx, journal.Entry{Direction: dir, Channel: order.ChannelCallback, OrderID: orderID, Payload: payload})
		return err
	})
	deps.InTx = n.InTx
	kinds[order.KindCallback] = n
	return nil
}

// mountMerchantSide serves the merchant web service and the hosted page.
func (d *Daemon) mountMerchantSide() error {
	acfg := d.cfg.API
	if acfg.PaymentPageURL == "" {
		acfg.PaymentPageURL = d.url + "/pay"
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
	c, err := cnp.New(d.payments, ccfg, d.log.With().Str("component", "cnp").Logger(), d.reg)
	if err != nil {
		return fmt.Errorf("daemon: cnp: %w", err)
	}
	d.cnp = d.guard(c.Handler(), c.Unavailable)
	d.mux.Handle(cnp.Prefix, d.cnp)
	return nil
}
