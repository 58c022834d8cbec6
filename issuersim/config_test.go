package issuersim

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(tb testing.TB, name, data string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, os.WriteFile(p, []byte(data), 0o600))
	return p
}

func TestLoadConfigYAML(t *testing.T) {
	p := writeFile(t, "bank.yaml", `
name: halyk-sim
dialect: binary
listen: 127.0.0.1:0
acquirer_id: "400123"
echo_interval: 30s
require_sign_on: true
timezone: Asia/Almaty
admin: 127.0.0.1:0
cvv_key: 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f
cards:
  - pan: "4111111111111111"
    expiry: "3012"
    cvv2: "123"
    name: IVAN IVANOV
    balance: 500000
  - pan: "5555555555555599"
    expiry: "2901"
    cvv2: "999"
    currency: "840"
    state: lost
knobs:
  latency: 20ms
  jitter: 5ms
  rules:
    - amount_suffix: "51"
      response_code: "51"
    - pan: "4111111111111111"
      action: late
      delay: 2s
    - mti: "0200"
      response_code: "10"
      approve_amount: 4000
`)
	cfg, err := LoadConfig(p)
	require.NoError(t, err)
	assert.Equal(t, "halyk-sim", cfg.Name)
	assert.Equal(t, "binary", cfg.Dialect)
	assert.Equal(t, 30*time.Second, cfg.EchoInterval)
	assert.True(t, cfg.RequireSignOn)
	assert.Len(t, cfg.CVVKey, 32)
	require.Len(t, cfg.Cards, 2)
	assert.Equal(t, CardLost, cfg.Cards[1].State)
	assert.Equal(t, "840", cfg.Cards[1].Currency)
	assert.EqualValues(t, 500000, cfg.Cards[0].Balance)
	assert.Equal(t, 20*time.Millisecond, cfg.Knobs.Latency)
	assert.Equal(t, Rule{PAN: visa, Action: ActionLate, Delay: 2 * time.Second}, cfg.Knobs.Rules[1])
	assert.Equal(t, Rule{MTI: "0200", ResponseCode: "10", ApproveAmount: 4_000}, cfg.Knobs.Rules[2])
	assert.Equal(t, 256, cfg.MaxConnections, "defaults kept")
}

