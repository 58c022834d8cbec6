package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// Difference kinds.
const (
	MissingInStore   = "missing_in_store"   // the journal has the order, the store does not
	MissingInJournal = "missing_in_journal" // the store has an order no state entry explains
	Differs          = "differs"            // both have it, with different content
)

// FieldDiff is one field whose value differs between the order rebuilt from
// the journal and the order store.
type FieldDiff struct {
	Path    string // e.g. "status", "ops[1].amount"
	Journal string // JSON value, "" when absent
	Store   string
}

// Difference is one order, or one payment link, on which the journal and
// the store disagree.
type Difference struct {
	OrderID string
	// Link is the payment link's code when the difference is a link's
	// (OrderID is then empty).
	Link   string
	Kind   string
	Seq    uint64 // the journal's last state entry for the order, if any
	Fields []FieldDiff
}

// ReplayResult is the outcome of Replay.
type ReplayResult struct {
	Entries      uint64 // journal entries read
	StateEntries uint64 // of which order state changes
	Orders       int    // orders rebuilt from the journal
	StoreOrders  int    // orders in the order store
	Matched      int
	// Pruned counts orders of the store last changed before the oldest
	// entry kept: their history went with archives past retention, so
	// there is nothing to compare them with.
	Pruned int
	// Links, StoreLinks, LinksMatched and LinksPruned are the same for
	// payment links: each is its last ChannelPaymentLink entry, compared
	// with the links' bucket.
	Links, StoreLinks, LinksMatched, LinksPruned int
	Differences                                  []Difference // orders by id, then links by code
	// Index is the check of the order store's query indexes.
	Index IndexCheck
}

// IndexCheck is what Replay found of the order store's query indexes (the
// merchant cabinet's: switch/order's index.go): each order's keys made
// again from the order, compared with those stored.
type IndexCheck struct {
	// Built is false when the file holds no indexes of this build's
	// layout (a file from before them): the switch builds them when it
	// next starts, and there is nothing to compare.
	Built bool
	// Keys is how many keys the orders make.
	Keys int
	// Differences lists the first differences found (at most 100);
	// Mismatches counts them all.
	Differences []string
	Mismatches  int
}

// OK reports whether journal and order store agree on every order, and
// the indexes with the orders.
func (r *ReplayResult) OK() bool { return len(r.Differences) == 0 && len(r.Index.Differences) == 0 }

// stateRef is what Replay keeps per order while streaming: the hash of the
// last state entry's payload and where it is, never the JSON itself, so a
// million-entry journal replays in a few tens of megabytes.
type stateRef struct {
	seq  uint64
	hash [sha256.Size]byte
}

