package links

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
)

// BenchmarkSend measures one link carrying concurrent authorizations to a
// bank that answers at once: the test peer (pure transport and matching)
// and issuersim (with its books). -cpu sets the senders' parallelism;
// each P runs 16 senders.
//
//	go test -run ^$ -bench BenchmarkSend -benchmem ./switch/links
func BenchmarkSend(b *testing.B) {
	for _, dialect := range dialects {
		b.Run("peer/"+dialect, func(b *testing.B) {
			p := newPeer(b, dialect)
			cfg := testConfig("a", dialect)
			cfg.Addrs = []string{p.listen("")}
			cfg.EchoInterval = time.Minute
			benchSend(b, cfg)
		})
		b.Run("issuersim/"+dialect, func(b *testing.B) {
			scfg := issuersim.DefaultConfig()
			scfg.Name, scfg.Dialect, scfg.Listen = "a", dialect, "127.0.0.1:0"
			scfg.Cards = []issuersim.CardConfig{{PAN: "4111111111111111", Expiry: "3012", CVV2: "123", Balance: 1 << 50}}
			sim, err := issuersim.New(scfg, zerolog.Nop(), nil)
			require.NoError(b, err)
			require.NoError(b, sim.Start(context.Background()))
			b.Cleanup(func() { sim.Close() })
			cfg := testConfig("a", dialect)
			cfg.Addrs = []string{sim.Addr()}
			cfg.EchoInterval = time.Minute
			benchSend(b, cfg)
		})
	}
}

func benchSend(b *testing.B, cfg Config) {
	cfg.MaxInFlight = 4096
	cfg.RequestTimeout = 30 * time.Second
	l, err := New(cfg, Deps{})
	require.NoError(b, err)
	require.NoError(b, l.Start(context.Background()))
	b.Cleanup(func() { l.Close(context.Background()) })
	waitReady(b, l)
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			// A distinct terminal per million keeps keys unique past STAN wrap.
			m := auth(l.NextSTAN(), fmt.Sprintf("T%07d", n/999_000), 1)
			resp, err := l.Send(context.Background(), m)
			if err != nil {
				b.Error(err)
				return
			}
			if resp.ResponseCode != iso.RCApproved {
				b.Errorf("DE39 %s", resp.ResponseCode)
				return
			}
		}
	})
}