func TestLoadConfigJSON(t *testing.T) {
	p := writeFile(t, "bank.json", `{"name":"json-bank","dial":"127.0.0.1:9000","listen":"","knobs":{"latency":"1s",
		"rules":[{"response_code":"00","approve_amount":12000}]}}`)
	cfg, err := LoadConfig(p)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9000", cfg.Dial)
	assert.Equal(t, time.Second, cfg.Knobs.Latency)
	assert.Equal(t, []Rule{{ResponseCode: "00", ApproveAmount: 12_000}}, cfg.Knobs.Rules)
	assert.Len(t, cfg.Cards, len(DefaultCards()), "no cards: the default book")
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	card := func(extra string) string {
		return "cards:\n  - {pan: \"4111111111111111\", expiry: \"3012\", cvv2: \"123\"}\n  - {pan: \"5555555555555599\", expiry: \"3012\", cvv2: \"123\"}\n  - " + extra + "\n"
	}
	for _, tc := range []struct{ name, data, want string }{
		{"luhn", card(`{pan: "4111111111111112", expiry: "3012", cvv2: "123"}`), "cards[2].pan: fails Luhn check"},
		{"short pan", card(`{pan: "4111", expiry: "3012", cvv2: "123"}`), "cards[2].pan: must be 12 to 19 digits"},
		{"expiry", card(`{pan: "4012001038166662", expiry: "3013", cvv2: "123"}`), "cards[2].expiry: must be YYMM"},
		{"cvv2", card(`{pan: "4012001038166662", expiry: "3012", cvv2: "12"}`), "cards[2].cvv2: must be 3 or 4 digits"},
		{"state", card(`{pan: "4012001038166662", expiry: "3012", cvv2: "123", state: frozen}`), "cards[2].state: unknown state"},
		{"balance", card(`{pan: "4012001038166662", expiry: "3012", cvv2: "123", balance: -1}`), "cards[2].balance: must not be negative"},
		{"duplicate", card(`{pan: "4111111111111111", expiry: "3012", cvv2: "123"}`), "cards[2].pan: same card as cards[0]"},
		{"dialect", "dialect: ebcdic\n", "dialect: unknown dialect"},
		{"listen and dial", "dial: 127.0.0.1:1\n", "listen: exactly one of listen and dial"},
		{"neither", "listen: \"\"\n", "listen: exactly one of listen and dial"},
		{"name", "name: \"\"\n", "name: required"},
		{"currency", "currency: KZT\n", "currency: must be a 3-digit"},
		{"timezone", "timezone: Mars/Olympus\n", "timezone: unknown time zone"},
		{"acquirer", "acquirer_id: ABC\n", "acquirer_id: must be up to 11 digits"},
		{"echo", "echo_interval: -1s\n", "echo_interval: must not be negative"},
		{"rule action", "knobs: {rules: [{action: boom}]}\n", "knobs.rules[0].action: unknown action"},
		{"rule approval", "knobs: {rules: [{}, {response_code: \"00\"}]}\n", "knobs.rules[1].response_code: only declines"},
		{"rule mti", "knobs: {rules: [{mti: \"100\"}]}\n", "knobs.rules[0].mti: must be 4 digits"},
		{"approve amount negative", "knobs: {rules: [{response_code: \"10\", approve_amount: -1}]}\n", "knobs.rules[0].approve_amount: must be positive"},
		{"approve amount decline", "knobs: {rules: [{}, {response_code: \"05\", approve_amount: 100}]}\n", "knobs.rules[1].approve_amount: only with response_code 10 (partial approval) or 00"},
		{"partial without amount", "knobs: {rules: [{response_code: \"10\"}]}\n", "knobs.rules[0].response_code: only declines can be forced (10 and 00 with approve_amount)"},
		{"approve amount not a number", "knobs: {rules: [{response_code: \"10\", approve_amount: lots}]}\n", "cannot unmarshal"},
		{"omit mti", "knobs: {omit: [0]}\n", "knobs.omit[0]: 0 is not a data element (2..128)"},
		{"omit beyond 128", "knobs: {omit: [32, 129]}\n", "knobs.omit[1]: 129 is not a data element (2..128)"},
		{"omit twice", "knobs: {omit: [32, 37, 32]}\n", "knobs.omit[2]: 32 given twice"},
		{"unknown key", "lisen: 127.0.0.1:0\n", "field lisen not found"},
		{"cvv key", "cvv_key: xyz\n", "must be hex"},
		{"cvv key length", "cvv_key: 00ff\n", "cvv_key: must be 32 bytes"},
		{"duration", "echo_interval: soon\n", "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeFile(t, "bad.yaml", tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "bad.yaml")
			assert.NotContains(t, err.Error(), "4111111111111112", "no PAN in errors")
		})
	}
	_, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestPANInDecodeErrorIsScrubbed(t *testing.T) {
	_, err := ParseConfig([]byte("cards:\n  - pan: [4111111111111111]\n"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "4111111111111111")
}

func TestNewKeepsNoClearCVV(t *testing.T) {
	b, err := New(DefaultConfig(), nopLogger(), nil)
	require.NoError(t, err)
	defer b.Close()
	assert.Nil(t, b.cfg.Cards)
	for _, a := range b.order {
		assert.NotEmpty(t, a.cvvHash)
	}
}

func TestCardConfigDefaults(t *testing.T) {
	for _, cc := range DefaultCards() {
		require.NoError(t, cc.validate(), cc.Name)
	}
	assert.NoError(t, DefaultConfig().Validate())
}
