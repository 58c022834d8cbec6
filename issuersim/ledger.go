package issuersim

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// kind is what an applied financial message did to the books.
type kind uint8

const (
	kindAuth kind = iota + 1
	kindPurchase
	kindCompletion
	kindRefund
	kindReversal
)

func (k kind) String() string {
	switch k {
	case kindAuth:
		return "authorization"
	case kindPurchase:
		return "purchase"
	case kindCompletion:
		return "completion"
	case kindRefund:
		return "refund"
	case kindReversal:
		return "reversal"
	}
	return "unknown"
}

// account is a card and its money. The card fields never change after
// New, so checks read them without the ledger lock; the money fields are
// guarded by ledger.mu.
type account struct {
	pan, expiry, cvvHash, name, currency string
	state                                CardState

	opening  int64
	balance  int64 // opening − captured + refunded
	held     int64 // sum of open holds
	captured int64 // debits net of reversals
	refunded int64 // credits net of reversals
	holds    int   // open holds
}

// AccountView is an account as tests, the crash test and GET /accounts see
// it. Amounts are minor units.
type AccountView struct {
	PAN       string    `json:"pan"` // masked
	Name      string    `json:"name"`
	Currency  string    `json:"currency"`
	State     CardState `json:"state"`
	Opening   int64     `json:"opening"`
	Balance   int64     `json:"balance"`   // opening − captured + refunded
	Held      int64     `json:"held"`      // open holds
	Available int64     `json:"available"` // balance − held
	Captured  int64     `json:"captured"`  // purchases and completions net of reversals
	Refunded  int64     `json:"refunded"`  // refunds net of reversals
	Holds     int       `json:"holds"`     // number of open holds
}

func (a *account) view() AccountView {
	return AccountView{
		PAN: iso.MaskPAN(a.pan), Name: a.name, Currency: a.currency, State: a.state,
		Opening: a.opening, Balance: a.balance, Held: a.held, Available: a.balance - a.held,
		Captured: a.captured, Refunded: a.refunded, Holds: a.holds,
	}
}

// record is one applied financial message. Originals keep live state
// (hold, captured, refunded) that completions, reversals and refunds
// change.
type record struct {
	seq  uint64
	kind kind
	at   time.Time

	mti, stan, rrn, tid, mid, de7, currency, approval string
	acquirer                                          string // DE32
	acct                                              *account
	amount                                            int64 // as approved: DE4, or a knob's approve_amount
	orig                                              *record

	hold      int64 // authorization: open hold
	completed bool  // authorization: a completion captured it
	captured  int64 // purchase, completion: captured, net of reversals
	refunded  int64 // purchase, completion: refunded so far, net of refund reversals
	refund    int64 // refund: amount in effect, net of reversals
	reversed  int64 // reversal: amount released or credited
}

// final is the amount the bank considers final for the settlement file.
func (r *record) final() int64 {
	switch r.kind {
	case kindAuth:
		return r.hold
	case kindPurchase, kindCompletion:
		return r.captured
	case kindRefund:
		return r.refund
	case kindReversal:
		return r.reversed
	}
	return 0
}

// seenEntry is the stored answer to one request, for duplicates. done is
// closed once resp is set, so a duplicate arriving while the first is
// still being decided waits for its answer instead of being applied.
type seenEntry struct {
	fp   string
	resp *iso.Message
	done chan struct{}
}

// ledger is the bank's books. One mutex guards them: decisions take a few
// microseconds and BenchmarkSimulatorCapacity shows the lock is not what
// limits the simulator.
type ledger struct {
	now      func() time.Time
	accounts map[string]*account // read-only after New

	mu      sync.Mutex
	seen    map[string]*seenEntry
	byOrig  map[string]*record   // DE90 key of the message that created the record
	byRRN   map[string][]*record // DE37|DE41
	records []*record
	seq     uint64
	salt    uint64
}

func newLedger(name string, now func() time.Time) *ledger {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &ledger{
		now:      now,
		accounts: map[string]*account{},
		seen:     map[string]*seenEntry{},
		byOrig:   map[string]*record{},
		byRRN:    map[string][]*record{},
		salt:     h.Sum64() % approvalSpace,
	}
}

// approvalSpace is 36^6: six base-36 characters.
const approvalSpace = 2176782336

// approvalCode returns the n-th approval code: six upper-case
// alphanumerics, distinct for 36^6 approvals (multiplying by a number
// prime to 36 is a bijection modulo 36^6) and not visibly sequential.
func (l *ledger) approvalCode(n uint64) string {
	v := (n*2654435761 + l.salt) % approvalSpace
	s := strings.ToUpper(strconv.FormatUint(v, 36))
	return strings.Repeat("0", 6-len(s)) + s
}

