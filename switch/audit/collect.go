package audit

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// dayOp is one operation as the journal last recorded it, with its order.
type dayOp struct {
	order *order.Order // the order's last recorded state
	op    order.Operation
	index int // position in order.Ops, for a stable sort
}

// collectDay streams the journal's state entries and returns every
// operation whose time falls in [from, to) and for which keep is true, as
// the latest state entry of its order records it (a reversal queued in the
// evening and acknowledged at night shows as acknowledged). Entries older
// than from are skipped undecoded: an operation is journaled after it
// happens, so they cannot hold it.
func collectDay(ctx context.Context, d *Data, from, to time.Time, keep func(*order.Order, *order.Operation) bool, progress Progress) ([]*dayOp, error) {
	total, err := d.Journal.Count()
	if err != nil {
		return nil, err
	}
	latest := map[string]*order.Order{} // only orders with an operation of the day
	var seen uint64
	err = d.Journal.Iterate(d.Journal.SeqSince(from), func(e journal.Entry) error {
		seen++
		if seen%progressEvery == 0 {
			if progress != nil {
				progress(seen, total)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if e.Channel != order.ChannelState || e.Time.Before(from) {
			return nil
		}
		o, err := order.Decode(e.Payload)
		if err != nil {
			return fmt.Errorf("entry %d: order %s: %w", e.Seq, e.OrderID, err)
		}
		for i := range o.Ops {
			op := &o.Ops[i]
			if !op.Time.Before(from) && op.Time.Before(to) && keep(o, op) {
				latest[e.OrderID] = o
				return nil
			}
		}
		if _, ok := latest[e.OrderID]; ok {
			latest[e.OrderID] = o // a later state of an order that had one
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if progress != nil {
		progress(seen, total)
	}
	var out []*dayOp
	for _, o := range latest {
		for i := range o.Ops {
			op := o.Ops[i]
			if !op.Time.Before(from) && op.Time.Before(to) && keep(o, &op) {
				out = append(out, &dayOp{order: o, op: op, index: i})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.op.Time.Equal(b.op.Time) {
			return a.op.Time.Before(b.op.Time)
		}
		if a.order.ID != b.order.ID {
			return a.order.ID < b.order.ID
		}
		return a.index < b.index
	})
	return out, nil
}

// DayBounds returns the business day date (YYYY-MM-DD) in loc as [from, to).
func DayBounds(date string, loc *time.Location) (time.Time, time.Time, error) {
	day, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", date)
	}
	return day, day.AddDate(0, 0, 1), nil
}
