package audit

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// simDay is a business day run against a real issuer simulator over TCP:
// the simulator keeps the bank's books and writes its settlement file,
// the fixture journals every message and order change as the switch does.
type simDay struct {
	t     *testing.T
	f     *fixture
	bank  *issuersim.Bank
	conn  *connection.Connection
	codec *iso.Codec
	clock atomic.Int64 // the bank's clock, Unix nanoseconds
	seq   int
}

const simBank = "sim-bank"

func newSimDay(t *testing.T) *simDay {
	s := &simDay{t: t, f: newFixture(t)}
	s.clock.Store(s.f.now.UnixNano())
	cfg := issuersim.DefaultConfig()
	cfg.Name, cfg.Dialect, cfg.Timezone = simBank, "ascii", "UTC"
	cfg.Now = func() time.Time { return time.Unix(0, s.clock.Load()).UTC() }
	b, err := issuersim.New(cfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { b.Close() })
	s.bank = b
	s.codec, err = iso.LoadCodec("ascii")
	require.NoError(t, err)
	s.connect()
	return s
}

// connect opens a new connection to the bank, as a link reconnects after
// the bank closed the last one.
func (s *simDay) connect() {
	s.t.Helper()
	c, err := connection.New(s.bank.Addr(), s.codec.Spec(), s.codec.ReadLength, s.codec.WriteLength,
		connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}), connection.SendTimeout(5*time.Second))
	require.NoError(s.t, err)
	require.NoError(s.t, c.Connect())
	s.t.Cleanup(func() { c.Close() })
	s.conn = c
}

func (s *simDay) tick() time.Time {
	now := s.f.tick()
	s.clock.Store(now.UnixNano())
	return now
}

func (s *simDay) next() (string, string) {
	s.seq++
	return fmt.Sprintf("%06d", s.seq), fmt.Sprintf("633109%06d", s.seq)
}

func (s *simDay) request(mti, proc, pan string, amount int64) *iso.Message {
	stan, rrn := s.next()
	m := &iso.Message{
		MTI: mti, PAN: pan, ProcessingCode: proc, STAN: stan, RRN: rrn, Expiry: "3012", CVV2: "123",
		POSEntryMode: iso.POSEntryEcommerce, POSCondition: iso.POSConditionECom, AcquirerID: "400123",
		TerminalID: "TERM0001", MerchantID: "MERCHANT0000001", Currency: iso.CurrencyKZT,
	}
	m.SetAmount(amount)
	m.Stamp(s.f.now, nil)
	return m
}

// do sends req, journals it and its answer, and records the operation on
// the order as payments does. It returns the operation.
func (s *simDay) do(o *order.Order, typ order.OpType, req *iso.Message, of string) *order.Operation {
	s.t.Helper()
	s.tick()
	op := order.Operation{ID: fmt.Sprintf("op%d", len(o.Ops)+1), Type: typ, Status: order.OpPending,
		Amount: req.Amount, Time: s.f.now, Bank: simBank, MTI: req.MTI, STAN: req.STAN, RRN: req.RRN,
		TerminalID: req.TerminalID, MerchantID: req.MerchantID, Of: of}
	o.Ops = append(o.Ops, op)
	s.f.commit(o, s.f.isoEntry(simBank, journal.Out, req))

	im, err := s.codec.Build(req)
	require.NoError(s.t, err)
	rim, err := s.conn.Send(im)
	require.NoError(s.t, err)
	resp, err := s.codec.Parse(rim)
	require.NoError(s.t, err)

	p := &o.Ops[len(o.Ops)-1]
	p.ResponseCode, p.ApprovalCode = resp.ResponseCode, resp.ApprovalCode
	p.Status = order.OpDeclined
	if iso.LookupResponseCode(resp.ResponseCode).Approved {
		p.Status = order.OpApproved
	}
	s.f.commit(o, s.f.isoEntry(simBank, journal.In, resp))
	return p
}

func (s *simDay) order(number string, amount int64) *order.Order {
	o := s.f.newOrder("shop-1", number, amount, true)
	o.Bank = simBank
	return o
}