// Replay rebuilds every order's state from the journal alone (each order is
// its last "state" entry, which carries the whole order) and compares it
// with the order store. It streams the journal; the store is read in one
// read transaction. It does not check the hash chain: Verify does.
func Replay(ctx context.Context, d *Data, progress Progress) (*ReplayResult, error) {
	total, err := d.Journal.Count()
	if err != nil {
		return nil, fmt.Errorf("audit: replay: %w", err)
	}
	r := &ReplayResult{}
	last := map[string]stateRef{}
	links := map[string]stateRef{}
	err = d.Journal.Iterate(1, func(e journal.Entry) error {
		r.Entries++
		if r.Entries%progressEvery == 0 {
			if progress != nil {
				progress(r.Entries, total)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if e.Channel == order.ChannelPaymentLink {
			var l struct {
				Code string `json:"code"`
			}
			if json.Unmarshal(e.Payload, &l) == nil && l.Code != "" {
				links[l.Code] = stateRef{seq: e.Seq, hash: sha256.Sum256(e.Payload)}
			}
			return nil
		}
		if e.Channel != order.ChannelState || e.OrderID == "" {
			return nil
		}
		r.StateEntries++
		last[e.OrderID] = stateRef{seq: e.Seq, hash: sha256.Sum256(e.Payload)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: replay: %w", err)
	}
	if progress != nil {
		progress(r.Entries, total)
	}
	r.Orders = len(last)
	var historyFrom time.Time // zero: the whole history is kept
	if first, err := d.Journal.First(); err == nil && first.Seq > 1 {
		historyFrom = first.Time
	}

	orders := stored{what: "order", bucket: order.BucketOrders, decode: order.StoredJSON,
		pruned: func(v []byte) bool {
			var o struct {
				UpdatedAt time.Time `json:"updated_at"`
			}
			return json.Unmarshal(v, &o) == nil && o.UpdatedAt.Before(historyFrom)
		},
		difference: func(id string) Difference { return Difference{OrderID: id} }}
	if r.StoreOrders, r.Matched, r.Pruned, err = orders.compare(d, last, !historyFrom.IsZero(), &r.Differences); err != nil {
		return nil, fmt.Errorf("audit: replay: order store: %w", err)
	}
	r.Links = len(links)
	paylinks := stored{what: "payment link", bucket: order.BucketPaymentLinks,
		// Created, and switched off if it was, before the oldest entry
		// kept: its entries went with archives past retention.
		pruned: func(v []byte) bool {
			var l struct {
				CreatedAt  time.Time `json:"created_at"`
				DisabledAt time.Time `json:"disabled_at"`
			}
			return json.Unmarshal(v, &l) == nil && l.CreatedAt.Before(historyFrom) && l.DisabledAt.Before(historyFrom)
		},
		difference: func(code string) Difference { return Difference{Link: code} }}
	if r.StoreLinks, r.LinksMatched, r.LinksPruned, err = paylinks.compare(d, links, !historyFrom.IsZero(), &r.Differences); err != nil {
		return nil, fmt.Errorf("audit: replay: payment links: %w", err)
	}
	if r.Index, err = checkIndexes(ctx, d.DB); err != nil {
		return nil, fmt.Errorf("audit: replay: indexes: %w", err)
	}
	return r, nil
}

// stored is a bucket whose records are each the payload of their last
// journal entry (orders: ChannelState, payment links: ChannelPaymentLink),
// and how replay reads it.
type stored struct {
	what   string // "order", "payment link": for errors
	bucket []byte
	// decode turns a value into the JSON the entry holds; nil when the
	// value is that JSON.
	decode func([]byte) ([]byte, error)
	// pruned reports whether a record with no entry had its last one
	// before the oldest entry kept (archives past retention).
	pruned func(v []byte) bool
	// difference names a record in a Difference.
	difference func(key string) Difference
}

// compare reads the bucket in one read transaction and compares each
// record with its last entry (refs, by key; consumed). It appends a
// difference for each record that differs, has no entry (unless
// history was pruned and the record is older), or has an entry and is
// missing, in key order, and returns how many records the bucket holds,
// match and were pruned.
func (st stored) compare(d *Data, refs map[string]stateRef, historyPruned bool, diffs *[]Difference) (records, matched, pruned int, err error) {
	var found []Difference
	err = d.DB.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(st.bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			records++
			key := string(k)
			if st.decode != nil {
				var err error
				if v, err = st.decode(v); err != nil {
					return fmt.Errorf("%s %s: store value: %w", st.what, key, err)
				}
			}
			ref, ok := refs[key]
			if !ok {
				if historyPruned && st.pruned(v) {
					pruned++
					return nil
				}
				dd := st.difference(key)
				dd.Kind = MissingInJournal
				found = append(found, dd)
				return nil
			}
			delete(refs, key)
			fields, err := compareStored(d, ref, v)
			if err != nil {
				return fmt.Errorf("%s %s: %w", st.what, key, err)
			}
			if len(fields) == 0 {
				matched++
				return nil
			}
			dd := st.difference(key)
			dd.Kind, dd.Seq, dd.Fields = Differs, ref.seq, fields
			found = append(found, dd)
			return nil
		})
	})
	if err != nil {
		return 0, 0, 0, err
	}
	for key, ref := range refs {
		dd := st.difference(key)
		dd.Kind, dd.Seq = MissingInStore, ref.seq
		found = append(found, dd)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].OrderID+found[i].Link < found[j].OrderID+found[j].Link })
	*diffs = append(*diffs, found...)
	return records, matched, pruned, nil
}

