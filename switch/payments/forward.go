package payments

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Deliver implements saf.Deliverer for the advices the flows queue: it
// restores the PAN from the order, sends the advice (its repeat MTI after
// the first attempt), journals both messages and records the bank's
// answer on the order.
func (s *Service) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var p safPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil || p.Message == nil {
		return saf.Rejected, fmt.Errorf("payments: SAF item %d: undecodable payload", it.ID)
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
	if _, err := s.d.Journal.Append(ctx, s.isoEntry(o, it.Bank, journal.Out, &m)); err != nil {
		return saf.Retry, err
	}
	resp, err := s.send(ctx, o.ID, it.Bank, &m)
	if err != nil {
		// Not sent, or no reply: either way the advice goes again, as a repeat.
		return saf.Retry, err
	}
	rc := iso.LookupResponseCode(resp.ResponseCode)
	// An advice is information, not a request: the bank acknowledges it. A
	// reversal of something the bank never applied is answered 25, and that
	// too settles it. A format error cannot get better by repeating.
	outcome := saf.Delivered
	if resp.ResponseCode == iso.RCFormatError {
		outcome = saf.Rejected
	}
	if err := s.recordAdvice(ctx, p, it.Bank, resp, rc.Approved || resp.ResponseCode == iso.RCOriginalNotFound); err != nil {
		return saf.Retry, err
	}
	return outcome, nil
}

func (s *Service) recordAdvice(ctx context.Context, p safPayload, bank string, resp *iso.Message, ok bool) error {
	unlock := s.locks.lock(p.OrderID)
	defer unlock()
	o, err := s.store.Get(p.OrderID)
	if err != nil {
		return err
	}
	n := o.Clone()
	if op := n.Op(p.OpID); op != nil {
		op.ResponseCode = resp.ResponseCode
		op.Status = OpApproved
		if !ok {
			op.Status = OpDeclined
		}
	}
	return s.commit(ctx, n, o.Version, []journal.Entry{s.isoEntry(n, bank, journal.In, resp)}, nil)
}

// Recover finishes what a crash interrupted: every exchange recorded as
// pending (written ahead, outcome never recorded) is treated as "sent, no
// reply": declined for the merchant and reversed through SAF. The daemon
// calls it once at start, before accepting requests.
func (s *Service) Recover(ctx context.Context) (int, error) {
	ids, err := s.store.pendingIDs()
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.recoverOrder(ctx, id); err != nil {
			return 0, fmt.Errorf("payments: recover order %s: %w", id, err)
		}
	}
	return len(ids), nil
}

func (s *Service) recoverOrder(ctx context.Context, id string) error {
	unlock := s.locks.lock(id)
	defer unlock()
	o, err := s.store.Get(id)
	if err != nil {
		return err
	}
	n := o.Clone()
	for i := range n.Ops {
		op := &n.Ops[i]
		if op.Status != OpPending || op.Type == OpThreeDS {
			continue
		}
		s.d.Log.Warn().Str("order", id).Str("op", string(op.Type)).Str("bank", op.Bank).Str("stan", op.STAN).
			Msg("recovering an exchange with unknown outcome: reversing")
		var pan string
		if n.Card != nil {
			if pan, err = s.d.Vault.DecryptPAN(ctx, n.Card.Ciphertext); err != nil {
				return err
			}
		}
		orig := originalMessage(n, op, pan)
		orig.AcquirerID = s.banks[op.Bank].AcquirerID
		if op.Type == OpRefund {
			orig.ProcessingCode = iso.ProcRefund
		}
		if op.Type == OpReversal {
			// The cancel itself was interrupted: queue it as an advice.
			orig.MTI = iso.MTIAuthorization
			op.Status = OpQueued
			applyCancel(n)
			adv := iso.ReversalOf(orig, true, op.STAN, s.d.Now(), nil)
			return s.commitQueued(ctx, n, o.Version, nil, op.Bank, op.ID, safReversal, adv)
		}
		n, err = s.unknownOutcome(ctx, n, o.Version, op, orig, op.Bank)
		return err
	}
	// A pending 3-D Secure step is the buyer's, not the bank's: it expires
	// with the order.
	return nil
}
