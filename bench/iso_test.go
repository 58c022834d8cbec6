package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The reference round trip works in both dialects and under concurrency:
// every request gets its own answer back.
func TestReferenceRoundTrip(t *testing.T) {
	for _, d := range []string{"ascii", "binary"} {
		t.Run(d, func(t *testing.T) {
			echo, err := StartEcho(d)
			require.NoError(t, err)
			t.Cleanup(echo.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := DialISO(ctx, echo.Addr(), ISOOptions{Dialect: d, AcquirerID: "400001", SignOn: true})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			res, err := Run(ctx, Options{Model: Closed{Clients: 16}, Requests: 2000}, c.Authorizations(1500))
			require.NoError(t, err)
			require.Equal(t, int64(2000), res.OK, "errors: %v", res.ErrorKinds)
			require.Positive(t, res.Throughput)
		})
	}
}

func TestNumbersUnique(t *testing.T) {
	n := NewNumbers()
	seen := map[string]bool{}
	for i := 0; i < 1_100_000; i++ {
		stan, rrn := n.Next()
		require.Len(t, stan, 6)
		require.Len(t, rrn, 12)
		if i < 20000 {
			require.False(t, seen[stan+rrn])
			seen[stan+rrn] = true
		}
		if stan == "000000" {
			t.Fatal("STAN 000000")
		}
	}
}