// compareStored returns the fields in which stored, a store's JSON,
// differs from the payload of the journal entry ref names; none when they
// agree. The store keeps the very JSON the journal holds, so equal hashes
// are the common case; only a mismatch pays for reading the entry and
// decoding both (the same value encoded differently is no difference).
func compareStored(d *Data, ref stateRef, stored []byte) ([]FieldDiff, error) {
	if sha256.Sum256(stored) == ref.hash {
		return nil, nil
	}
	e, err := d.Journal.Get(ref.seq)
	if err != nil {
		return nil, fmt.Errorf("journal entry %d: %w", ref.seq, err)
	}
	return diffJSON(e.Payload, stored)
}

// maxIndexDiffs bounds the index differences listed: a lost index makes
// one per order.
const maxIndexDiffs = 100

// checkIndexes makes every order's index keys again from the order as the
// store holds it (Replay has compared those with the journal) and checks
// that each is stored, with its row, and that no bucket holds more. It
// streams the orders in one read transaction.
func checkIndexes(ctx context.Context, db journal.Transactor) (IndexCheck, error) {
	var c IndexCheck
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(order.BucketStoreMeta)
		if meta == nil || !bytes.Equal(meta.Get(order.IndexVersionKey), binary.BigEndian.AppendUint32(nil, order.IndexVersion)) {
			return nil
		}
		byTime, byStatus, byField := tx.Bucket(order.BucketByTime), tx.Bucket(order.BucketByStatus), tx.Bucket(order.BucketByField)
		orders := tx.Bucket(order.BucketOrders)
		if byTime == nil || byStatus == nil || byField == nil || orders == nil {
			c.Differences, c.Mismatches = append(c.Differences, "the index version is recorded but an index bucket is missing"), 1
			return nil
		}
		c.Built = true
		diff := func(format string, a ...any) {
			if c.Mismatches++; len(c.Differences) < maxIndexDiffs {
				c.Differences = append(c.Differences, fmt.Sprintf(format, a...))
			}
		}
		has := func(b *bolt.Bucket, k []byte) bool {
			got, _ := b.Cursor().Seek(k)
			return bytes.Equal(got, k)
		}
		want := [3]int{}
		n := 0
		err := orders.ForEach(func(k, v []byte) error {
			if n++; n%progressEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			o, err := order.Decode(v)
			if err != nil {
				diff("order %s: does not decode: %v", k, err)
				return nil
			}
			row := order.RowOf(o)
			tk, sk, fks := order.IndexKeys(o, row)
			want[0]++
			want[1]++
			want[2] += len(fks)
			if got := byTime.Get(tk); !bytes.Equal(got, row.Encode()) {
				diff("order %s: orders_by_time has row %x, the order makes %x", o.ID, got, row.Encode())
			}
			if !has(byStatus, sk) {
				diff("order %s: missing from orders_by_status under status %d", o.ID, row.Status)
			}
			for i, fk := range fks {
				if !has(byField, fk) {
					diff("order %s: missing from orders_by_field under %c %s", o.ID, row.Fields[i].Field, row.Fields[i].Value)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		c.Keys = want[0] + want[1] + want[2]
		for i, b := range []*bolt.Bucket{byTime, byStatus, byField} {
			if got := b.Stats().KeyN; got != want[i] {
				diff("%s holds %d keys, the orders make %d", [][]byte{order.BucketByTime, order.BucketByStatus, order.BucketByField}[i], got, want[i])
			}
		}
		return nil
	})
	return c, err
}

// WriteReplay prints a replay's summary and each difference.
func WriteReplay(w io.Writer, r *ReplayResult) {
	verdict := "OK"
	if !r.OK() {
		verdict = "MISMATCH"
	}
	orderDiffs := 0
	for _, d := range r.Differences {
		if d.Link == "" {
			orderDiffs++
		}
	}
	fmt.Fprintf(w, "%s: %d journal entries, %d state changes, %d orders rebuilt; order store holds %d; %d match, %d differ\n",
		verdict, r.Entries, r.StateEntries, r.Orders, r.StoreOrders, r.Matched, orderDiffs)
	if r.Pruned > 0 {
		fmt.Fprintf(w, "%d orders last changed before the oldest entry kept (their archives are past retention): not compared\n", r.Pruned)
	}
	if r.Links > 0 || r.StoreLinks > 0 {
		fmt.Fprintf(w, "payment links: %d rebuilt from the journal; the store holds %d; %d match", r.Links, r.StoreLinks, r.LinksMatched)
		if r.LinksPruned > 0 {
			fmt.Fprintf(w, "; %d with no entry since the oldest kept (their archives are past retention): not compared", r.LinksPruned)
		}
		fmt.Fprintln(w)
	}
	switch {
	case !r.Index.Built && len(r.Index.Differences) == 0:
		fmt.Fprintf(w, "indexes: none of this layout in the file (the switch builds them at its next start)\n")
	case len(r.Index.Differences) == 0:
		fmt.Fprintf(w, "indexes: %d keys, as the orders make them\n", r.Index.Keys)
	default:
		fmt.Fprintf(w, "indexes: %d differences with what the orders make:\n", r.Index.Mismatches)
		for _, d := range r.Index.Differences {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	for _, d := range r.Differences {
		// An order's entries are its state changes; a link's, the link.
		what, entry, store := "order "+d.OrderID, "state entry", "the order store"
		if d.Link != "" {
			what, entry, store = "payment link "+d.Link, "entry", "the store"
		}
		switch d.Kind {
		case MissingInStore:
			fmt.Fprintf(w, "%s: in the journal (last %s %d), missing from %s\n", what, entry, d.Seq, store)
		case MissingInJournal:
			fmt.Fprintf(w, "%s: in %s, no %s in the journal\n", what, store, entry)
		default:
			fmt.Fprintf(w, "%s: differs from journal entry %d:\n", what, d.Seq)
			for _, f := range d.Fields {
				fmt.Fprintf(w, "  %s: journal %s, store %s\n", f.Path, orAbsent(f.Journal), orAbsent(f.Store))
			}
		}
	}
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// diffJSON compares two JSON documents as values (key order and spacing do
// not matter) and returns the paths that differ.
func diffJSON(a, b []byte) ([]FieldDiff, error) {
	va, err := decodeJSON(a)
	if err != nil {
		return nil, fmt.Errorf("journal side: %w", err)
	}
	vb, err := decodeJSON(b)
	if err != nil {
		return []FieldDiff{{Path: "(document)", Journal: "valid JSON", Store: "not JSON: " + err.Error()}}, nil
	}
	var out []FieldDiff
	diffValue("", va, vb, &out)
	return out, nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func diffValue(path string, a, b any, out *[]FieldDiff) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range av {
				keys[k] = true
			}
			for k := range bv {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				p := k
				if path != "" {
					p = path + "." + k
				}
				x, xok := av[k]
				y, yok := bv[k]
				switch {
				case !xok:
					*out = append(*out, FieldDiff{Path: p, Store: showValue(p, y)})
				case !yok:
					*out = append(*out, FieldDiff{Path: p, Journal: showValue(p, x)})
				default:
					diffValue(p, x, y, out)
				}
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			n := max(len(av), len(bv))
			for i := 0; i < n; i++ {
				p := path + "[" + strconv.Itoa(i) + "]"
				switch {
				case i >= len(av):
					*out = append(*out, FieldDiff{Path: p, Store: showValue(p, bv[i])})
				case i >= len(bv):
					*out = append(*out, FieldDiff{Path: p, Journal: showValue(p, av[i])})
				default:
					diffValue(p, av[i], bv[i], out)
				}
			}
			return
		}
	}
	ja, jb := showValue(path, a), showValue(path, b)
	if ja != jb {
		*out = append(*out, FieldDiff{Path: path, Journal: ja, Store: jb})
	}
}

// showValue renders a JSON value for a report, with card data held back.
func showValue(path string, v any) string {
	if sensitivePath(path) {
		raw, _ := json.Marshal(v)
		return fmt.Sprintf("(hidden, sha256 %x)", sha256.Sum256(raw))[:26] + ")"
	}
	raw, err := json.Marshal(maskValue(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(raw)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
