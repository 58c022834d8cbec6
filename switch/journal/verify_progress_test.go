package journal

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVerifyProgress(t *testing.T) {
	j, _ := mustOpen(t, Options{})
	ctx := context.Background()
	for i := 0; i < verifyChunk+10; i += 100 {
		batch := make([]Entry, 100)
		for k := range batch {
			batch[k] = Entry{Direction: In, Channel: "api", Payload: []byte("x")}
		}
		_, err := j.Append(ctx, batch...)
		require.NoError(t, err)
	}
	total, err := j.Count()
	require.NoError(t, err)
	var calls []uint64
	require.NoError(t, j.VerifyProgress(ctx, func(done, all uint64) {
		require.Equal(t, total, all)
		calls = append(calls, done)
	}))
	require.Len(t, calls, 2, "one report per chunk")
	require.Equal(t, uint64(verifyChunk), calls[0])
	require.Equal(t, total, calls[len(calls)-1], "the last report is the whole journal")
}
