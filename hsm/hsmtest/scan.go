// Package hsmtest holds test helpers for card data protection: the test cards
// every package uses, and a scanner that fails a test when any file it wrote
// holds a clear PAN or a CVV2.
//
// Any test that writes to disk (journal, order store, logs, reports) should
// end with ScanForSecrets over its temporary directory.
package hsmtest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/compact"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// TestPANs are the test card numbers used across Tulpar's tests.
var TestPANs = []string{
	"4111111111111111",
	"5555555555555599",
	"4444555511113333",
	"4012001038166662",
	"5168494895055780",
	"4000001111111118",
}

// TestCVV2s are the CVV2 values of the test card book. They are chosen to be
// distinctive (no repeated or sequential digits) and never used for anything
// else in tests (amounts, STANs, ports), so that finding one on disk means a
// CVV2 was written.
var TestCVV2s = []string{"917", "384", "5273"}

// Needle is one byte pattern that must not be found on disk.
type Needle struct {
	Name    string // what it is, safe to print: never the secret itself
	Pattern []byte
	// Word: match only in text files, and only where the pattern stands as a
	// whole word (see ScanForSecrets).
	Word bool
}

// PAN returns the needles for one PAN: the ways it would appear if some code
// wrote it out without protection.
//
//   - ASCII digits, as in JSON, logs, forms and ISO 8583 ASCII fields;
//   - packed BCD, as in ISO 8583 binary dialects (DE2 and track 2);
//   - hex of the ASCII digits, upper and lower case, as in hex dumps of a
//     message;
//   - base64 of the ASCII digits, standard and URL alphabets, at each of the
//     three alignments the PAN could have inside a longer base64 value, as in
//     []byte fields that encoding/json wrote.
func PAN(pan string) []Needle {
	masked := mask(pan)
	n := []Needle{
		{Name: "PAN " + masked + " (ASCII)", Pattern: []byte(pan)},
		{Name: "PAN " + masked + " (hex)", Pattern: []byte(hex.EncodeToString([]byte(pan)))},
		{Name: "PAN " + masked + " (HEX)", Pattern: bytes.ToUpper([]byte(hex.EncodeToString([]byte(pan))))},
	}
	if even := len(pan) &^ 1; even >= 12 {
		bcd, err := hex.DecodeString(pan[:even])
		if err == nil {
			n = append(n, Needle{Name: "PAN " + masked + " (packed BCD)", Pattern: bcd})
		}
	}
	for shift := range 3 {
		// Prefix the PAN with shift bytes, encode, and keep only the base64
		// characters that depend on the PAN alone: those neither mixed with
		// the bytes before it nor with the bytes after it.
		buf := append(bytes.Repeat([]byte{0}, shift), pan...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(buf)
			start := (shift*8 + 5) / 6 // first character with no prefix bits
			end := (len(buf) * 8) / 6  // characters fully inside the PAN
			if end-start >= 12 {
				n = append(n, Needle{Name: fmt.Sprintf("PAN %s (base64, offset %d)", masked, shift), Pattern: []byte(s[start:end])})
			}
		}
	}
	return n
}

// CVV2 returns the needles for one CVV2 value.
//
// A bare 3-digit value cannot be searched in every file honestly: any 3 bytes
// occur in random data (a bbolt page, a ciphertext) about once per 16 MB, and
// any 3 characters in base64 or hex text far more often, so a bare search
// would fail at random. So the search is in two parts:
//
//   - everywhere, binary files included: the value in the encodings that
//     would carry it if code stored it by name (cvv2=917, "cvv2":"917",
//     "cvv":917, cvc2=917 ...), which random bytes cannot produce by chance;
//   - in text files only (valid UTF-8 without NUL bytes, like logs and JSON),
//     the bare value as a whole word: not inside a longer run of letters,
//     digits or the characters of base64, hex and numbers, so a token or a
//     ciphertext in a log cannot match but `cvv 917` or `"917"` does.
//
// This is why TestCVV2s must not be reused for amounts or other numbers.
func CVV2(cvv string) []Needle {
	var n []Needle
	for _, name := range []string{"cvv2", "cvv", "cvc2", "cvc", "CVV2", "CVV", "cvv2_value"} {
		for _, form := range []string{
			"%s=%s", "%s: %s", "%s:%s", `"%s":"%s"`, `"%s":%s`, `"%s": "%s"`, `"%s": %s`, `%s="%s"`,
		} {
			n = append(n, Needle{Name: "CVV2 (" + fmt.Sprintf(form, name, "***") + ")", Pattern: fmt.Appendf(nil, form, name, cvv)})
		}
	}
	n = append(n, Needle{Name: "CVV2 (bare word in a text file)", Pattern: []byte(cvv), Word: true})
	return n
}

