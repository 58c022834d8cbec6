package daemon

import "github.com/tulpar-switch/tulpar/switch/payments"

// wireMerchantSide connects the merchant web service, the hosted page and
// merchant callbacks.
func (d *Daemon) wireMerchantSide(deps *payments.Deps, kinds kindMux) error {
	return nil
}