// run makes a day of every kind of exchange and returns the settlement
// file the simulator writes for it.
func (s *simDay) run() []byte {
	t := s.t
	const visa, lowBalance = "4111111111111111", "4000001111111118"

	// Held, then completed for less.
	o := s.order("2001", 10_000)
	auth := s.request(iso.MTIAuthorization, iso.ProcPurchase, visa, 10_000)
	a := s.do(o, order.OpAuthorization, auth, "")
	require.Equal(t, order.OpApproved, a.Status)
	s.do(o, order.OpCompletion, iso.CompletionOf(auth, a.ApprovalCode, 8_000, fmt.Sprintf("%06d", s.seq+1), s.f.now), a.ID)
	s.seq++

	// Purchase, partly refunded.
	o = s.order("2002", 5_000)
	pur := s.request(iso.MTIFinancial, iso.ProcPurchase, visa, 5_000)
	p := s.do(o, order.OpPurchase, pur, "")
	ref := s.request(iso.MTIFinancial, iso.ProcRefund, visa, 2_000)
	ref.CVV2, ref.Original = "", iso.OriginalOf(pur)
	s.do(o, order.OpRefund, ref, p.ID)

	// Held, then cancelled.
	o = s.order("2003", 3_000)
	auth = s.request(iso.MTIAuthorization, iso.ProcPurchase, visa, 3_000)
	a = s.do(o, order.OpAuthorization, auth, "")
	s.seq++
	s.do(o, order.OpReversal, iso.ReversalOf(auth, false, fmt.Sprintf("%06d", s.seq), s.f.now, nil), a.ID)

	// Purchase reversed automatically by store-and-forward.
	o = s.order("2004", 4_000)
	pur = s.request(iso.MTIFinancial, iso.ProcPurchase, visa, 4_000)
	p = s.do(o, order.OpPurchase, pur, "")
	s.seq++
	s.do(o, order.OpAutoReversal, iso.ReversalOf(pur, true, fmt.Sprintf("%06d", s.seq), s.f.now, nil), p.ID)

	// Declined: the bank applies nothing.
	o = s.order("2005", 1_000_000)
	d := s.do(o, order.OpAuthorization, s.request(iso.MTIAuthorization, iso.ProcPurchase, lowBalance, 1_000_000), "")
	require.Equal(t, order.OpDeclined, d.Status)

	// Held and left open at the end of the day.
	o = s.order("2006", 7_000)
	s.do(o, order.OpAuthorization, s.request(iso.MTIAuthorization, iso.ProcPurchase, visa, 7_000), "")

	var buf bytes.Buffer
	require.NoError(t, s.bank.WriteSettlement(&buf, day0))
	return buf.Bytes()
}

func (s *simDay) reconcile(settlement []byte) *ReconResult {
	s.t.Helper()
	rows, err := ParseSettlement(bytes.NewReader(settlement))
	require.NoError(s.t, err)
	res, err := Reconcile(context.Background(), s.f.open(), simBank, "2026-03-10", time.UTC, rows, nil)
	require.NoError(s.t, err)
	return res
}

func TestReconcileSimulatorCleanDay(t *testing.T) {
	s := newSimDay(t)
	file := s.run()
	res := s.reconcile(file)

	var out bytes.Buffer
	res.WriteText(&out)
	require.Zero(t, res.Mismatches(), out.String())
	require.Equal(t, 10, res.Tulpar)
	require.Equal(t, 9, res.BankRows)
	require.Equal(t, 1, res.Ignorable, "the declined authorization")
	require.Equal(t, []ClassSum{
		{Class: "A", Count: 3, TulparAmount: 20_000, BankAmount: 20_000},
		{Class: "F", Count: 3, TulparAmount: 17_000, BankAmount: 17_000},
		{Class: "R", Count: 2, TulparAmount: 7_000, BankAmount: 7_000},
		{Class: "C", Count: 1, TulparAmount: 2_000, BankAmount: 2_000},
	}, res.Matched)
	require.True(t, strings.HasPrefix(out.String(), "OK: bank sim-bank"), out.String())
}

// TestReconcileSimulatorMismatches injects into the simulator's file a
// reversal the bank lost, an amount that differs and a transaction Tulpar
// never sent, and expects each reported, and nothing else.
func TestReconcileSimulatorMismatches(t *testing.T) {
	s := newSimDay(t)
	file := string(s.run())
	lines := strings.Split(strings.TrimSuffix(file, "\n"), "\n")
	var kept []string
	for _, l := range lines {
		f := strings.Split(l, ",")
		switch {
		case f[2] == "reversal" && f[3] == "0400":
			continue // the bank lost the merchant's cancellation
		case f[2] == "completion":
			f[10], f[11] = "8500", "8500" // captured more than asked
		}
		kept = append(kept, strings.Join(f, ","))
	}
	kept = append(kept, "2026-03-10,2026-03-10T18:00:00Z,purchase,0200,999999,999999999999,TERM0001,MERCHANT0000001,411111******1111,398,1200,1200,ZZZZZZ,,,")
	res := s.reconcile([]byte(strings.Join(kept, "\n") + "\n"))

	var out bytes.Buffer
	res.WriteText(&out)
	got := map[string]string{}
	for _, l := range res.Lines {
		if l.Result != Matched {
			key := l.Result
			if l.Tulpar != nil {
				key += " " + string(l.Tulpar.OpType) + " " + l.Tulpar.OrderNumber
			} else {
				key += " " + l.Bank.RRN
			}
			got[key] = l.Detail
		}
	}
	require.Equal(t, map[string]string{
		"missing_at_bank reversal 2003":  "Tulpar recorded an approved reversal; the bank's file lacks it",
		"amount_differs completion 2001": "amount: Tulpar 8000, bank 8500",
		"missing_in_tulpar 999999999999": "settlement line 10: no purchase with this RRN, terminal and STAN in the journal",
	}, got, out.String())
	require.Contains(t, out.String(), "MISMATCH (3)")

	var csvOut bytes.Buffer
	require.NoError(t, res.WriteCSV(&csvOut))
	require.Equal(t, len(res.Lines)+1, strings.Count(csvOut.String(), "\n"))
	require.Contains(t, csvOut.String(), "missing_in_tulpar,F,999999999999,999999,TERM0001")
}
