package issuersim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Almaty on machines without a zone database

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// tickClock is a deterministic clock: each reading is one second after
// the last.
type tickClock struct {
	base time.Time
	n    atomic.Int64
}

func (c *tickClock) Now() time.Time {
	return c.base.Add(time.Duration(c.n.Add(1)) * time.Second)
}

func TestSettlementGolden(t *testing.T) {
	clock := &tickClock{base: time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)}
	b := MustStartBank(t, "ascii", func(c *Config) {
		c.Name = "golden-bank"
		c.Now = clock.Now
		c.Timezone = "Asia/Almaty" // UTC+5: 23:59 UTC is already 24 November
	})
	c := MustDial(t, b)

	auth := c.auth(visa, 10_000)
	ar := c.mustSend(auth)
	require.Equal(t, iso.RCApproved, ar.ResponseCode)
	require.Equal(t, iso.RCApproved, c.mustSend(c.completionOf(auth, ar.ApprovalCode, 8_000)).ResponseCode)

	p := c.purchase(mastercard, 5_000)
	require.Equal(t, iso.RCApproved, c.mustSend(p).ResponseCode)
	require.Equal(t, iso.RCApproved, c.mustSend(c.refundOf(p, 2_000)).ResponseCode)
	require.Equal(t, iso.RCExceedsCapture, c.mustSend(c.refundOf(p, 9_000)).ResponseCode) // not in the file

	a2 := c.auth(visa, 3_000)
	require.Equal(t, iso.RCApproved, c.mustSend(a2).ResponseCode)
	stays := int64(1_000)
	require.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(a2, false, &stays)).ResponseCode)
	require.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(a2, true, &stays)).ResponseCode) // changes nothing: not in the file

	p2 := c.purchase(visa, 4_000)
	require.Equal(t, iso.RCApproved, c.mustSend(p2).ResponseCode)
	require.Equal(t, iso.RCApproved, c.mustSend(c.reversalOf(p2, true, nil)).ResponseCode)
	require.Equal(t, iso.RCInsufficientFunds, c.mustSend(c.auth(lowBalance, 1_000_000)).ResponseCode) // declined: not in the file

	var got bytes.Buffer
	require.NoError(t, b.WriteSettlement(&got, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)))
	golden := filepath.Join("testdata", "settlement.golden.csv")
	if *update {
		require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got.String())
	assert.NotContains(t, got.String(), visa)

	// The day before, in the bank's zone, has nothing.
	var prev bytes.Buffer
	require.NoError(t, b.WriteSettlement(&prev, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, 1, bytes.Count(prev.Bytes(), []byte("\n")), "header only")
}
