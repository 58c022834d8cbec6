package hpp_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// issuerBanks is the real bank side: an issuersim bank with its default
// card book on 127.0.0.1:0 and a switch link that dials it and signs on.
// switch/daemon has the same adapter; until the daemon offers a test start
// function this file duplicates it.
func issuerBanks(t *testing.T, bank string, log zerolog.Logger) payments.Banks {
	t.Helper()
	cfg := issuersim.DefaultConfig()
	cfg.Name, cfg.Dialect, cfg.Listen = bank, "ascii", "127.0.0.1:0"
	sim, err := issuersim.New(cfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, sim.Start(context.Background()))
	t.Cleanup(func() { _ = sim.Close() })

	lc := links.Config{Name: bank, Dialect: "ascii", Addrs: []string{sim.Addr()}, AcquirerID: "400123"}
	set, err := links.NewSet([]links.Config{lc}, links.Deps{Log: log})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, set.Start(ctx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = set.Close(sctx)
		cancel()
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, set.Get(bank).WaitReady(wctx), "link to the simulated bank never became ready")
	codec, err := iso.LoadCodec("ascii")
	require.NoError(t, err)
	return linkBanks{set: set, codec: codec}
}

// linkBanks is what payments needs of the link set.
type linkBanks struct {
	set   *links.Set
	codec *iso.Codec
}

func (b linkBanks) Send(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error) {
	l := b.set.Get(bank)
	if l == nil {
		return nil, fmt.Errorf("bank %s: %w", bank, links.ErrNotSent)
	}
	return l.Send(ctx, m)
}

func (b linkBanks) Ready(bank string) bool          { return b.set.Ready(bank) }
func (b linkBanks) Codec(string) (*iso.Codec, bool) { return b.codec, true }
