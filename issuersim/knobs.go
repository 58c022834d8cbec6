package issuersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
)

// Knobs are the behaviour knobs of one bank. They apply to every message
// the bank answers, network management included, and can be changed at
// runtime (SetKnobs, PUT /knobs).
//
// In JSON (the admin API) durations are strings such as "250ms".
type Knobs struct {
	// Latency is added to every answer; Jitter adds a uniform random
	// [0, Jitter) on top, so answers on one connection come back out of
	// order.
	Latency time.Duration `yaml:"latency" json:"latency"`
	Jitter  time.Duration `yaml:"jitter" json:"jitter"`
	// Rules are tried in order; the first that matches decides.
	Rules []Rule `yaml:"rules" json:"rules"`
	// Omit lists data elements (2..128) dropped from every answer, as a
	// host that does not echo them does: [32] is a bank that never echoes
	// the acquirer. Requests the bank sends (its echoes) keep them.
	Omit []int `yaml:"omit" json:"omit,omitempty"`
}

// Rule actions.
const (
	// ActionRespond answers normally, or with ResponseCode when set.
	ActionRespond = "respond"
	// ActionNoReply processes and applies the request but never answers:
	// the answer is "lost on the way back", so the switch must time out
	// and reverse what the bank did apply.
	ActionNoReply = "no_reply"
	// ActionLate processes and applies the request and answers after
	// Delay (on top of the latency).
	ActionLate = "late"
	// ActionClose closes the connection on receipt, before the request is
	// processed: nothing is applied.
	ActionClose = "close"
)

var actions = []string{ActionRespond, ActionNoReply, ActionLate, ActionClose}

// Rule matches a request and says what the bank does with it. Every
// non-empty match field must match; a rule with none matches everything.
type Rule struct {
	PAN string `yaml:"pan" json:"pan,omitempty"`
	// AmountSuffix matches the end of DE4 in minor units without leading
	// zeros: "51" matches 10051 and 51.
	AmountSuffix string `yaml:"amount_suffix" json:"amount_suffix,omitempty"`
	MTI          string `yaml:"mti" json:"mti,omitempty"`

	Action string `yaml:"action" json:"action,omitempty"` // default respond
	// ResponseCode forces a decline code for "respond": the request is
	// answered with it and nothing is applied (nor remembered: a
	// retransmission is decided afresh). Only declines can be forced: an
	// approval always comes from the books, unless ApproveAmount makes
	// the bank approve another amount than asked.
	ResponseCode string `yaml:"response_code" json:"response_code,omitempty"`
	// ApproveAmount, in minor units, makes the bank approve another
	// amount than DE4 asks, with ResponseCode "10" or "00". It applies to
	// authorizations (0100) and purchases (0200) the books would approve
	// (every check still runs, and funds are checked against it); other
	// messages the rule matches are answered from the books as usual.
	//
	//   - "10" (approved for partial amount, ISO 8583:1987): when
	//     ApproveAmount is less than DE4, the bank holds (0100) or captures
	//     (0200) only ApproveAmount and answers DE39 10 with DE4 =
	//     ApproveAmount and DE54 carrying the amount asked for ("0057",
	//     the currency, "D" and 12 digits: see the package documentation).
	//     Otherwise the request is answered normally.
	//   - "00": a misbehaving bank that says "approved" with DE4 =
	//     ApproveAmount whenever that differs from what was asked, and
	//     books ApproveAmount; no DE54.
	//
	// Completions, reversals and refunds that follow work against the
	// amount approved: it is the record's amount and its hold or capture.
	ApproveAmount int64         `yaml:"approve_amount" json:"approve_amount,omitempty"`
	Delay         time.Duration `yaml:"delay" json:"delay,omitempty"`
}

// rcPartialApproval is DE39 10, "approved for partial amount".
const rcPartialApproval = "10"

// maxAmount is the largest DE4: 12 digits.
const maxAmount = 999_999_999_999

// Validate checks the knobs; the error names the key.
func (k Knobs) Validate() error {
	if k.Latency < 0 {
		return errors.New("latency: must not be negative")
	}
	if k.Jitter < 0 {
		return errors.New("jitter: must not be negative")
	}
	for i, r := range k.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("rules[%d].%w", i, err)
		}
	}
	for i, de := range k.Omit {
		switch {
		case de < 2 || de > 128:
			// 0 is the MTI, 1 the bitmap: without them there is no answer.
			return fmt.Errorf("omit[%d]: %d is not a data element (2..128)", i, de)
		case slices.Contains(k.Omit[:i], de):
			return fmt.Errorf("omit[%d]: %d given twice", i, de)
		}
	}
	return nil
}

