package payments

import (
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
	// Past the window it is forgotten.
	r.add("kaspi", &iso.Message{MTI: "0200", STAN: "000418", TerminalID: "00000001"}, "later", now.Add(2*time.Minute))
	require.Empty(t, r.lookup("halyk", answer))
}
