package issuersim

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

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

	// The bank logs an answer after it has sent it: the last lines may
	// still be on their way when the client has its reply.
	require.Eventually(t, func() bool { return strings.Count(logs.String(), `"message":"answered"`) >= 7 }, 10*time.Second, time.Millisecond,
		"the sign-on's and the six messages' answers logged")
	out := logs.String()
	require.Contains(t, out, `"rc":"N7"`)
	for _, pan := range []string{visa, mastercard, lostCard} {
		assert.NotContains(t, out, pan)
	}
	assert.Contains(t, out, iso.MaskPAN(visa))
	assert.NotContains(t, out, `"cvv2":"`+secretCVV)
	assert.Contains(t, out, `"cvv2":"present"`, "presence only")
}
