package hsmtest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/compact"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// The scanner must catch what it claims to; a scanner that finds nothing
// passes every test vacuously.
func TestFindCatchesPlantedSecrets(t *testing.T) {
	pan := TestPANs[0]
	bcd, _ := hex.DecodeString(pan)
	jsonBytes, _ := json.Marshal(struct{ Blob []byte }{append([]byte("x"), pan...)}) // base64, offset 1
	tests := []struct {
		name    string
		content []byte
		want    string // substring of the needle name; "" means no finding
	}{
		{"ASCII in a log", []byte(`{"level":"info","pan":"` + pan + `"}`), "(ASCII)"},
		{"packed BCD in a binary record", append([]byte{0x00, 0x10}, bcd...), "(packed BCD)"},
		{"hex dump", []byte("DE2=" + strings.ToUpper(hex.EncodeToString([]byte(pan)))), "(HEX)"},
		{"base64 inside JSON", jsonBytes, "(base64, offset 1)"},
		{"base64url, offset 2", []byte(base64.URLEncoding.EncodeToString(append([]byte("ab"), pan...))), "(base64, offset 2)"},
		{"CVV2 key=value in binary", []byte("\x00\x01cvv2=917\x00"), "cvv2=***"},
		{"CVV2 JSON field", []byte(`{"cvv2":"384"}`), `"cvv2":"***"`},
		{"CVV2 bare word in a log", []byte("level=info card verified with 5273 ok\n"), "bare word"},
		{"CVV2 inside a token is no finding", []byte("token=tk1_ab917Xz\n"), ""},
		{"CVV2 inside a decimal is no finding", []byte("t=12:09:17.917Z amount=19170\n"), ""},
		{"CVV2 digits in binary are no finding", []byte("\x00\xff917\x00"), ""},
		{"masked PAN is no finding", []byte("pan=411111******1111"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), tc.content, 0o600))
			findings, files, _, err := Find(dir, Needles()...)
			require.NoError(t, err)
			assert.Equal(t, 1, files)
			if tc.want == "" {
				assert.Empty(t, findings)
				return
			}
			require.NotEmpty(t, findings)
			var names []string
			for _, f := range findings {
				names = append(names, f.Needle)
				assert.NotContains(t, f.String(), pan, "a finding must not print the PAN")
			}
			assert.Contains(t, strings.Join(names, "|"), tc.want)
		})
	}
}

func TestScanForSecretsFailsTheTest(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "leak.log"), []byte("pan "+TestPANs[3]+"\n"), 0o600))
	rec := &recorder{TB: t}
	ScanForSecrets(rec, dir)
	require.Len(t, rec.errors, 1)
	assert.Contains(t, rec.errors[0], filepath.Join("sub", "leak.log"))
	assert.Contains(t, rec.errors[0], "offset 4")
	assert.NotContains(t, rec.errors[0], TestPANs[3])
}

// recorder captures Errorf so a test can check that the scanner would fail.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (r *recorder) Helper() {}

// TestFindReadsCompressedRecords: a PAN in a journal payload or an order
// stored compressed is not in the file as its bytes; the scan decodes the
// data file's records and finds it there.
func TestFindReadsCompressedRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, journal.DataFile)
	j, err := journal.Open(path, journal.Options{})
	require.NoError(t, err)
	pan := TestPANs[0] // its run of ones becomes a back-reference when compressed
	leak := []byte(`{"endpoint":"paymentorder","params":{"$PAN":"` + pan + `","MDORDER":"01a24e20-9063-765d-aa38-fcbb45c8f1de"}}`)
	_, err = j.AppendTx(context.Background(), []journal.Entry{{Direction: journal.In, Channel: "api", Payload: leak}},
		func(tx *bolt.Tx, _ []uint64) error {
			b, err := tx.CreateBucketIfNotExists([]byte("orders"))
			if err != nil {
				return err
			}
			return b.Put([]byte("o-1"), compact.Append(nil, leak))
		})
	require.NoError(t, err)
	require.NoError(t, j.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(raw), pan, "compressed: the raw bytes alone would miss it")
	findings, files, _, err := Find(dir, PAN(pan)...)
	require.NoError(t, err)
	require.Equal(t, 2, files, "the data file and its lock file")
	var where []string
	for _, f := range findings {
		where = append(where, f.File)
		assert.NotContains(t, f.String(), pan)
	}
	require.Len(t, findings, 2, "%v", where)
	assert.Contains(t, where[0]+where[1], "bucket journal, record 1, decoded")
	assert.Contains(t, where[0]+where[1], "bucket orders, record 1, decoded")
}
