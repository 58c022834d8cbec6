package payments

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

// TestRecentExchangesPerBank: two banks number their STANs from the same
// seed and may name their terminals alike, so the same match key is sent
// to both within the window; a late answer is journaled with the order of
// the bank it came from.
func TestRecentExchangesPerBank(t *testing.T) {
	r := recentExchanges{window: time.Minute}
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	m := &iso.Message{MTI: "0200", STAN: "000417", TerminalID: "00000001"}
	r.add("halyk", m, "order-at-halyk", now)
	r.add("kaspi", m, "order-at-kaspi", now.Add(time.Second))
	answer := &iso.Message{MTI: "0210", STAN: "000417", TerminalID: "00000001"}
	require.Equal(t, "order-at-halyk", r.lookup("halyk", answer))
	require.Equal(t, "order-at-kaspi", r.lookup("kaspi", answer))
	require.Empty(t, r.lookup("jusan", answer))
	// The switch's order ids (UUIDs) are kept as 16 bytes and read back
	// as written; any other id (upper case here) as it is.
	ids := []string{"0193a1c2-7f00-7abc-9def-0123456789ab", "0193A1C2-7F00-7ABC-9DEF-0123456789AB", "00000000-0000-0000-0000-000000000000"}
	for i, id := range ids {
		r.add("halyk", &iso.Message{MTI: "0200", STAN: fmt.Sprintf("%06d", 500+i), TerminalID: "00000001"}, id, now)
	}
	for i, id := range ids {
		require.Equal(t, id, r.lookup("halyk", &iso.Message{MTI: "0210", STAN: fmt.Sprintf("%06d", 500+i), TerminalID: "00000001"}))
	}
	// A key sent again takes its new order, in either form.
	r.add("halyk", &iso.Message{MTI: "0200", STAN: "000501", TerminalID: "00000001"}, ids[0], now)
	require.Equal(t, ids[0], r.lookup("halyk", &iso.Message{MTI: "0210", STAN: "000501", TerminalID: "00000001"}))
	// Past the window it is forgotten.
	r.add("kaspi", &iso.Message{MTI: "0200", STAN: "000418", TerminalID: "00000001"}, "later", now.Add(2*time.Minute))
	require.Empty(t, r.lookup("halyk", answer))
}

// TestRecentExchangesTurnOver: the window turns over many times its
// ring's size; what is inside it is found, what left it is not, and the
// text ids leave with their exchanges.
func TestRecentExchangesTurnOver(t *testing.T) {
	r := recentExchanges{window: 3000 * time.Millisecond}
	start := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	msg := func(i int) *iso.Message {
		return &iso.Message{MTI: "0200", STAN: fmt.Sprintf("%06d", i), TerminalID: "00000001"}
	}
	id := func(i int) string {
		if i%10 == 0 {
			return fmt.Sprintf("ORDER-%d", i) // kept as text
		}
		return fmt.Sprintf("0193a1c2-7f00-7abc-9def-%012x", i)
	}
	const total = 20_000
	for i := range total {
		r.add("halyk", msg(i), id(i), start.Add(time.Duration(i)*time.Millisecond))
	}
	require.Equal(t, 3000, r.n, "a millisecond apart, a 3 s window holds 3,000")
	require.Len(t, r.ring, 4096, "grown to hold them, no more")
	require.Len(t, r.texts, 300, "a tenth are texts, and those that left went with them")
	for _, i := range []int{total - 1, total - 1500, total - 3000} {
		require.Equal(t, id(i), r.lookup("halyk", msg(i)), "exchange %d", i)
	}
	require.Empty(t, r.lookup("halyk", msg(total-3001)), "left the window")
	require.Empty(t, r.lookup("halyk", msg(10)))
}

// BenchmarkRecentExchanges: what the window costs the heap, in bytes an
// exchange it holds, and the time of an add. 90,000 held is 150 s at 600
// exchanges a second.
//
//	go test ./switch/payments -run '^$' -bench RecentExchanges -benchmem
func BenchmarkRecentExchanges(b *testing.B) {
	const held = 90_000
	msgs := make([]*iso.Message, held)
	ids := make([]string, held)
	for i := range msgs {
		msgs[i] = &iso.Message{MTI: "0200", STAN: fmt.Sprintf("%06d", i%1_000_000), TerminalID: fmt.Sprintf("T%07d", i/1_000_000)}
	}
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := &recentExchanges{window: time.Hour}
	for i := range msgs {
		// Each order's id is its own string, as uuid.String makes it;
		// the window may be all that keeps it.
		ids[i] = fmt.Sprintf("0193a1c2-7f00-7abc-9def-%012x", i)
		r.add("halyk", msgs[i], ids[i], now)
	}
	clear(ids)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perHeld := float64(after.HeapAlloc-before.HeapAlloc) / held
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.add("halyk", msgs[i%held], "0193a1c2-7f00-7abc-9def-0123456789ab", now.Add(time.Duration(i)))
	}
	b.ReportMetric(perHeld, "heap-B/held")
	runtime.KeepAlive(r)
}

// BenchmarkRecentExchangesChurn: the heap a full window holds once it
// has turned over several times, as at steady load (90,000 held, a
// minute at 1,500 exchanges a second), in bytes an exchange held.
//
//	go test ./switch/payments -run '^$' -bench RecentExchangesChurn -benchmem
func BenchmarkRecentExchangesChurn(b *testing.B) {
	const held = 90_000
	msgs := make([]*iso.Message, 4*held)
	for i := range msgs {
		msgs[i] = &iso.Message{MTI: "0200", STAN: fmt.Sprintf("%06d", i%1_000_000), TerminalID: fmt.Sprintf("T%07d", i/1_000_000)}
	}
	start := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	tick := time.Millisecond
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := &recentExchanges{window: held * tick}
	i := 0
	for ; i < 10*held; i++ {
		r.add("halyk", msgs[i%len(msgs)], "0193a1c2-7f00-7abc-9def-0123456789ab", start.Add(time.Duration(i)*tick))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perHeld := float64(after.HeapAlloc-before.HeapAlloc) / held
	b.ResetTimer()
	for ; b.Loop(); i++ {
		r.add("halyk", msgs[i%len(msgs)], "0193a1c2-7f00-7abc-9def-0123456789ab", start.Add(time.Duration(i)*tick))
	}
	b.ReportMetric(perHeld, "heap-B/held")
	runtime.KeepAlive(r)
}

// BenchmarkRecentLookup: a late answer's lookup in a full window (a
// minute at 720 exchanges a second, as 600 operations make), found 15 s
// back from the newest (one exchange timeout late), and a message that
// matches nothing (the whole window walked).
//
//	go test ./switch/payments -run '^$' -bench RecentLookup
func BenchmarkRecentLookup(b *testing.B) {
	const held = 43_200
	r := &recentExchanges{window: time.Hour}
	start := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	msg := func(i int) *iso.Message {
		return &iso.Message{MTI: "0200", STAN: fmt.Sprintf("%06d", i), TerminalID: "00000001"}
	}
	for i := range held {
		r.add("halyk", msg(i), "0193a1c2-7f00-7abc-9def-0123456789ab", start.Add(time.Duration(i)))
	}
	late, none := msg(held-15*720), msg(held+1)
	b.Run("late", func(b *testing.B) {
		for b.Loop() {
			if r.lookup("halyk", late) == "" {
				b.Fatal("not found")
			}
		}
	})
	b.Run("none", func(b *testing.B) {
		for b.Loop() {
			if r.lookup("halyk", none) != "" {
				b.Fatal("found")
			}
		}
	})
}
