package compact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPackUUID: an id packs only when its 16 bytes give back the very same
// text, so a stored id always reads back as the id that was stored.
func TestPackUUID(t *testing.T) {
	for _, id := range []string{"0193a1c2-7f00-7abc-9def-0123456789ab", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"} {
		b, ok := PackUUID(id)
		require.True(t, ok, id)
		require.Equal(t, id, string(AppendUUIDText(nil, b[:])))
		bb, ok := PackUUID([]byte(id))
		require.True(t, ok)
		require.Equal(t, b, bb)
	}
	for _, id := range []string{
		"", "order-1",
		strings.ToUpper("0193a1c2-7f00-7abc-9def-0123456789ab"), // would come back lower-case
		"0193a1c2-7f00-7abc-9def-0123456789a",                   // short
		"0193a1c2-7f00-7abc-9def-0123456789abc",                 // long
		"0193a1c2x7f00-7abc-9def-0123456789ab",                  // no hyphen at 8
		"0193a1c2-7f00-7abc-9def-0123456789ag",                  // not hex
		"{193a1c2-7f00-7abc-9def-0123456789ab",
	} {
		_, ok := PackUUID(id)
		require.False(t, ok, id)
	}
}