// Needles returns the needles for every test PAN and CVV2.
func Needles() []Needle {
	var n []Needle
	for _, p := range TestPANs {
		n = append(n, PAN(p)...)
	}
	for _, c := range TestCVV2s {
		n = append(n, CVV2(c)...)
	}
	return n
}

// Finding is one needle found in one file.
type Finding struct {
	File   string
	Offset int
	Needle string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s at offset %d: %s", f.File, f.Offset, f.Needle)
}

// Find walks every regular file under dir and returns where any needle occurs.
// It also returns how many files and bytes it read, so a caller can check that
// the scan saw what it expected to.
//
// A bbolt file (the switch's data file, a journal archive) is also read
// value by value, decoded: the journal and the order store keep their
// records compressed (switch/compact), where a secret need not appear as
// its bytes. Such a finding's offset is the record's place in its bucket.
func Find(dir string, needles ...Needle) (findings []Finding, files int, size int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		size += int64(len(data))
		findings = append(findings, findIn(path, data, needles)...)
		if journal.CheckFile(path) == nil {
			decoded, err := findDecoded(path, needles)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			findings = append(findings, decoded...)
		}
		return nil
	})
	return findings, files, size, err
}

// findIn returns where any needle occurs in data, one file's bytes or one
// decoded record.
func findIn(name string, data []byte, needles []Needle) (findings []Finding) {
	text := utf8.Valid(data) && bytes.IndexByte(data, 0) < 0
	for _, nd := range needles {
		if nd.Word && !text {
			continue
		}
		for off := 0; ; {
			i := bytes.Index(data[off:], nd.Pattern)
			if i < 0 {
				break
			}
			at := off + i
			off = at + 1
			if nd.Word && !wholeWord(data, at, len(nd.Pattern)) {
				continue
			}
			findings = append(findings, Finding{File: name, Offset: at, Needle: nd.Name})
		}
	}
	return findings
}

// findDecoded reads every value of every bucket of a bbolt file and scans
// what the value says once decoded: a journal entry's payload and fields,
// a compressed record's bytes.
func findDecoded(path string, needles []Needle) (findings []Finding, err error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var walk func(where string, b *bolt.Bucket) error
	walk = func(where string, b *bolt.Bucket) error {
		n := 0
		return b.ForEach(func(k, v []byte) error {
			n++
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return walk(fmt.Sprintf("%s/%x", where, k), sub)
				}
				return nil
			}
			name := fmt.Sprintf("%s bucket %s, record %d, decoded", path, where, n)
			// Any journal value decodes without its chain (ErrUnchained);
			// a card number is found in it as well as in a checked one.
			if e, err := journal.DecodeEntry(v); err == nil || errors.Is(err, journal.ErrHashMismatch) || errors.Is(err, journal.ErrUnchained) {
				fields := strings.Join([]string{e.Channel, e.OrderID, e.MTI, e.STAN, e.RRN}, "\x00")
				findings = append(findings, findIn(name, append([]byte(fields+"\x00"), e.Payload...), needles)...)
				return nil
			}
			if len(v) > 0 && v[0] != compact.Raw {
				if rec, err := compact.Decode(nil, v, 64<<20); err == nil {
					findings = append(findings, findIn(name, rec, needles)...)
				}
			}
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name), b) })
	})
	return findings, err
}

// wholeWord reports whether data[at:at+n] has no word character on either
// side. Word characters are those of numbers, hex, base64 and base64url, so a
// match inside a token, a ciphertext, a decimal or a timestamp is not one.
func wholeWord(data []byte, at, n int) bool {
	isWord := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			c == '+' || c == '/' || c == '-' || c == '_' || c == '.'
	}
	if at > 0 && isWord(data[at-1]) {
		return false
	}
	if end := at + n; end < len(data) && isWord(data[end]) {
		return false
	}
	return true
}

// ScanForSecrets fails t for every needle found in any file under dir, naming
// the file, the offset and what was found (masked). With no needles it uses
// [Needles]. It returns the number of files scanned.
func ScanForSecrets(t testing.TB, dir string, needles ...Needle) int {
	t.Helper()
	if len(needles) == 0 {
		needles = Needles()
	}
	findings, files, size, err := Find(dir, needles...)
	if err != nil {
		t.Fatalf("scan %s for card data: %v", dir, err)
	}
	for _, f := range findings {
		t.Errorf("card data on disk: %s", f)
	}
	t.Logf("scanned %d files, %d bytes under %s for %d patterns: %d findings", files, size, dir, len(needles), len(findings))
	return files
}

func mask(pan string) string {
	if len(pan) < 10 {
		return "****"
	}
	return pan[:6] + "..." + pan[len(pan)-4:]
}