func (r Rule) validate() error {
	switch {
	case r.PAN != "" && !digits(r.PAN):
		return errors.New("pan: must be digits")
	case r.AmountSuffix != "" && (!digits(r.AmountSuffix) || len(r.AmountSuffix) > 12):
		return errors.New("amount_suffix: must be up to 12 digits")
	case r.MTI != "" && (len(r.MTI) != 4 || !digits(r.MTI)):
		return errors.New("mti: must be 4 digits")
	case r.Action != "" && !contains(actions, r.Action):
		return fmt.Errorf("action: unknown action %q (want one of %s)", r.Action, strings.Join(actions, ", "))
	case r.Delay < 0:
		return errors.New("delay: must not be negative")
	case r.Action == ActionLate && r.Delay == 0:
		return errors.New("delay: required for action late")
	case r.ApproveAmount < 0:
		return errors.New("approve_amount: must be positive (minor units)")
	case r.ApproveAmount > maxAmount:
		return errors.New("approve_amount: must be at most 12 digits (minor units)")
	case r.ApproveAmount > 0 && r.ResponseCode != rcPartialApproval && r.ResponseCode != iso.RCApproved:
		return errors.New("approve_amount: only with response_code 10 (partial approval) or 00")
	}
	if r.ResponseCode != "" {
		if r.Action != "" && r.Action != ActionRespond {
			return errors.New("response_code: only for action respond")
		}
		if len(r.ResponseCode) != 2 {
			return errors.New("response_code: must be 2 characters")
		}
		if iso.LookupResponseCode(r.ResponseCode).Approved && r.ApproveAmount == 0 {
			return errors.New("response_code: only declines can be forced (10 and 00 with approve_amount); leave it empty to answer from the books")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// override is what a matched rule changes in the bank's decision.
type override struct {
	code    string // Rule.ResponseCode
	approve int64  // Rule.ApproveAmount
}

func (r *Rule) override() override {
	return override{code: r.ResponseCode, approve: r.ApproveAmount}
}

// decline is the DE39 the rule forces with nothing applied, "" for none.
func (o override) decline() string {
	if o.approve != 0 {
		return ""
	}
	return o.code
}

// approval returns what the bank books and answers for an authorization
// or purchase of requested: the amount approved and DE39, and whether the
// rule changed either (a partial approval of less than requested, or an
// approval of another amount).
func (o override) approval(requested int64) (amount int64, rc string, changed bool) {
	switch {
	case o.approve <= 0:
	case o.code == rcPartialApproval && o.approve < requested:
		return o.approve, rcPartialApproval, true
	case o.code == iso.RCApproved && o.approve != requested:
		return o.approve, iso.RCApproved, true
	}
	return requested, iso.RCApproved, false
}

// originalAmountDE54 is DE54 of a partial approval: one additional amount
// of 20 characters in the ISO 8583:1987 layout, giving the amount the
// request asked for:
//
//	account type  2  "00", not specified
//	amount type   2  "57", original amount (as card schemes answer it in
//	                 partial approvals)
//	currency      3  ISO 4217 numeric: the request's DE49, else the card's
//	sign          1  "D": the amount debits the cardholder
//	amount       12  minor units, zero-padded
//
// So 10 000.00 KZT asked for is "0057398D000001000000".
func originalAmountDE54(currency string, requested int64) string {
	return fmt.Sprintf("0057%3sD%012d", currency, requested)
}

// match returns the first rule matching m, or nil.
func (k *Knobs) match(m *iso.Message) *Rule {
	for i := range k.Rules {
		r := &k.Rules[i]
		if r.PAN != "" && r.PAN != m.PAN {
			continue
		}
		if r.MTI != "" && r.MTI != m.MTI {
			continue
		}
		if r.AmountSuffix != "" && (!m.HasAmount || !strings.HasSuffix(strconv.FormatInt(m.Amount, 10), r.AmountSuffix)) {
			continue
		}
		return r
	}
	return nil
}

// delay is the latency of one answer.
func (k *Knobs) delay() time.Duration {
	d := k.Latency
	if k.Jitter > 0 {
		d += rand.N(k.Jitter)
	}
	return d
}

func (k Knobs) clone() Knobs {
	k.Rules = append([]Rule(nil), k.Rules...)
	k.Omit = append([]int(nil), k.Omit...)
	return k
}

// jsonKnobs and jsonRule are the wire forms with durations as strings.
type jsonKnobs struct {
	Latency string     `json:"latency"`
	Jitter  string     `json:"jitter"`
	Rules   []jsonRule `json:"rules"`
	Omit    []int      `json:"omit,omitempty"`
}

type jsonRule struct {
	PAN           string `json:"pan,omitempty"`
	AmountSuffix  string `json:"amount_suffix,omitempty"`
	MTI           string `json:"mti,omitempty"`
	Action        string `json:"action,omitempty"`
	ResponseCode  string `json:"response_code,omitempty"`
	ApproveAmount int64  `json:"approve_amount,omitempty"`
	Delay         string `json:"delay,omitempty"`
}

// MarshalJSON writes durations as strings ("250ms"). Rule PANs are
// masked: the admin API never shows a full PAN.
func (k Knobs) MarshalJSON() ([]byte, error) {
	out := jsonKnobs{Latency: k.Latency.String(), Jitter: k.Jitter.String(), Rules: []jsonRule{}, Omit: k.Omit}
	for _, r := range k.Rules {
		jr := jsonRule{PAN: iso.MaskPAN(r.PAN), AmountSuffix: r.AmountSuffix, MTI: r.MTI, Action: r.Action, ResponseCode: r.ResponseCode, ApproveAmount: r.ApproveAmount}
		if r.Delay != 0 {
			jr.Delay = r.Delay.String()
		}
		out.Rules = append(out.Rules, jr)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads durations as strings ("250ms", "1.5s"); a missing
// duration is zero.
func (k *Knobs) UnmarshalJSON(b []byte) error {
	var in jsonKnobs
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return errors.New(scrub(err.Error()))
	}
	out := Knobs{Omit: in.Omit}
	var err error
	if out.Latency, err = parseDuration(in.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if out.Jitter, err = parseDuration(in.Jitter); err != nil {
		return fmt.Errorf("jitter: %w", err)
	}
	for i, jr := range in.Rules {
		r := Rule{PAN: jr.PAN, AmountSuffix: jr.AmountSuffix, MTI: jr.MTI, Action: jr.Action, ResponseCode: jr.ResponseCode, ApproveAmount: jr.ApproveAmount}
		if r.Delay, err = parseDuration(jr.Delay); err != nil {
			return fmt.Errorf("rules[%d].delay: %w", i, err)
		}
		out.Rules = append(out.Rules, r)
	}
	*k = out
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("must be a duration such as 250ms")
	}
	return d, nil
}
