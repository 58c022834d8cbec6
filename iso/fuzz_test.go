package iso

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzUnpack checks that any bytes either unpack into a message that packs
// again, or fail with an error that names a field and never quotes a PAN.
func fuzzUnpack(f *testing.F, dialect string) {
	c, err := LoadCodec(dialect)
	require.NoError(f, err)
	for _, m := range samples() {
		body, err := c.Pack(m)
		require.NoError(f, err)
		f.Add(body)
		f.Add(body[:len(body)/2])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := c.Unpack(data)
		if err != nil {
			require.ErrorIs(t, err, ErrUnpack)
			msg := err.Error()
			require.True(t, strings.Contains(msg, "DE") || strings.Contains(msg, "MTI") ||
				strings.Contains(msg, "bitmap") || strings.Contains(msg, "length header"),
				"error names no field: %s", msg)
			require.NotContains(t, msg, "4111111111111111")
			return
		}
		_ = Describe(m)
		_ = MatchKey(m)
	})
}

func FuzzUnpackASCII(f *testing.F)  { fuzzUnpack(f, "ascii") }
func FuzzUnpackBinary(f *testing.F) { fuzzUnpack(f, "binary") }

func FuzzUnframe(f *testing.F) {
	for _, d := range []string{"ascii", "binary"} {
		c, err := LoadCodec(d)
		require.NoError(f, err)
		body, err := c.Pack(samples()["0800"])
		require.NoError(f, err)
		framed, err := c.Frame(body)
		require.NoError(f, err)
		f.Add(d == "ascii", framed)
	}
	ascii, _ := LoadCodec("ascii")
	bin, _ := LoadCodec("binary")
	f.Fuzz(func(t *testing.T, useASCII bool, data []byte) {
		c := bin
		if useASCII {
			c = ascii
		}
		body, err := c.Unframe(data)
		if err == nil {
			require.LessOrEqual(t, len(body), MaxMessageLen)
			_, _ = c.Unpack(body)
		}
	})
}
