package daemon

import (
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// wireMerchantSide connects merchant callbacks (queued inside each order
// change's transaction, delivered by store-and-forward).
func (d *Daemon) wireMerchantSide(deps *payments.Deps, kinds kindMux) error {
	n, err := callbacks.New(d.cfg.Callbacks, d.log.With().Str("component", "callbacks").Logger(), d.reg, nil)
	if err != nil {
		return fmt.Errorf("daemon: callbacks: %w", err)
	}
	n.Bind(d.saf)
	deps.InTx = n.InTx
	kinds[callbacks.Kind] = n
	return nil
}
