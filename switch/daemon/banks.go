package daemon

import (
	"context"
	"fmt"
	"sync"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/links"
)

// bankLinks adapts the link set to what the payment flows need.
type bankLinks struct {
	set    *links.Set
	mu     sync.Mutex
	codecs map[string]*iso.Codec
}

func newBankLinks(set *links.Set, cfgs []links.Config) (*bankLinks, error) {
	b := &bankLinks{set: set, codecs: map[string]*iso.Codec{}}
	for _, c := range cfgs {
		codec, err := iso.LoadCodec(c.Dialect)
		if err != nil {
			return nil, fmt.Errorf("link %s: %w", c.Name, err)
		}
		b.codecs[c.Name] = codec
	}
	return b, nil
}

func (b *bankLinks) Send(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error) {
	l := b.set.Get(bank)
	if l == nil {
		return nil, &links.SendError{Link: bank, MTI: m.MTI, STAN: m.STAN, Err: links.ErrNotSent}
	}
	return l.Send(ctx, m)
}

func (b *bankLinks) Ready(bank string) bool { return b.set.Ready(bank) }

func (b *bankLinks) Codec(bank string) (*iso.Codec, bool) {
	c, ok := b.codecs[bank]
	return c, ok
}
