package links

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
)

// A bank that never echoes DE32: the sign-on's 0810 and an authorization's
// 0110 come back without it, and both find their request.
func TestSimBankWithoutDE32(t *testing.T) {
	forEach(t, func(t *testing.T, dialect string, side Side) {
		scfg := simConfig("a", dialect)
		scfg.Knobs = issuersim.Knobs{Omit: []int{32}}
		var unsolicited atomic.Int32
		sb := startSimBank(t, testConfig("a", dialect), side, scfg, Deps{OnUnsolicited: func(string, *iso.Message, bool) {
			unsolicited.Add(1)
		}})
		waitReady(t, sb.link) // the 0810 without DE32 completed the sign-on

		req := auth("", "TLP00001", 100)
		require.NotEmpty(t, req.AcquirerID)
		resp, err := sb.link.Send(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, iso.RCApproved, resp.ResponseCode, "approved: the simulator saw our sign-on")
		assert.Empty(t, resp.AcquirerID, "the knob took DE32 out of the answer")
		assert.Equal(t, req.STAN, resp.STAN)
		st := sb.link.Status()
		assert.Zero(t, st.Unmatched)
		assert.Zero(t, st.Timeouts)
		assert.Zero(t, unsolicited.Load())
	})
}

// The old key (DE32 a key field) against the same bank: the 0810 never
// finds its 0800, so the link never signs on. match_key can still ask for
// it, for a bank known to echo DE32.
func TestSimStrictAcquirerKeyNeedsTheEcho(t *testing.T) {
	scfg := simConfig("a", "ascii")
	scfg.Knobs = issuersim.Knobs{Omit: []int{32}}
	lcfg := testConfig("a", "ascii")
	lcfg.RequestTimeout = 200 * time.Millisecond
	lcfg.MatchKey = []string{"mti_class", "stan", "terminal", "acquirer"}
	sb := startSimBank(t, lcfg, SideDial, scfg, Deps{})
	require.Eventually(t, func() bool { return sb.link.Status().Unmatched >= 2 }, 5*time.Second, time.Millisecond,
		"0810s without DE32 are unmatched")
	assert.False(t, sb.link.Ready())

	// The bank starts echoing DE32: the next sign-on completes.
	sb.bank().SetKnobs(issuersim.Knobs{})
	waitReady(t, sb.link)
	resp, err := sb.link.Send(context.Background(), auth("", "TLP00001", 100))
	require.NoError(t, err)
	assert.Equal(t, iso.RCApproved, resp.ResponseCode)
}

// A response that echoes another DE32 than its request's is not its
// answer under the default key: the request keeps waiting (and, with no
// other answer, ends as sent-no-reply), the stray answer is unmatched. A
// link whose match_key leaves DE32 out takes it.
func TestEchoedDE32MustAgree(t *testing.T) {
	for _, tc := range []struct {
		name     string
		matchKey []string
		taken    bool
	}{
		{"default", nil, false},
		{"without acquirer_if_echoed", []string{"mti_class", "stan", "terminal"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("a", "binary")
			cfg.RequestTimeout = 300 * time.Millisecond
			cfg.MatchKey = tc.matchKey
			stray := make(chan *iso.Message, 1)
			b := startBank(t, cfg, SideDial, Deps{OnUnsolicited: func(_ string, m *iso.Message, late bool) {
				assert.False(t, late)
				stray <- m
			}}, func(m *iso.Message) action {
				if m.Amount == 32 {
					return action{edit: func(r *iso.Message) { r.AcquirerID = "999999" }}
				}
				return action{}
			})
			waitReady(t, b.link)
			resp, err := b.link.Send(context.Background(), auth("", "TLP00001", 32))
			if tc.taken {
				require.NoError(t, err)
				assert.Equal(t, "999999", resp.AcquirerID)
				return
			}
			require.ErrorIs(t, err, ErrNoReply)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			select {
			case m := <-stray:
				assert.Equal(t, "999999", m.AcquirerID)
			case <-time.After(5 * time.Second):
				t.Fatal("the stray answer never reached OnUnsolicited")
			}
			assert.EqualValues(t, 1, b.link.Status().Unmatched)
			// DE32 zero-padded to 11 digits is the same acquirer.
			b.peer.setAct(func(*iso.Message) action {
				return action{edit: func(r *iso.Message) { r.AcquirerID = "00000400123" }}
			})
			_, err = b.link.Send(context.Background(), auth("", "TLP00001", 33))
			require.NoError(t, err)
		})
	}
}
