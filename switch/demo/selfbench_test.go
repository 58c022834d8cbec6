package demo_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/bench"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/switch/demo"
)

// TestSelfBenchDescribesTheSwitch: the self-bench world starts with both
// links up, its link carries an 0100 that the simulated bank approves, its
// merchant API takes a purchase that the journal's sample counts, and
// closing it removes the temporary data directory it made.
func TestSelfBenchDescribesTheSwitch(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sys, err := demo.SelfBench{Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}.Start(ctx)
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			sys.Close()
		}
	})
	require.Equal(t, demo.BankASCII, sys.Link)
	require.Equal(t, demo.BankASCII, sys.Bank)
	require.NotEmpty(t, sys.BankAddr)
	require.NotEmpty(t, sys.Token)
	require.Contains(t, sys.Describe, sys.URL)

	// The link, straight to the bank (not journaled: no order).
	m := bench.Authorization("400001", 100, time.Now())
	_, m.RRN = bench.NewNumbers().Next()
	resp, err := sys.Send(ctx, m)
	require.NoError(t, err)
	require.Equal(t, iso.RCApproved, resp.ResponseCode)

	// A purchase through the merchant API, which the journal records.
	before, err := sys.Journal()
	require.NoError(t, err)
	mix, err := bench.NewRBSMix(bench.RBSOptions{URL: sys.URL, Token: sys.Token, Card: "4444555511113333",
		DeclineCard: "4000000000000044", Amount: 100, Mix: bench.Mix{Purchase: 100}, Conns: 1})
	require.NoError(t, err)
	defer mix.Close()
	kind, err := mix.Target()(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, bench.KindPurchase, kind)
	after, err := sys.Journal()
	require.NoError(t, err)
	require.Greater(t, after.Entries, before.Entries, "the purchase is journaled")
	require.Greater(t, after.Commits, before.Commits, "the writer's commits are counted")
	require.Greater(t, after.CommitSeconds, before.CommitSeconds)

	sys.Close()
	closed = true
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "the temporary data directory is removed")
}
