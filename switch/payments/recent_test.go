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
