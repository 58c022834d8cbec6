package issuersim

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

// TestImportsNothingOfTheSwitch holds DESIGN.md's line: the simulator
// stands in for a bank and must not share the switch's code.
func TestImportsNothingOfTheSwitch(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(p, "github.com/tulpar-switch/tulpar/switch/"), "issuersim imports %s", p)
		assert.False(t, strings.HasPrefix(p, "github.com/tulpar-switch/tulpar/cmd/"), "issuersim imports %s", p)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsCarryNoCardData runs every kind of exchange with debug logging
// and looks for card data in the log.
func TestLogsCarryNoCardData(t *testing.T) {
	var logs syncBuffer
	cfg := DefaultConfig()
	cfg.Knobs.Rules = []Rule{{AmountSuffix: "77", Action: ActionNoReply}}
	b, err := New(cfg, zerolog.New(&logs).Level(zerolog.DebugLevel), nil)
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { b.Close() })
	c := MustDial(t, b)

	const secretCVV = "987"
	c.mustSend(c.network(iso.NetSignOn))
	a := c.auth(visa, 1_000)
	a.CVV2 = secretCVV // wrong: declined, logged
	c.mustSend(a)
	p := c.purchase(mastercard, 2_000)
	c.mustSend(p)
	c.mustSend(c.refundOf(p, 500))
	c.mustSend(c.reversalOf(p, true, nil))
	c.mustSend(c.auth(lostCard, 100))
	bad := c.auth(visa, 100)
	bad.TerminalID = ""
	c.mustSend(bad)

	out := logs.String()
	require.Contains(t, out, `"rc":"N7"`)
	for _, pan := range []string{visa, mastercard, lostCard} {
		assert.NotContains(t, out, pan)
	}
	assert.Contains(t, out, iso.MaskPAN(visa))
	assert.NotContains(t, out, `"cvv2":"`+secretCVV)
	assert.Contains(t, out, `"cvv2":"present"`, "presence only")
}
