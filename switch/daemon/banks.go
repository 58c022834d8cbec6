package daemon

import (
	"context"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/links"
)

// bankLinks adapts the link set to what the payment flows need.
type bankLinks struct{ set *links.Set }

func (b bankLinks) Send(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error) {
	l := b.set.Get(bank)
	if l == nil {
		return nil, &links.SendError{Link: bank, MTI: m.MTI, STAN: m.STAN, Err: links.ErrNotSent}
	}
	return l.Send(ctx, m)
}

func (b bankLinks) Ready(bank string) bool { return b.set.Ready(bank) }

func (b bankLinks) Codec(bank string) (*iso.Codec, bool) {
	l := b.set.Get(bank)
	if l == nil {
		return nil, false
	}
	return l.Codec(), true
}
