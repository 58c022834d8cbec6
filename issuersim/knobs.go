package issuersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
	// answered with it and nothing is applied. Only declines can be
	// forced: an approval always comes from the books.
	ResponseCode string        `yaml:"response_code" json:"response_code,omitempty"`
	Delay        time.Duration `yaml:"delay" json:"delay,omitempty"`
}

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
	}
	if r.ResponseCode != "" {
		if r.Action != "" && r.Action != ActionRespond {
			return errors.New("response_code: only for action respond")
		}
		if len(r.ResponseCode) != 2 {
			return errors.New("response_code: must be 2 characters")
		}
		if iso.LookupResponseCode(r.ResponseCode).Approved {
			return errors.New("response_code: only declines can be forced; leave it empty to answer from the books")
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
	return k
}

// jsonKnobs and jsonRule are the wire forms with durations as strings.
type jsonKnobs struct {
	Latency string     `json:"latency"`
	Jitter  string     `json:"jitter"`
	Rules   []jsonRule `json:"rules"`
}

type jsonRule struct {
	PAN          string `json:"pan,omitempty"`
	AmountSuffix string `json:"amount_suffix,omitempty"`
	MTI          string `json:"mti,omitempty"`
	Action       string `json:"action,omitempty"`
	ResponseCode string `json:"response_code,omitempty"`
	Delay        string `json:"delay,omitempty"`
}

// MarshalJSON writes durations as strings ("250ms"). Rule PANs are
// masked: the admin API never shows a full PAN.
func (k Knobs) MarshalJSON() ([]byte, error) {
	out := jsonKnobs{Latency: k.Latency.String(), Jitter: k.Jitter.String(), Rules: []jsonRule{}}
	for _, r := range k.Rules {
		jr := jsonRule{PAN: iso.MaskPAN(r.PAN), AmountSuffix: r.AmountSuffix, MTI: r.MTI, Action: r.Action, ResponseCode: r.ResponseCode}
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
	var out Knobs
	var err error
	if out.Latency, err = parseDuration(in.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if out.Jitter, err = parseDuration(in.Jitter); err != nil {
		return fmt.Errorf("jitter: %w", err)
	}
	for i, jr := range in.Rules {
		r := Rule{PAN: jr.PAN, AmountSuffix: jr.AmountSuffix, MTI: jr.MTI, Action: jr.Action, ResponseCode: jr.ResponseCode}
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
