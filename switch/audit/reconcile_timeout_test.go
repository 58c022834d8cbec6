package audit

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// unanswered sends req to a bank that does action with it (issuersim's
// no_reply applies it and never answers; close applies nothing and drops
// the connection) and records what payments records for "sent, no reply"
// (payments.Service.unknownOutcome): the operation timed out, and an 0420
// reversing it is queued for store-and-forward in the same commit. It
// returns the queued reversal's operation id and message.
func (s *simDay) unanswered(o *order.Order, typ order.OpType, req *iso.Message, action string) (string, *iso.Message) {
	s.t.Helper()
	s.bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{PAN: req.PAN, MTI: req.MTI, Action: action}}})
	defer s.bank.SetKnobs(issuersim.Knobs{})
	before, ok := s.bank.Account(req.PAN)
	require.True(s.t, ok)

	s.tick()
	o.Ops = append(o.Ops, order.Operation{ID: fmt.Sprintf("op%d", len(o.Ops)+1), Type: typ, Status: order.OpPending,
		Amount: req.Amount, Time: s.f.now, Bank: simBank, MTI: req.MTI, STAN: req.STAN, RRN: req.RRN,
		TerminalID: req.TerminalID, MerchantID: req.MerchantID})
	s.f.commit(o, s.f.isoEntry(simBank, journal.Out, req))

	im, err := s.codec.Build(req)
	require.NoError(s.t, err)
	switch action {
	case issuersim.ActionNoReply:
		_, err = s.conn.Send(im, connection.SendTimeout(200*time.Millisecond))
		require.ErrorIs(s.t, err, connection.ErrSendTimeout)
		// The bank applies the request before it withholds the answer;
		// the reversal must find it applied, as it would after a real
		// exchange timeout of seconds.
		require.Eventually(s.t, func() bool {
			now, _ := s.bank.Account(req.PAN)
			return now != before
		}, 5*time.Second, time.Millisecond, "the bank applied the unanswered %s", req.MTI)
	case issuersim.ActionClose:
		_, err = s.conn.Send(im)
		require.Error(s.t, err, "the bank closes the connection instead of answering")
		s.connect()
		now, _ := s.bank.Account(req.PAN)
		require.Equal(s.t, before, now, "the bank applied nothing")
	default:
		s.t.Fatalf("unanswered: action %q", action)
	}

	p := &o.Ops[len(o.Ops)-1]
	p.Status = order.OpTimeout
	s.seq++
	rev := iso.ReversalOf(req, true, fmt.Sprintf("%06d", s.seq), s.f.now, nil)
	rev.CVV2 = ""
	auto := order.Operation{ID: fmt.Sprintf("op%d", len(o.Ops)+1), Type: order.OpAutoReversal, Status: order.OpQueued,
		Amount: p.Amount, Time: s.f.now, Bank: simBank, MTI: rev.MTI, STAN: rev.STAN, RRN: rev.RRN,
		TerminalID: p.TerminalID, MerchantID: p.MerchantID, Of: p.ID}
	o.Ops = append(o.Ops, auto)
	s.f.commit(o)
	return auto.ID, rev
}

// deliver sends a queued advice as store-and-forward does and records the
// bank's answer on the operation (payments.Service.Deliver): 00, or 25 for
// a reversal of nothing, settles it. When the bank closes the connection
// instead, the advice stays queued and deliver reports false.
func (s *simDay) deliver(o *order.Order, opID string, m *iso.Message) bool {
	s.t.Helper()
	s.tick()
	out := s.f.isoEntry(simBank, journal.Out, m)
	out.OrderID = o.ID
	_, err := s.f.j.Append(context.Background(), out)
	require.NoError(s.t, err)
	im, err := s.codec.Build(m)
	require.NoError(s.t, err)
	rim, err := s.conn.Send(im)
	if err != nil {
		s.connect()
		return false
	}
	resp, err := s.codec.Parse(rim)
	require.NoError(s.t, err)
	op := o.Op(opID)
	op.ResponseCode = resp.ResponseCode
	op.Status = order.OpDeclined
	if iso.LookupResponseCode(resp.ResponseCode).Approved || resp.ResponseCode == iso.RCOriginalNotFound {
		op.Status = order.OpApproved
	}
	s.f.commit(o, s.f.isoEntry(simBank, journal.In, resp))
	return true
}

// reversalRow adds to the bank's file a row for the 0420 rev that released
// final: what a bank that lists every reversal it received writes.
func reversalRow(final int64) func(t *testing.T, file string, rev *iso.Message) string {
	return func(t *testing.T, file string, rev *iso.Message) string {
		return file + fmt.Sprintf("2026-03-10,2026-03-10T09:30:00Z,reversal,0420,%s,%s,TERM0001,MERCHANT0000001,411111******1111,398,%d,%d,,0100,%s,%s\n",
			rev.STAN, rev.RRN, rev.Amount, final, rev.Original.STAN, rev.RRN)
	}
}