// trimTID drops the space padding of DE41, as iso.MatchKey does.
func trimTID(s string) string { return strings.TrimRight(s, " ") }

// normMTI maps a repeat to the message it repeats (0221 → 0220): DE90 of
// a later message names the original whichever copy arrived first.
func normMTI(mti string) string {
	if iso.IsRepeat(mti) {
		return mti[:3] + "0"
	}
	return mti
}

func origKey(mti, stan, de7, tid string) string {
	return normMTI(mti) + "|" + stan + "|" + de7 + "|" + trimTID(tid)
}

// dupKey is what makes two requests the same request: MTI class, STAN and
// terminal (iso.MatchKey), the acquirer and the RRN.
func dupKey(m *iso.Message) string { return iso.MatchKey(m) + "|" + m.AcquirerID + "|" + m.RRN }

// fingerprint is what a true retransmission repeats exactly. The same
// key with another fingerprint is a different request reusing a STAN.
func fingerprint(m *iso.Message) string {
	fp := m.PAN + "|" + m.ProcessingCode + "|" + strconv.FormatInt(m.Amount, 10)
	if m.Original != nil {
		fp += "|" + m.Original.String()
	}
	return fp
}

// process decides and applies one financial request exactly once and
// returns its answer. precheck holds the checks that need no books (card
// state, expiry, CVV2); o is what a knob rule changes.
func (l *ledger) process(ctx context.Context, req *iso.Message, o override, precheck func(context.Context, *iso.Message) string) *iso.Message {
	key, fp := dupKey(req), fingerprint(req)
	l.mu.Lock()
	if e, ok := l.seen[key]; ok {
		l.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return respond(req, iso.RCMalfunction)
		}
		if e.fp != fp {
			return respond(req, iso.RCDuplicate)
		}
		return clone(e.resp)
	}
	e := &seenEntry{fp: fp, done: make(chan struct{})}
	l.seen[key] = e
	l.mu.Unlock()

	forced := o.decline()
	rc := forced
	if rc == "" {
		rc = precheck(ctx, req)
	}
	l.mu.Lock()
	var resp *iso.Message
	if rc != "" {
		resp = respond(req, rc)
	} else {
		resp = l.apply(req, o)
	}
	e.resp = resp
	if forced != "" {
		// A knob's forced decline is the bank's state of the moment, not a
		// decision on the books: nothing was applied, so a retransmission
		// (the SAF's 0221 after a 96) is decided afresh, as a host that
		// failed to process the first copy would. Requests already waiting
		// on this one still get its answer.
		delete(l.seen, key)
	}
	l.mu.Unlock()
	close(e.done)
	return clone(resp)
}

// apply runs under l.mu. o's approved amount applies to authorizations
// and purchases only.
func (l *ledger) apply(req *iso.Message, o override) *iso.Message {
	switch req.MTI {
	case iso.MTIAuthorization:
		return l.authorize(req, o)
	case iso.MTIFinancial:
		switch {
		case iso.IsRefund(req.ProcessingCode):
			return l.refund(req)
		case req.Original != nil && req.Original.MTI == iso.MTIAuthorization:
			// A completion sent as an 0200, as some banks want it.
			return l.complete(req)
		}
		return l.purchase(req, o)
	case iso.MTICompletionAdvice, iso.MTICompletionAdviceRepeat:
		return l.complete(req)
	case iso.MTIReversal, iso.MTIReversalAdvice, iso.MTIReversalAdviceRepeat:
		return l.reverse(req)
	}
	return respond(req, iso.RCInvalidTxn)
}

// add records an applied message and indexes it.
func (l *ledger) add(req *iso.Message, k kind, acct *account, orig *record) *record {
	l.seq++
	r := &record{
		seq: l.seq, kind: k, at: l.now(),
		mti: req.MTI, stan: req.STAN, rrn: req.RRN, tid: trimTID(req.TerminalID), mid: strings.TrimRight(req.MerchantID, " "),
		de7: req.TransmissionTime, currency: req.Currency, acct: acct, amount: req.Amount, orig: orig,
		acquirer: req.AcquirerID,
	}
	if r.currency == "" {
		r.currency = acct.currency
	}
	l.records = append(l.records, r)
	l.byOrig[origKey(req.MTI, req.STAN, req.TransmissionTime, req.TerminalID)] = r
	if req.RRN != "" {
		k := req.RRN + "|" + r.tid
		l.byRRN[k] = append(l.byRRN[k], r)
	}
	return r
}

