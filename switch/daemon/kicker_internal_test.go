package daemon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Sign-ons in a burst kick the bank's queue once at once and once more at
// the end of the gap: never more often, and the last one is not lost.
func TestKickerSpacesKicks(t *testing.T) {
	kicks := make(chan string, 10)
	k := newKicker(50*time.Millisecond, func(bank string) { kicks <- bank })
	for range 3 {
		k.signedOn("halyk")
	}
	k.signedOn("kaspi")
	require.Equal(t, "halyk", <-kicks, "the first sign-on at once")
	require.Equal(t, "kaspi", <-kicks, "another bank has its own gap")
	require.Equal(t, "halyk", <-kicks, "the burst's others, once, at the gap's end")
	k.mu.Lock()
	defer k.mu.Unlock()
	require.False(t, k.pending["halyk"], "nothing more is due")
	require.Empty(t, kicks)
}
