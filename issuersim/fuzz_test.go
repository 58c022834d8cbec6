package issuersim

import (
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

func nopLogger() zerolog.Logger { return zerolog.Nop() }

// FuzzParseConfig: a config file is outside input. Parsing never panics,
// and whatever parses is valid.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"", "name: x\n", "{\"name\":\"j\",\"dialect\":\"binary\"}",
		"cards:\n  - {pan: \"4111111111111111\", expiry: \"3012\", cvv2: \"123\"}\n",
		"knobs: {latency: 1s, rules: [{amount_suffix: \"51\", response_code: \"51\"}]}\n",
		"knobs: {rules: [{mti: \"0100\", response_code: \"10\", approve_amount: 5000}]}\n",
		"cvv_key: 00ff\n", "listen: \"\"\ndial: 1.2.3.4:5\n", "- a\n- b\n", "cards: 5\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted an invalid config: %v", err)
		}
	})
}

// FuzzKnobsJSON: PUT /knobs bodies are outside input.
func FuzzKnobsJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"latency":"1s","rules":[{"action":"late","delay":"2s"}]}`, `{"rules":[{"pan":"4111"}]}`, `[]`,
		`{"rules":[{"response_code":"10","approve_amount":5000},{"response_code":"00","approve_amount":1}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var k Knobs
		if err := json.Unmarshal(data, &k); err != nil {
			return
		}
		if k.Validate() != nil {
			return
		}
		out, err := json.Marshal(k)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back Knobs
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
