package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// VerifyResult is what an intact journal holds.
type VerifyResult struct {
	Entries     uint64
	ByChannel   map[string]uint64 // entries per channel
	ByDirection map[string]uint64 // entries per direction (in, out, internal)
	WithOrder   uint64            // entries carrying an order id
	Orders      int               // orders in the order store
	First, Last time.Time         // entry times
	// FirstSeq is the first entry kept: 1, or the first after the archives
	// retention removed.
	FirstSeq uint64
	Archives []journal.ArchiveInfo // the archive files read, oldest first
	HeadHash [journal.HashSize]byte
}

// Verify checks the whole journal (journal.Verify: hashes, sequence without
// gaps, each entry linked to its predecessor, head record, order index) and
// counts what it holds. A broken journal returns a *journal.ChainError that
// names the first broken or missing entry.
//
// byChannel adds a second pass over the journal that counts entries per
// channel and direction; it roughly doubles the time, so it is asked for.
// progress reports the chain check, then that pass.
func Verify(ctx context.Context, d *Data, byChannel bool, progress Progress) (*VerifyResult, error) {
	total, err := d.Journal.Count()
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	// The chain check comes first: it finds a deletion or a swap before any
	// later edit, so the entry it names is the first one broken.
	if err := d.Journal.VerifyProgress(ctx, progress); err != nil {
		return nil, err
	}
	r := &VerifyResult{Entries: total, Archives: d.Journal.Archives()}
	if total > 0 {
		first, err := d.Journal.First()
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		r.Entries = total - first.Seq + 1
		r.FirstSeq = first.Seq
		last, err := d.Journal.Last()
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		r.First, r.Last, r.HeadHash = first.Time, last.Time, last.Hash
	}
	if byChannel {
		r.ByChannel, r.ByDirection = map[string]uint64{}, map[string]uint64{}
		var n uint64
		err = d.Journal.Iterate(1, func(e journal.Entry) error {
			n++
			r.ByChannel[e.Channel]++
			r.ByDirection[e.Direction.String()]++
			if e.OrderID != "" {
				r.WithOrder++
			}
			if n%progressEvery == 0 {
				if progress != nil {
					progress(n, total)
				}
				return ctx.Err()
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(n, total)
		}
	}
	err = d.DB.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(order.BucketOrders); b != nil {
			r.Orders = b.Stats().KeyN
		}
		return nil
	})
	return r, err
}

// WriteVerify prints a verification's outcome for people: OK with counts,
// or the first broken entry and what is wrong with it.
func WriteVerify(w io.Writer, r *VerifyResult, err error) {
	var ce *journal.ChainError
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "BROKEN at entry %d: %s\n", ce.Seq, ce.Reason)
		if ce.Detail != "" {
			fmt.Fprintf(w, "  %s\n", ce.Detail)
		}
		if ce.Err != nil {
			fmt.Fprintf(w, "  %v\n", ce.Err)
		}
		return
	}
	if err != nil {
		fmt.Fprintf(w, "ERROR: %v\n", err)
		return
	}
	fmt.Fprintf(w, "OK: %d entries, hash chain intact\n", r.Entries)
	if r.FirstSeq > 1 {
		fmt.Fprintf(w, "  entries before %d were removed with their archives (retention)\n", r.FirstSeq)
	}
	if n := len(r.Archives); n > 0 {
		fmt.Fprintf(w, "  %d archive files, entries %d..%d, then the live file\n", n, r.Archives[0].First, r.Archives[n-1].Last)
	}
	if r.Entries > 0 {
		fmt.Fprintf(w, "  first %s, last %s\n", r.First.Format(time.RFC3339Nano), r.Last.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "  head hash %s (anchor it outside the file to detect a cut tail)\n", hex.EncodeToString(r.HeadHash[:]))
	}
	fmt.Fprintf(w, "  %d orders in the order store\n", r.Orders)
	if r.ByChannel != nil {
		fmt.Fprintf(w, "  %d entries with an order id\n", r.WithOrder)
		fmt.Fprintf(w, "  by direction: %s\n", formatCounts(r.ByDirection))
		fmt.Fprintf(w, "  by channel:   %s\n", formatCounts(r.ByChannel))
	}
}

func formatCounts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	if s == "" {
		return "none"
	}
	return s
}
