// Command mkdict makes a compact dictionary from the journal of a data
// file: a few recent payloads of every kind (channel, direction, MTI; the
// merchants' requests by endpoint, orders by size), rarest first, so the
// commonest sit last, where S2's shortest back-references reach. Its
// first version made dict1.txt from a `tulpar bench --self --data DIR`
// run (the same kinds and bytes; among kinds of equal count its order was
// not fixed, this one sorts them by name):
//
//	go run ./switch/compact/mkdict DIR/tulpar.db switch/compact/dict2.txt
//
// A shipped dictionary never changes; a new one is written to a new file
// and given a new codec byte. Use a run on test cards only: the
// dictionary is in the binary.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
)

// perKind is how many payloads of one kind the dictionary takes.
const perKind = 4

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkdict DATAFILE OUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkdict:", err)
		os.Exit(1)
	}
}

func run(dataFile, out string) error {
	db, err := bolt.Open(dataFile, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	samples := map[string][][]byte{}
	count := map[string]int{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("journal"))
		if b == nil {
			return fmt.Errorf("%s: no journal", dataFile)
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			e, err := journal.DecodeEntry(v)
			if err != nil && !errors.Is(err, journal.ErrUnchained) { // the payload is what matters here
				return fmt.Errorf("entry %x: %w", k, err)
			}
			kind := kindOf(e)
			if kind == "" {
				continue
			}
			count[kind]++
			if len(samples[kind]) < perKind {
				samples[kind] = append(samples[kind], e.Payload)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	kinds := make([]string, 0, len(samples))
	for k := range samples {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if count[kinds[i]] != count[kinds[j]] {
			return count[kinds[i]] < count[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	var dict []byte
	for _, k := range kinds {
		for _, p := range samples[k] {
			dict = append(append(dict, p...), '\n')
		}
	}
	if len(dict) > s2.MaxDictSize {
		dict = dict[len(dict)-s2.MaxDictSize:]
	}
	if s2.MakeDictManual(dict, 0) == nil {
		return fmt.Errorf("%d bytes make no S2 dictionary", len(dict))
	}
	fmt.Fprintf(os.Stderr, "%d kinds, %d bytes\n", len(kinds), len(dict))
	return os.WriteFile(out, dict, 0o644)
}

// kindOf names an entry's kind, or "" for one the dictionary leaves out
// (mail: it names people).
func kindOf(e journal.Entry) string {
	kind := e.Channel + " " + e.Direction.String() + " " + e.MTI
	switch e.Channel {
	case "mail":
		return ""
	case "api":
		var x struct{ Endpoint string }
		_ = json.Unmarshal(e.Payload, &x)
		kind += x.Endpoint
	case "state":
		kind += fmt.Sprint(len(e.Payload) / 200) // orders grow with their operations
	}
	return kind
}