// authorize puts a hold for the amount approved: DE4, or a knob's
// approve_amount.
func (l *ledger) authorize(req *iso.Message, o override) *iso.Message {
	a := l.accounts[req.PAN]
	amount, rc, changed := o.approval(req.Amount)
	if amount > a.balance-a.held {
		return respond(req, iso.RCInsufficientFunds)
	}
	r := l.add(req, kindAuth, a, nil)
	r.amount = amount
	r.hold = amount
	if r.hold > 0 {
		a.held += r.hold
		a.holds++
	}
	r.approval = l.approvalCode(r.seq)
	return approve(req, r, rc, changed)
}

// purchase captures the amount approved: DE4, or a knob's approve_amount.
func (l *ledger) purchase(req *iso.Message, o override) *iso.Message {
	a := l.accounts[req.PAN]
	if req.Amount <= 0 {
		return respond(req, iso.RCInvalidAmount)
	}
	amount, rc, changed := o.approval(req.Amount)
	if amount > a.balance-a.held {
		return respond(req, iso.RCInsufficientFunds)
	}
	r := l.add(req, kindPurchase, a, nil)
	r.amount = amount
	r.captured = amount
	a.balance -= amount
	a.captured += amount
	r.approval = l.approvalCode(r.seq)
	return approve(req, r, rc, changed)
}

// approve answers an authorization or purchase the books applied as r.
// When a knob changed the amount, DE4 is the amount approved, and a
// partial approval (10) carries the amount asked for in DE54.
func approve(req *iso.Message, r *record, rc string, changed bool) *iso.Message {
	resp := respond(req, rc)
	resp.ApprovalCode = r.approval
	if changed {
		resp.SetAmount(r.amount)
		if rc == rcPartialApproval {
			resp.AdditionalAmounts = originalAmountDE54(r.currency, req.Amount)
		}
	}
	return resp
}

// mismatch says which field of a follow-up does not carry what its
// original carried, "" when they agree. A bank finds and settles a
// follow-up by these: DE90's acquirer part and DE32 name the acquirer of
// the original, DE42 its merchant, DE49 its currency, and a completion or
// reversal keeps its RRN (a refund is a transaction of its own, with its
// own). A follow-up that disagrees is a format error, never applied.
func mismatch(req *iso.Message, orig *record, sameRRN bool) string {
	switch {
	case req.Original != nil && strings.TrimLeft(req.Original.AcquirerID, "0") != strings.TrimLeft(orig.acquirer, "0"):
		return "DE90 acquirer id"
	case req.AcquirerID != orig.acquirer:
		return "DE32"
	case strings.TrimRight(req.MerchantID, " ") != orig.mid:
		return "DE42"
	case req.Currency != "" && req.Currency != orig.currency:
		return "DE49"
	case sameRRN && req.RRN != "" && req.RRN != orig.rrn:
		return "DE37"
	}
	return ""
}

// findOriginal finds the record a completion, reversal or refund refers
// to: by DE90 (original MTI, STAN, DE7) and this message's DE41, or,
// without DE90, by DE37 and DE41 naming the original's RRN, taking the
// latest record of one of the wanted kinds.
func (l *ledger) findOriginal(req *iso.Message, kinds ...kind) *record {
	var r *record
	if o := req.Original; o != nil {
		r = l.byOrig[origKey(o.MTI, o.STAN, o.TransmissionTime, req.TerminalID)]
	} else if req.RRN != "" {
		list := l.byRRN[req.RRN+"|"+trimTID(req.TerminalID)]
		for i := len(list) - 1; i >= 0; i-- {
			if containsKind(kinds, list[i].kind) {
				r = list[i]
				break
			}
		}
	}
	if r == nil || !containsKind(kinds, r.kind) {
		return nil
	}
	if req.PAN != "" && req.PAN != r.acct.pan {
		return nil
	}
	return r
}

func containsKind(list []kind, k kind) bool {
	for _, v := range list {
		if v == k {
			return true
		}
	}
	return false
}