// TestReconcileSimulatorTimedOut runs an authorization or purchase the
// bank never answers, and its automatic 0420, against the simulated bank,
// and reconciles the bank's file: a pair that leaves nothing standing at
// the bank is settled, whether the bank applied both messages or neither;
// a hold the bank applied and never saw reversed is a mismatch.
func TestReconcileSimulatorTimedOut(t *testing.T) {
	const visa = "4111111111111111"
	cases := []struct {
		name   string
		mti    string // of the unanswered request
		action string // what the bank does with it
		lost   bool   // the bank closes the connection on the 0420 too: it stays queued
		// edit changes the bank's file before reconciliation; rev is the 0420.
		edit       func(t *testing.T, file string, rev *iso.Message) string
		rows       int
		lines      []string // result, Tulpar's operation, whether a bank row pairs it
		mismatches int
		matched    []ClassSum
	}{{
		name: "authorization applied, answer lost, reversed", mti: iso.MTIAuthorization, action: issuersim.ActionNoReply,
		rows:  2,
		lines: []string{"settled authorization at bank", "settled auto_reversal at bank"},
		matched: []ClassSum{{Class: "A", Count: 1, TulparAmount: 10_000, BankAmount: 10_000}, {Class: "F"},
			{Class: "R", Count: 1, TulparAmount: 10_000, BankAmount: 10_000}, {Class: "C"}},
	}, {
		name: "purchase applied, answer lost, reversed", mti: iso.MTIFinancial, action: issuersim.ActionNoReply,
		rows:  2,
		lines: []string{"settled purchase at bank", "settled auto_reversal at bank"},
		matched: []ClassSum{{Class: "A"}, {Class: "F", Count: 1, TulparAmount: 10_000, BankAmount: 10_000},
			{Class: "R", Count: 1, TulparAmount: 10_000, BankAmount: 10_000}, {Class: "C"}},
	}, {
		name: "authorization never applied, reversal a no-op", mti: iso.MTIAuthorization, action: issuersim.ActionClose,
		rows:  0,
		lines: []string{"settled authorization not at bank", "settled auto_reversal not at bank"},
	}, {
		name: "authorization never applied, the bank lists the no-op reversal", mti: iso.MTIAuthorization, action: issuersim.ActionClose,
		edit:  reversalRow(0),
		rows:  1,
		lines: []string{"settled authorization not at bank", "settled auto_reversal at bank"},
	}, {
		name: "authorization never applied, the bank lists its reversal releasing money", mti: iso.MTIAuthorization, action: issuersim.ActionClose,
		edit:       reversalRow(10_000),
		rows:       1,
		lines:      []string{"settled authorization not at bank", "amount_differs auto_reversal at bank"},
		mismatches: 1,
	}, {
		name: "authorization applied, reversal still queued", mti: iso.MTIAuthorization, action: issuersim.ActionNoReply, lost: true,
		rows:       1,
		lines:      []string{"status_differs authorization at bank", "missing_at_bank auto_reversal not at bank"},
		mismatches: 2,
	}, {
		name: "authorization applied, the bank lost the reversal", mti: iso.MTIAuthorization, action: issuersim.ActionNoReply,
		edit: func(t *testing.T, file string, rev *iso.Message) string {
			var kept []string
			for _, l := range strings.SplitAfter(file, "\n") {
				if !strings.Contains(l, ",reversal,") {
					kept = append(kept, l)
				}
			}
			require.Len(t, kept, len(strings.SplitAfter(file, "\n"))-1, "one reversal row dropped")
			return strings.Join(kept, "")
		},
		rows:       1,
		lines:      []string{"status_differs authorization at bank", "missing_at_bank auto_reversal not at bank"},
		mismatches: 2,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimDay(t)
			o := s.order("3001", 10_000)
			typ := order.OpAuthorization
			if tc.mti == iso.MTIFinancial {
				typ = order.OpPurchase
			}
			revID, rev := s.unanswered(o, typ, s.request(tc.mti, iso.ProcPurchase, visa, 10_000), tc.action)
			if tc.lost {
				s.bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{{MTI: iso.MTIReversalAdvice, Action: issuersim.ActionClose}}})
			}
			require.Equal(t, !tc.lost, s.deliver(o, revID, rev), "0420 delivered")

			var buf bytes.Buffer
			require.NoError(t, s.bank.WriteSettlement(&buf, day0))
			file := buf.String()
			if tc.edit != nil {
				file = tc.edit(t, file, rev)
			}
			res := s.reconcile([]byte(file))
			var out bytes.Buffer
			res.WriteText(&out)

			require.Equal(t, 2, res.Tulpar)
			require.Equal(t, tc.rows, res.BankRows)
			var lines []string
			for _, l := range res.Lines {
				where := "not at bank"
				if l.Bank != nil {
					where = "at bank"
				}
				require.NotNil(t, l.Tulpar, out.String())
				if l.Result != Matched {
					require.NotEmpty(t, l.Detail, "%s %s", l.Result, l.Tulpar.OpType)
				}
				lines = append(lines, fmt.Sprintf("%s %s %s", l.Result, l.Tulpar.OpType, where))
			}
			require.Equal(t, tc.lines, lines, out.String())
			require.Equal(t, tc.mismatches, res.Mismatches(), out.String())
			require.Zero(t, res.Ignorable, "a timed-out exchange and its reversal are reported, not ignored")
			if tc.mismatches == 0 {
				require.True(t, strings.HasPrefix(out.String(), "OK: "), out.String())
				require.Contains(t, out.String(), fmt.Sprintf("settled: %s %s 10000", reportType(typ), typ), out.String())
			} else {
				require.Contains(t, out.String(), fmt.Sprintf("MISMATCH (%d)", tc.mismatches))
			}
			var csvOut bytes.Buffer
			require.NoError(t, res.WriteCSV(&csvOut))
			require.Equal(t, len(res.Lines)+1, strings.Count(csvOut.String(), "\n"))
			if tc.matched != nil {
				require.Equal(t, tc.matched, res.Matched)
			}
		})
	}
}
