package iso

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/specs"
)

func codecs(tb testing.TB) map[string]*Codec {
	tb.Helper()
	out := map[string]*Codec{}
	for _, name := range specs.Names() {
		c, err := LoadCodec(name)
		require.NoError(tb, err, name)
		out[name] = c
	}
	require.Contains(tb, out, "ascii")
	require.Contains(tb, out, "binary")
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestRoundTripEveryMTI(t *testing.T) {
	for dname, c := range codecs(t) {
		for _, name := range sortedKeys(samples()) {
			m := samples()[name]
			t.Run(dname+"/"+name, func(t *testing.T) {
				packed, err := c.Pack(m)
				require.NoError(t, err)
				framed, err := c.Frame(packed)
				require.NoError(t, err)
				body, err := c.Unframe(framed)
				require.NoError(t, err)
				got, err := c.Unpack(body)
				require.NoError(t, err)
				require.Equal(t, m, got, "field by field")
				again, err := c.Pack(got)
				require.NoError(t, err)
				require.Equal(t, packed, again, "repacking is deterministic")
			})
		}
	}
}

func TestEveryKnownMTIHasASample(t *testing.T) {
	have := map[string]bool{}
	for _, m := range samples() {
		have[m.MTI] = true
	}
	for _, mti := range KnownMTIs {
		require.True(t, have[mti], "no sample for %s", mti)
	}
}

func TestUnpackErrorsNameFieldAndHidePAN(t *testing.T) {
	// Where the PAN's digits are, by dialect: MTI, bitmaps (a secondary one
	// when the private field is above 64), the LL prefix, some digits.
	panCut := map[string]int{"ascii": 4 + 16 + 2 + 10, "binary": 2 + 16 + 1 + 5}
	for dname, c := range codecs(t) {
		good, err := c.Pack(samples()["0100"])
		require.NoError(t, err)
		cases := []struct {
			name  string
			bytes []byte
			field string
		}{
			{"empty", nil, "MTI"},
			{"truncated in MTI", good[:1], "MTI"},
			{"truncated in bitmap", good[:5], "bitmap"},
			{"truncated in PAN", good[:panCut[dname]], "DE2"},
			{"truncated at end", good[:len(good)-1], "DE"},
		}
		for _, tc := range cases {
			t.Run(dname+"/"+tc.name, func(t *testing.T) {
				_, err := c.Unpack(tc.bytes)
				require.Error(t, err)
				require.True(t, errors.Is(err, ErrUnpack), "wraps ErrUnpack: %v", err)
				require.Contains(t, err.Error(), tc.field)
				require.NotContains(t, err.Error(), "4111111111111111")
				require.NotContains(t, err.Error(), "41111111")
			})
		}
	}
}

func TestUnpackBadEncodings(t *testing.T) {
	ascii := codecs(t)["ascii"]
	bin := codecs(t)["binary"]
	asciiAuth, err := ascii.Pack(samples()["0100"])
	require.NoError(t, err)
	binAuth, err := bin.Pack(samples()["0100"])
	require.NoError(t, err)

	t.Run("ascii bitmap not hex", func(t *testing.T) {
		b := bytes.Clone(asciiAuth)
		b[4] = 'Z'
		_, err := ascii.Unpack(b)
		require.ErrorContains(t, err, "bitmap")
	})
	t.Run("ascii non-digit amount", func(t *testing.T) {
		b := bytes.Clone(asciiAuth)
		i := bytes.Index(b, []byte("000001500000"))
		require.Positive(t, i)
		b[i] = 'X'
		_, err := ascii.Unpack(b)
		require.ErrorContains(t, err, "DE4")
	})
	t.Run("binary bad BCD in processing code", func(t *testing.T) {
		b := bytes.Clone(binAuth)
		// MTI(2), two bitmaps (DE126 is present), DE2: LL(1) + 8 bytes, then DE3.
		b[2+16+1+8] = 0xAF
		_, err := bin.Unpack(b)
		require.ErrorContains(t, err, "DE3")
	})
	t.Run("binary field not in spec", func(t *testing.T) {
		b := bytes.Clone(binAuth)
		b[2] |= 0x80 >> 4 // DE5 is not in the dialect
		_, err := bin.Unpack(b)
		require.ErrorContains(t, err, "DE5")
	})
	t.Run("length header disagrees", func(t *testing.T) {
		framed, err := ascii.Frame(asciiAuth)
		require.NoError(t, err)
		_, err = ascii.Unframe(framed[:len(framed)-3])
		require.ErrorContains(t, err, "length header")
	})
	t.Run("length header not digits", func(t *testing.T) {
		_, err := ascii.Unframe([]byte("00x1abcd"))
		require.ErrorContains(t, err, "length header")
	})
	t.Run("binary header zero", func(t *testing.T) {
		_, err := bin.Unframe([]byte{0, 0})
		require.ErrorContains(t, err, "length header")
	})
}

func TestPackRejectsBadFields(t *testing.T) {
	c := codecs(t)["ascii"]
	cases := []struct {
		name  string
		edit  func(m *Message)
		field string
	}{
		{"bad MTI", func(m *Message) { m.MTI = "01" }, "MTI"},
		{"negative amount", func(m *Message) { m.Amount = -1 }, "DE4"},
		{"STAN too long", func(m *Message) { m.STAN = "1234567" }, "DE11"},
		{"PAN too long", func(m *Message) { m.PAN = strings.Repeat("4", 20) }, "DE2"},
		{"unknown stored-credential use", func(m *Message) { m.StoredCredential = "recurring" }, "DE48.08"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := *samples()["0100"]
			tc.edit(&m)
			_, err := c.Pack(&m)
			require.ErrorContains(t, err, tc.field)
			require.NotContains(t, err.Error(), "4111111111111111")
		})
	}
}

// A stored-credential indicator the dialect does not define is refused on
// the way in, naming the subfield, rather than read as no marker at all.
func TestUnpackUnknownStoredCredential(t *testing.T) {
	c := codecs(t)["ascii"]
	m := *samples()["0200-cof"]
	body, err := c.Pack(&m)
	require.NoError(t, err)
	i := bytes.Index(body, []byte("0801M"))
	require.Positive(t, i)
	body[i+4] = 'X'
	_, err = c.Unpack(body)
	require.ErrorContains(t, err, "DE48.08")
	require.ErrorContains(t, err, "stored-credential")
}

// A bank's dialect that only exists as a file round-trips every message
// with no Go code of its own.
func TestThirdDialectFromFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "specs", "testdata", "third-bank.json"))
	require.NoError(t, err)
	d, err := specs.Parse(data)
	require.NoError(t, err)
	c := NewCodec(d)
	for _, name := range sortedKeys(samples()) {
		m := samples()[name]
		body, err := c.Pack(m)
		require.NoError(t, err, name)
		framed, err := c.Frame(body)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%04d", len(body)), fmt.Sprintf("%02x%02x", framed[0], framed[1]), "BCD length header")
		got, err := c.Unpack(body)
		require.NoError(t, err, name)
		require.Equal(t, m, got, name)
	}
}