// complete captures an authorization's hold for an amount up to the hold
// and releases the rest.
func (l *ledger) complete(req *iso.Message) *iso.Message {
	auth := l.findOriginal(req, kindAuth)
	switch {
	case auth == nil:
		return respond(req, iso.RCOriginalNotFound)
	case mismatch(req, auth, true) != "":
		return respond(req, iso.RCFormatError)
	case auth.completed:
		// A second completion of one hold. A retransmission (0221 with
		// the same STAN) never gets here: it is a duplicate.
		return respond(req, iso.RCInvalidTxn)
	case auth.hold == 0 && auth.amount > 0:
		// Reversed before completion.
		return respond(req, iso.RCInvalidTxn)
	case !req.HasAmount || req.Amount <= 0 || req.Amount > auth.hold:
		return respond(req, iso.RCInvalidAmount)
	}
	a := auth.acct
	a.held -= auth.hold
	a.holds--
	auth.hold = 0
	auth.completed = true
	a.balance -= req.Amount
	a.captured += req.Amount
	r := l.add(req, kindCompletion, a, auth)
	r.captured = req.Amount
	resp := respond(req, iso.RCApproved)
	r.approval = req.ApprovalCode
	if r.approval == "" {
		r.approval = auth.approval
	}
	resp.ApprovalCode = r.approval
	return resp
}

// refund credits back part or all of what a purchase or completion
// captured; the refunds of one capture never add up to more than it.
func (l *ledger) refund(req *iso.Message) *iso.Message {
	capture := l.findOriginal(req, kindPurchase, kindCompletion)
	switch {
	case capture == nil:
		return respond(req, iso.RCOriginalNotFound)
	case mismatch(req, capture, false) != "":
		return respond(req, iso.RCFormatError)
	case req.Amount <= 0:
		return respond(req, iso.RCInvalidAmount)
	case req.Amount > capture.captured-capture.refunded:
		return respond(req, iso.RCExceedsCapture)
	}
	a := capture.acct
	capture.refunded += req.Amount
	a.balance += req.Amount
	a.refunded += req.Amount
	r := l.add(req, kindRefund, a, capture)
	r.refund = req.Amount
	r.approval = l.approvalCode(r.seq)
	resp := respond(req, iso.RCApproved)
	resp.ApprovalCode = r.approval
	return resp
}

// reverse sets the original to the amount that stays with the cardholder's
// bank (DE95, 0 when absent): a hold shrinks, a capture is credited back, a
// refund is debited back. Reversal is a target state, so a second reversal
// of the same original changes nothing and gets the same 00.
//
// An original the bank never applied is answered 25 for an 0400, and 00
// with nothing applied for an 0420/0421: an advice cannot be refused, and
// the books are already in the state it asks for (the acquirer's SAF queue
// must drain). The same rule, "00 only when the books are as the message
// asks", answers 25 to a completion or refund of an unknown original.
func (l *ledger) reverse(req *iso.Message) *iso.Message {
	orig := l.findOriginal(req, kindAuth, kindPurchase, kindCompletion, kindRefund)
	advice := req.MTI != iso.MTIReversal
	if orig == nil {
		if advice {
			return respond(req, iso.RCApproved)
		}
		return respond(req, iso.RCOriginalNotFound)
	}
	if mismatch(req, orig, true) != "" {
		return respond(req, iso.RCFormatError)
	}
	var target int64
	if req.ActualAmount != nil {
		target = *req.ActualAmount
	}
	if target < 0 || target > orig.amount {
		return respond(req, iso.RCInvalidAmount)
	}
	a := orig.acct
	var moved int64
	switch orig.kind {
	case kindAuth:
		if orig.completed {
			// The hold became a completion: reverse the completion.
			return respond(req, iso.RCInvalidTxn)
		}
		if target < orig.hold {
			moved = orig.hold - target
			orig.hold = target
			a.held -= moved
			if orig.hold == 0 {
				a.holds--
			}
		}
	case kindPurchase, kindCompletion:
		if orig.refunded > 0 {
			// Refunds already returned part of it: reverse those first.
			return respond(req, iso.RCInvalidTxn)
		}
		if target < orig.captured {
			moved = orig.captured - target
			orig.captured = target
			a.balance += moved
			a.captured -= moved
		}
	case kindRefund:
		if target < orig.refund {
			moved = orig.refund - target
			orig.refund = target
			orig.orig.refunded -= moved
			a.balance -= moved
			a.refunded -= moved
		}
	}
	resp := respond(req, iso.RCApproved)
	resp.ApprovalCode = req.ApprovalCode
	if moved > 0 {
		r := l.add(req, kindReversal, a, orig)
		r.reversed = moved
		r.approval = req.ApprovalCode
		if r.approval == "" {
			r.approval = orig.approval
		}
	}
	return resp
}

// account returns a snapshot of one account.
func (l *ledger) account(pan string) (AccountView, bool) {
	a, ok := l.accounts[pan]
	if !ok {
		return AccountView{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return a.view(), true
}

// respond builds an answer; approvals of new transactions get their
// approval code from the caller.
func respond(req *iso.Message, rc string) *iso.Message {
	return iso.Respond(req, rc)
}

func clone(m *iso.Message) *iso.Message {
	c := *m
	return &c
}
