package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// rssParts reads this process's resident set and its anonymous part.
func TestRSSParts(t *testing.T) {
	total, anon := rssParts()
	require.Positive(t, total)
	require.Positive(t, anon)
	require.Less(t, anon, total, "the binary's mapped pages are resident too")
}
