package iso

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readGolden joins the hex column of an annotated golden file. The files
// were written from each dialect's rules, one line per element with a note
// on how its bytes follow, not captured from this packer, so a packer
// regression cannot hide by regenerating them.
func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		require.Len(t, fields, 2, "%s: %q: want 'element hex'", path, line)
		b, err := hex.DecodeString(fields[1])
		require.NoError(t, err, "%s: element %s", path, fields[0])
		out = append(out, b...)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestGoldenWireBytes(t *testing.T) {
	for dname, c := range codecs(t) {
		for name, m := range samples() {
			path := filepath.Join("testdata", "golden", dname, name+".txt")
			t.Run(dname+"/"+name, func(t *testing.T) {
				want := readGolden(t, path)
				body, err := c.Pack(m)
				require.NoError(t, err)
				got, err := c.Frame(body)
				require.NoError(t, err)
				if !bytes.Equal(want, got) {
					t.Fatalf("packed bytes differ from %s\nwant %x\ngot  %x", path, want, got)
				}
				back, err := c.Unpack(want[len(want)-len(body):])
				require.NoError(t, err)
				require.Equal(t, m, back)
			})
		}
	}
}

// TestGoldenFilesAreSamples: a golden file with no sample would be checked
// by nothing.
func TestGoldenFilesAreSamples(t *testing.T) {
	for dname := range codecs(t) {
		files, err := filepath.Glob(filepath.Join("testdata", "golden", dname, "*.txt"))
		require.NoError(t, err)
		var names []string
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".txt"))
		}
		require.ElementsMatch(t, sortedKeys(samples()), names, dname)
	}
}
