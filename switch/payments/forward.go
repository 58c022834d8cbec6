package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tulpar-switch/tulpar/switch/order"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Deliver implements saf.Deliverer for the advices the flows queue: it
// restores the PAN from the order, sends the advice (its repeat MTI after
// the first attempt), journals both messages and records the bank's
// answer on the order. While the bank's link is not signed on, nothing is
// sent or journaled: the queue waits for the link (saf.Unavailable),
// and the daemon kicks it when the link is ready again. A link that falls
// between the journal's write and the send leaves that attempt's entry
// with no answer; the attempt is not counted, so the next one goes under
// the same MTI and STAN.
func (s *Service) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var p order.Advice
	if err := json.Unmarshal(it.Payload, &p); err != nil || p.Message == nil {
		return saf.Rejected, fmt.Errorf("payments: SAF item %d: undecodable payload", it.ID)
	}
	if !s.linkUp(it.Queue) {
		return saf.Unavailable, fmt.Errorf("payments: %s is not connected", it.Queue)
	}
	o, err := s.store.Get(p.OrderID)
	if err != nil {
		return saf.Rejected, fmt.Errorf("payments: SAF item %d: %w", it.ID, err)
	}
	m := *p.Message
	if o.Card != nil {
		pan, err := s.d.Vault.DecryptPAN(ctx, o.Card.Ciphertext)
		if err != nil {
			return saf.Retry, fmt.Errorf("payments: SAF item %d: card: %w", it.ID, err)
		}
		m.PAN = pan
	}
	if repeat {
		m = *iso.Repeat(&m)
	}
	if _, err := s.d.Journal.Append(ctx, s.isoEntry(o, it.Queue, journal.Out, &m)); err != nil {
		return saf.Retry, err
	}
	resp, err := s.send(ctx, o.ID, it.Queue, &m)
	switch {
	case errors.Is(err, links.ErrNotSent) && !s.linkUp(it.Queue):
		// The link went down under it: the queue waits for the link. A
		// message not sent on a ready link (one that cannot be packed)
		// is this item's own trouble, retried and dead-lettered as such.
		return saf.Unavailable, err
	case err != nil:
		// Not sent, or no reply: either way the advice goes again, as a repeat.
		return saf.Retry, err
	}
	outcome, settled := adviceOutcome(it.Kind, resp.ResponseCode)
	if !settled {
		// The answer is journaled for the auditors; the order keeps the
		// advice queued, since the bank has not taken it.
		if _, err := s.d.Journal.Append(ctx, s.isoEntry(o, it.Queue, journal.In, resp)); err != nil {
			return saf.Retry, err
		}
		return outcome, fmt.Errorf("payments: %s answered %s", m.MTI, resp.ResponseCode)
	}
	if err := s.recordAdvice(ctx, p, it.Queue, resp); err != nil {
		return saf.Retry, err
	}
	return outcome, nil
}

// linkUp is false while a configured bank's link is not signed on. A
// queue named after no bank configured now (one taken out of the config
// with advices still queued) is not waiting for any link: its advices
// fail as Retry and end in the dead letters for an operator.
func (s *Service) linkUp(bank string) bool {
	if _, ok := s.banks[bank]; !ok {
		return true
	}
	return s.d.Banks.Ready(bank)
}

// adviceOutcome reads the bank's answer to an advice. An advice is
// information the bank must take, not a request it may decline: approved
// codes, and 94 (the bank already has this advice: an earlier attempt's
// answer was lost), mean it is taken. For a reversal, 25 (nothing of that
// original to reverse) leaves the books as the advice asks, so it is taken
// too; for a completion, 25 means nothing was captured, and the advice must
// go again. A format error cannot get better by repeating: it goes to the
// dead letters for an operator. Anything else (96, 91, ...) is the bank
// not taking it now: retried with backoff, then dead letters.
func adviceOutcome(kind, rc string) (saf.Outcome, bool) {
	switch {
	case iso.LookupResponseCode(rc).Approved, rc == iso.RCDuplicate,
		rc == iso.RCOriginalNotFound && kind == order.KindReversalAdvice:
		return saf.Delivered, true
	case rc == iso.RCFormatError:
		return saf.Rejected, false
	}
	return saf.Retry, false
}

// recordAdvice records that the bank took an advice.
func (s *Service) recordAdvice(ctx context.Context, p order.Advice, bank string, resp *iso.Message) error {
	unlock := s.locks.Lock(p.OrderID)
	defer unlock()
	o, err := s.store.Get(p.OrderID)
	if err != nil {
		return err
	}
	n := o.Clone()
	if op := n.Op(p.OpID); op != nil {
		op.ResponseCode = resp.ResponseCode
		op.Status = order.OpApproved
	}
	return s.commit(ctx, change{o: n, prev: o.Version, entries: []journal.Entry{s.isoEntry(n, bank, journal.In, resp)}})
}
