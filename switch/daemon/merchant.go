package daemon

import (
	"context"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/api"
	"github.com/tulpar-switch/tulpar/switch/callbacks"
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
	return nil
}
