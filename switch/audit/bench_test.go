package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// bench1M is the generated million-entry data file, shared by the
// benchmark's sub-benchmarks; it is made once per process.
var bench1M struct {
	once sync.Once
	path string
	err  error
}

// BenchmarkVerifyReplay1M verifies and replays a journal of 1,000,000
// entries (200,000 two-stage payments: API request, ISO request and
// response, two state changes each) with the order store beside it. It
// reports the peak Go heap seen during a run. Generating the file takes
// a while; it is a benchmark, so plain go test never pays for it:
//
//	go test ./switch/audit -run '^$' -bench VerifyReplay1M -benchtime 1x
func BenchmarkVerifyReplay1M(b *testing.B) {
	bench1M.once.Do(func() {
		// TULPAR_AUDIT_BENCH_FILE keeps the generated file between runs:
		// generated there when missing, reused when present.
		if p := os.Getenv("TULPAR_AUDIT_BENCH_FILE"); p != "" {
			bench1M.path = p
			if _, err := os.Stat(p); err == nil {
				return
			}
		} else {
			dir, err := os.MkdirTemp("", "tulpar-audit-bench")
			if err != nil {
				bench1M.err = err
				return
			}
			bench1M.path = filepath.Join(dir, journal.DataFile)
		}
		start := time.Now()
		bench1M.err = generate(bench1M.path, 200_000)
		b.Logf("generated 1,000,000 entries in %s", time.Since(start).Round(time.Millisecond))
	})
	if bench1M.err != nil {
		b.Fatal(bench1M.err)
	}
	d, err := Open(bench1M.path, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()

	b.Run("verify", func(b *testing.B) {
		peak := heapPeak(b)
		for i := 0; i < b.N; i++ {
			r, err := Verify(context.Background(), d, false, nil)
			if err != nil || r.Entries != 1_000_000 {
				b.Fatal(err, r)
			}
		}
		peak()
	})
	b.Run("replay", func(b *testing.B) {
		peak := heapPeak(b)
		for i := 0; i < b.N; i++ {
			r, err := Replay(context.Background(), d, nil)
			if err != nil || !r.OK() || r.Orders != 200_000 {
				b.Fatal(err, r)
			}
		}
		peak()
	})
}

// heapPeak samples the heap while a benchmark runs and reports the
// largest value seen as peak-heap-MB.
func heapPeak(b *testing.B) func() {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		close(stop)
		<-done
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	}
}

// generate writes orders payments the way switch/payments journals them.
func generate(path string, orders int) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(order.BucketOrders)
		return err
	}); err != nil {
		return err
	}
	j, err := journal.New(db, journal.Options{MaxBatchEntries: 1 << 20})
	if err != nil {
		return err
	}
	defer j.Close()
	codec, err := iso.LoadCodec("ascii")
	if err != nil {
		return err
	}
	t0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	const perBatch = 2000 // orders per transaction: 10,000 entries
	for first := 0; first < orders; first += perBatch {
		var entries []journal.Entry
		stored := map[string][]byte{}
		for n := first; n < first+perBatch && n < orders; n++ {
			now := t0.Add(time.Duration(n) * 400 * time.Millisecond)
			stan := fmt.Sprintf("%06d", n%1_000_000)
			rrn := fmt.Sprintf("6069%08d", n)
			o := &order.Order{
				ID: fmt.Sprintf("%08x-bench-order", n), Merchant: fmt.Sprintf("shop-%d", n%50), Number: fmt.Sprint(n),
				Amount: int64(1000 + n%90000), Currency: "398", CreatedAt: now, UpdatedAt: now, TwoStage: true, Bank: "halyk",
				Card:   &order.Card{Masked: "440043******0019", Token: "tok", Ciphertext: make([]byte, 48), Expiry: "2812"},
				Status: order.StatusRegistered, Version: 1,
			}
			state1, _ := json.Marshal(o)
			req := &iso.Message{MTI: "0100", ProcessingCode: "000000", STAN: stan, RRN: rrn, TerminalID: "TRM00001",
				MerchantID: "MERCHANT0000001", Currency: "398", TransmissionTime: now.Format("0102150405")}
			req.SetAmount(o.Amount)
			resp := iso.Respond(req, "00")
			resp.ApprovalCode = "A12345"
			o.Status, o.Approved, o.Version = order.StatusApproved, o.Amount, 2
			o.Ops = []order.Operation{{ID: "op1", Type: order.OpAuthorization, Status: order.OpApproved, Amount: o.Amount,
				Time: now, Bank: "halyk", MTI: "0100", STAN: stan, RRN: rrn, ApprovalCode: "A12345", ResponseCode: "00",
				TerminalID: "TRM00001", MerchantID: "MERCHANT0000001"}}
			state2, _ := json.Marshal(o)
			isoPayload := func(m *iso.Message) []byte {
				wire, _ := codec.Pack(m)
				p, _ := json.Marshal(order.ISORecord{Bank: "halyk", Dialect: "ascii", PAN: make([]byte, 48), Wire: wire})
				return p
			}
			entries = append(entries,
				journal.Entry{Time: now, Direction: journal.In, Channel: order.ChannelAPI, OrderID: o.ID,
					Payload: []byte(fmt.Sprintf(`{"op":"register","orderNumber":"%d","amount":%d}`, n, o.Amount))},
				journal.Entry{Time: now, Direction: journal.Internal, Channel: order.ChannelState, OrderID: o.ID, Payload: state1},
				journal.Entry{Time: now, Direction: journal.Out, Channel: "halyk", OrderID: o.ID, MTI: "0100", STAN: stan, RRN: rrn, Payload: isoPayload(req)},
				journal.Entry{Time: now, Direction: journal.In, Channel: "halyk", OrderID: o.ID, MTI: "0110", STAN: stan, RRN: rrn, Payload: isoPayload(resp)},
				journal.Entry{Time: now, Direction: journal.Internal, Channel: order.ChannelState, OrderID: o.ID, Payload: state2},
			)
			stored[o.ID] = state2
		}
		_, err := j.AppendTx(context.Background(), entries, func(tx *bolt.Tx, _ []uint64) error {
			b := tx.Bucket(order.BucketOrders)
			for id, v := range stored {
				if err := b.Put([]byte(id), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := j.Close(); err != nil {
		return err
	}
	return db.Sync()
}
