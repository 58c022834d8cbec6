package issuersim

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// BenchmarkSimulatorCapacity measures how many 0100s a second one bank
// answers over real TCP on loopback: b.RunParallel clients (GOMAXPROCS ×
// parallelism) spread over a few connections, each request with its own
// STAN, RRN and terminal so none is a duplicate. Every answer must be 00.
//
//	go test -run '^$' -bench SimulatorCapacity -benchtime 200000x ./issuersim
func BenchmarkSimulatorCapacity(b *testing.B) {
	for _, d := range dialects {
		for _, conns := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/conns=%d", d, conns), func(b *testing.B) {
				bank := MustStartBank(b, d, func(c *Config) {
					c.Cards = []CardConfig{{PAN: visa, Expiry: "3012", CVV2: "123", Balance: 1 << 50}}
				})
				clients := make([]*client, conns)
				for i := range clients {
					clients[i] = MustDial(b, bank)
				}
				var next atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(16)
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := next.Add(1)
						c := clients[int(n)%conns]
						m := &iso.Message{
							MTI: iso.MTIAuthorization, PAN: visa, ProcessingCode: iso.ProcPurchase,
							STAN: fmt.Sprintf("%06d", n%999999+1), RRN: fmt.Sprintf("%012d", n),
							TerminalID: fmt.Sprintf("T%07d", n/999999), MerchantID: merchant,
							Currency: iso.CurrencyKZT, Expiry: "3012", CVV2: "123", AcquirerID: acquirer,
						}
						m.SetAmount(1)
						m.Stamp(testNow, nil)
						resp, err := c.send(m)
						if err != nil {
							b.Fatal(err)
						}
						if resp.ResponseCode != iso.RCApproved {
							b.Fatalf("answer %s", resp.ResponseCode)
						}
					}
				})
				elapsed := time.Since(start)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			})
		}
	}
}

// BenchmarkAnswer is the bank's decision alone, no sockets and no packing:
// format, duplicate check, card checks (CVV2 through hsm) and the books
// under their one lock, for parallel 0100s. It shows how much of
// BenchmarkSimulatorCapacity is the simulator's own logic.
func BenchmarkAnswer(b *testing.B) {
	bank := MustStartBank(b, "ascii", func(c *Config) {
		c.Cards = []CardConfig{{PAN: visa, Expiry: "3012", CVV2: "123", Balance: 1 << 50}}
	})
	s := &session{name: "bench"}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			m := &iso.Message{
				MTI: iso.MTIAuthorization, PAN: visa, ProcessingCode: iso.ProcPurchase,
				STAN: fmt.Sprintf("%06d", n%999999+1), RRN: fmt.Sprintf("%012d", n),
				TerminalID: fmt.Sprintf("T%07d", n/999999), Currency: iso.CurrencyKZT, Expiry: "3012", CVV2: "123",
			}
			m.SetAmount(1)
			if rc := bank.answer(bank.ctx, s, m, override{}).ResponseCode; rc != iso.RCApproved {
				b.Fatalf("answer %s", rc)
			}
		}
	})
}
