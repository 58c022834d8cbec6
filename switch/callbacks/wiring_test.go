package callbacks

import (
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// The daemon's wiring, held at compile time: the queue is an Enqueuer, the
// Notifier is a deliverer, and InTx fits payments.Deps.InTx.
var (
	_ Enqueuer      = (*saf.Queue)(nil)
	_ saf.Deliverer = (*Notifier)(nil)
	_               = payments.Deps{InTx: (*Notifier)(nil).InTx}
)
