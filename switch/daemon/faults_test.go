package daemon_test

// The fault suite: a real switch and a simulated bank over TCP, with the
// faults a shop, a bank, the disk and the process cause injected one at a
// time. Each test retries as a shop would, and ends with the books: the
// switch's approved, captured and refunded amounts equal the bank's holds,
// captures and refunds, nothing is left pending, and (at cleanup) the
// journal verifies and rebuilds the order store.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

const (
	visa = switchtest.Visa
	// hangUp is how long a shop's HTTP client waits; the bank answers
	// after bankDelay, so the shop has always hung up by then.
	hangUp    = 300 * time.Millisecond
	bankDelay = 1200 * time.Millisecond
)

func late(mti string) issuersim.Rule {
	return issuersim.Rule{MTI: mti, Action: issuersim.ActionLate, Delay: bankDelay}
}

func errorCode(ans map[string]any) string { return fmt.Sprint(ans["errorCode"]) }

// A shop whose HTTP client gives up while the bank is answering retries the
// payment: the first exchange still runs to its outcome, and the retry
// answers that outcome without a second authorization.
func TestShopHangsUpDuringPayment(t *testing.T) {
	for _, tc := range []struct {
		name     string
		twoStage bool
		mti      string
		status   order.Status
	}{
		{"0100 hold", true, "0100", order.StatusApproved},
		{"0200 purchase", false, "0200", order.StatusDeposited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := switchtest.Run(t, switchtest.Options{})
			before := s.Account(visa)
			id := s.Register("hangup-"+tc.mti, 25000, tc.twoStage)
			s.Knobs(late(tc.mti))
			_, err := s.RBS("paymentorder", switchtest.PayForm(id, visa), hangUp)
			require.Error(t, err, "the shop hung up before the bank answered")
			// The retry comes while the first is still at the bank: it
			// waits for it and answers its outcome.
			ans := s.Pay(id, visa)
			require.Equal(t, "0", errorCode(ans), "%v", ans)
			require.Contains(t, ans["redirect"], "https://shop.example.kz/ok")
			o := s.Order(id)
			require.Equal(t, tc.status, o.Status)
			require.Equal(t, 1, s.Bank.Received(tc.mti), "one financial message, not two")
			// And once more after the fact.
			require.Equal(t, "0", errorCode(s.Pay(id, visa)))
			require.Equal(t, 1, s.Bank.Received(tc.mti))
			s.Books(visa, before)
			s.Restart()
			require.Equal(t, tc.status, s.Order(id).Status, "the outcome was durable")
			s.Books(visa, before)
		})
	}
}

// A buyer pressing "Pay" twice on the hosted page sends one 0100.
func TestBuyerDoubleClick(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{})
	before := s.Account(visa)
	id := s.Register("double-click", 31000, true)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := s.URL() + "/pay/" + id
	resp, err := hc.Get(page)
	require.NoError(t, err)
	body := readAll(t, resp)
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, token, body)
	s.Knobs(late("0100"))
	form := url.Values{"csrf": {token[1]}, "pan": {visa}, "expiry": {"12/30"}, "cvv2": {"123"}, "holder": {"TEST BUYER"}}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := hc.PostForm(page, form)
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, []int{http.StatusSeeOther, http.StatusSeeOther}, codes, "both clicks end on the result page")
	require.Equal(t, 1, s.Bank.Received("0100"))
	require.Equal(t, order.StatusApproved, s.Order(id).Status)
	s.Books(visa, before)
}

// Follow-ups whose shop hangs up: the retry (same externalRefundId for a
// refund) answers the recorded outcome and sends nothing more.
func TestShopHangsUpDuringFollowUps(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{})
	before := s.Account(visa)

	t.Run("refund.do", func(t *testing.T) {
		id := s.Register("hangup-refund", 40000, false)
		require.Equal(t, "0", errorCode(s.Pay(id, visa)))
		refunds := s.Bank.Received("0200")
		s.Knobs(issuersim.Rule{MTI: "0200", AmountSuffix: "1234", Action: issuersim.ActionLate, Delay: bankDelay})
		form := url.Values{"orderId": {id}, "amount": {"1234"}, "externalRefundId": {"rf-1"}}
		_, err := s.RBS("refund", form, hangUp)
		require.Error(t, err)
		ans, err := s.RBS("refund", form, 0)
		require.NoError(t, err)
		require.Equal(t, "0", errorCode(ans), "%v", ans)
		require.Equal(t, refunds+1, s.Bank.Received("0200"), "one refund at the bank")
		o := s.Order(id)
		require.Equal(t, int64(1234), o.Refunded)
		s.Knobs()
	})
	t.Run("reverse.do", func(t *testing.T) {
		id := s.Register("hangup-reverse", 41000, true)
		require.Equal(t, "0", errorCode(s.Pay(id, visa)))
		s.Knobs(late("0400"))
		form := url.Values{"orderId": {id}}
		_, err := s.RBS("reverse", form, hangUp)
		require.Error(t, err)
		ans, err := s.RBS("reverse", form, 0)
		require.NoError(t, err)
		require.Equal(t, "0", errorCode(ans), "%v", ans)
		require.Equal(t, 1, s.Bank.Received("0400"))
		require.Equal(t, order.StatusReversed, s.Order(id).Status)
		s.Knobs()
	})
	t.Run("deposit.do", func(t *testing.T) {
		id := s.Register("hangup-deposit", 42000, true)
		require.Equal(t, "0", errorCode(s.Pay(id, visa)))
		s.Knobs(late("0220"))
		form := url.Values{"orderId": {id}, "amount": {"0"}}
		for range 3 {
			ans, err := s.RBS("deposit", form, 0)
			require.NoError(t, err)
			require.Equal(t, "0", errorCode(ans), "%v", ans)
		}
		s.SAFDrained()
		require.Equal(t, 1, s.Bank.Received("0220"), "one completion advice")
		require.Equal(t, order.StatusDeposited, s.Order(id).Status)
		s.Knobs()
	})
	s.Books(visa, before)
}

// A bank that approves less than asked (DE39 10) or another amount: by
// default the approval is reversed and the order declined; a merchant that
// accepts partial approvals keeps the amount approved, and can capture no
// more than it.
func TestPartialAndMismatchedApprovals(t *testing.T) {
	t.Run("partial, reversed by default", func(t *testing.T) {
		s := switchtest.Run(t, switchtest.Options{})
		before := s.Account(visa)
		id := s.Register("partial-1", 50000, true)
		s.Knobs(issuersim.Rule{MTI: "0100", ResponseCode: "10", ApproveAmount: 30000})
		ans := s.Pay(id, visa)
		require.Contains(t, ans["redirect"], "orderId="+id)
		o := s.Order(id)
		require.Equal(t, order.StatusDeclined, o.Status)
		require.Equal(t, order.ActionPartialApproval, o.ActionCode)
		require.Equal(t, "partial_approval", o.DeclineReason)
		auth := o.Ops[0]
		require.Equal(t, int64(30000), auth.Amount, "the operation records what the bank approved")
		require.Equal(t, int64(50000), auth.Requested)
		require.Equal(t, order.OpAutoReversal, o.Ops[1].Type)
		ans, err := s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"0"}}, 0)
		require.NoError(t, err)
		require.NotEqual(t, "0", errorCode(ans), "nothing to capture")
		s.Books(visa, before)
		require.Zero(t, s.Account(visa).Held-before.Held, "the partial hold was released")
	})
	t.Run("partial, accepted by the merchant", func(t *testing.T) {
		s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
			c.Payments.Merchants[0].AcceptPartialApproval = true
		}})
		before := s.Account(visa)
		id := s.Register("partial-2", 50000, true)
		s.Knobs(issuersim.Rule{MTI: "0100", ResponseCode: "10", ApproveAmount: 30000})
		s.Pay(id, visa)
		o := s.Order(id)
		require.Equal(t, order.StatusApproved, o.Status)
		require.Equal(t, int64(30000), o.Approved)
		s.Knobs()
		ans, err := s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"50000"}}, 0)
		require.NoError(t, err)
		require.NotEqual(t, "0", errorCode(ans), "no capture beyond what the bank approved: %v", ans)
		ans, err = s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"0"}}, 0)
		require.NoError(t, err)
		require.Equal(t, "0", errorCode(ans), "%v", ans)
		s.Books(visa, before)
		require.Equal(t, int64(30000), s.Order(id).Deposited)
	})
	t.Run("approved with another amount", func(t *testing.T) {
		s := switchtest.Run(t, switchtest.Options{})
		before := s.Account(visa)
		id := s.Register("mismatch", 50000, false)
		s.Knobs(issuersim.Rule{MTI: "0200", ResponseCode: "00", ApproveAmount: 70000})
		s.Pay(id, visa)
		o := s.Order(id)
		require.Equal(t, order.StatusDeclined, o.Status)
		require.Equal(t, order.ActionAmountMismatch, o.ActionCode)
		s.Books(visa, before)
		require.Zero(t, s.Account(visa).Captured-before.Captured, "the capture nobody asked for was reversed")
	})
}

// reverse.do with an amount releases only that part of the hold, the ISO
// 8583:1987 way (DE95 the amount that stays); the rest stays approved and
// can be captured.
func TestPartialReversal(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{})
	before := s.Account(visa)
	id := s.Register("partial-reverse", 60000, true)
	s.Pay(id, visa)
	ans, err := s.RBS("reverse", url.Values{"orderId": {id}, "amount": {"20000"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", errorCode(ans), "%v", ans)
	o := s.Order(id)
	require.Equal(t, order.StatusApproved, o.Status)
	require.Equal(t, int64(40000), o.Approved)
	require.Equal(t, int64(40000), s.Account(visa).Held-before.Held, "the bank released 20000 of the hold")
	// The same request again (a retry after a lost answer) releases nothing more.
	ans, err = s.RBS("reverse", url.Values{"orderId": {id}, "amount": {"20000"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", errorCode(ans))
	require.Equal(t, int64(40000), s.Order(id).Approved)
	require.Equal(t, 1, s.Bank.Received("0400"))
	ans, err = s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"40001"}}, 0)
	require.NoError(t, err)
	require.NotEqual(t, "0", errorCode(ans), "no capture beyond what stays held")
	ans, err = s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"0"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", errorCode(ans))
	s.Books(visa, before)
	o = s.Order(id)
	require.Equal(t, int64(40000), o.Deposited)
	var kinds []order.OpType
	for _, op := range o.Ops {
		kinds = append(kinds, op.Type)
	}
	require.Equal(t, []order.OpType{order.OpAuthorization, order.OpReversal, order.OpCompletion}, kinds, "the history shows both steps")
}

// A completion advice answered with a code that does not take it (96)
// stays queued and is repeated; once the bank takes it, it is delivered.
// One that is never taken ends in the dead letters.
func TestAdviceRefusedStaysQueued(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) { c.SAF.MaxAttempts = 50 }})
	before := s.Account(visa)
	id := s.Register("advice-96", 70000, true)
	s.Pay(id, visa)
	s.Knobs(issuersim.Rule{MTI: "0220", ResponseCode: "96"}, issuersim.Rule{MTI: "0221", ResponseCode: "96"})
	ans, err := s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"0"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", errorCode(ans))
	s.WaitReceived("0221", 2)
	require.Zero(t, s.Account(visa).Captured-before.Captured, "the bank has not captured")
	st, err := s.D.SAF().Stats()
	require.NoError(t, err)
	require.Equal(t, 1, st[0].Depth, "the advice stays queued")
	require.Equal(t, order.OpQueued, s.Order(id).Ops[1].Status)
	s.Knobs()
	s.Books(visa, before)
	require.Equal(t, order.OpApproved, s.Order(id).Ops[1].Status)
}

// While the bank's link is down, queued advices wait for it without
// spending attempts (none goes as a repeat afterwards), and the link's
// sign-on sends them at once rather than after the queue's backoff (an
// hour here).
func TestAdvicesWaitForTheLink(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.SAF.RetryMin, c.SAF.RetryMax = time.Hour, time.Hour
	}})
	before := s.Account(visa)
	held := s.Register("link-down-held", 72000, true)
	s.Pay(held, visa)

	// The bank drops the connection on the next authorization and refuses
	// sign-on from then: the link stays down.
	s.Knobs(issuersim.Rule{MTI: "0100", AmountSuffix: "73000", Action: issuersim.ActionClose},
		issuersim.Rule{MTI: "0800", Action: issuersim.ActionClose})
	lost := s.Register("link-down-lost", 73000, true)
	s.Pay(lost, visa)
	s.Eventually(func() bool { return !s.D.Links().Ready(switchtest.BankName) }, "the link is down")
	ans, err := s.RBS("deposit", url.Values{"orderId": {held}, "amount": {"0"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "0", errorCode(ans), "%v", ans)
	s.Eventually(func() bool {
		st, err := s.D.SAF().Stats()
		require.NoError(t, err)
		return len(st) == 1 && st[0].Depth == 2 && st[0].HeadLastError != ""
	}, "the lost authorization's reversal and the completion queued, tried against the closed link")
	st, err := s.D.SAF().Stats()
	require.NoError(t, err)
	require.Zero(t, st[0].HeadAttempts, "no attempt spent on a link that is down")

	s.Knobs()
	s.SAFDrained()
	require.Equal(t, 1, s.Bank.Received("0220"))
	require.Zero(t, s.Bank.Received("0221"), "the completion went once, not as a repeat")
	require.Zero(t, s.Bank.Received("0421"), "the reversal went once, not as a repeat")
	s.Books(visa, before)
}

func TestAdviceNeverTakenGoesToDeadLetters(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) { c.SAF.MaxAttempts = 3 }})
	id := s.Register("advice-dead", 71000, true)
	s.Pay(id, visa)
	s.Knobs(issuersim.Rule{MTI: "0220", ResponseCode: "96"}, issuersim.Rule{MTI: "0221", ResponseCode: "96"})
	_, err := s.RBS("deposit", url.Values{"orderId": {id}, "amount": {"0"}}, 0)
	require.NoError(t, err)
	s.Eventually(func() bool {
		dead, err := s.D.SAF().DeadLetters()
		require.NoError(t, err)
		return len(dead) == 1
	}, "the advice is in the dead letters after 3 attempts")
	require.Equal(t, 3, s.Bank.Received("0220")+s.Bank.Received("0221"))
	// An operator retries it once the bank takes it again.
	s.Knobs()
	dead, err := s.D.SAF().DeadLetters()
	require.NoError(t, err)
	require.NoError(t, s.D.SAF().Retry(context.Background(), dead[0].ID))
	s.SAFDrained()
	require.Equal(t, order.OpApproved, s.Order(id).Ops[1].Status)
}

// The merchant side answers 503 until recovery is done and the routed
// bank is signed on.
func TestNotReadyUntilBankSignedOn(t *testing.T) {
	bank := switchtest.StartBank(t, "ascii")
	addr := bank.Addr()
	require.NoError(t, bank.Close())
	cfg, sec := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := daemon.Start(ctx, cfg, nopLog())
	require.NoError(t, err)
	t.Cleanup(func() { d.Shutdown(context.Background()) })

	resp, err := http.Get(d.URL() + "/readyz")
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "starting")
	ans, err := switchtest.RBS(d.URL(), sec, "register", url.Values{"orderNumber": {"early"}, "amount": {"100"},
		"returnUrl": {"https://shop.example.kz/ok"}}, 0)
	require.NoError(t, err)
	require.Equal(t, "7", errorCode(ans))
	require.Contains(t, ans["errorMessage"], "временно недоступен", "in Russian, the gateway's default")
	resp, err = http.Get(d.URL() + "/v1/orders/x")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))

	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Listen, bcfg.AcquirerID = switchtest.BankName, addr, "400123"
	again, err := issuersim.New(bcfg, nopLog(), nil)
	require.NoError(t, err)
	require.NoError(t, again.Start(context.Background()))
	t.Cleanup(func() { again.Close() })
	require.NoError(t, d.WaitReady(ctx))
	ans, err = switchtest.RBS(d.URL(), sec, "register", url.Values{"orderNumber": {"early"}, "amount": {"100"},
		"returnUrl": {"https://shop.example.kz/ok"}}, 0)
	require.NoError(t, err)
	require.NotEmpty(t, ans["orderId"], "%v", ans)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func nopLog() zerolog.Logger { return zerolog.Nop() }

// TestFaultChild is the switch process the crash tests kill; alone it does
// nothing.
func TestFaultChild(t *testing.T) {
	if switchtest.ChildMain() {
		return
	}
}

// kill -9 while a follow-up is at the bank: after the restart, recovery
// settles that operation on its own, never the whole order, and the books
// agree with the bank's.
func TestKillDuringFollowUps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		twoStage bool
		mti      string
		rule     issuersim.Rule // default: the bank applies mti and never answers
		endpoint string
		form     func(id string) url.Values
		check    func(t *testing.T, o *order.Order)
	}{
		{
			name: "deposit", twoStage: true, mti: "0220", endpoint: "deposit",
			form: func(id string) url.Values { return url.Values{"orderId": {id}, "amount": {"30000"}} },
			check: func(t *testing.T, o *order.Order) {
				require.Equal(t, order.StatusDeposited, o.Status)
				require.Equal(t, int64(30000), o.Deposited)
			},
		},
		{
			name: "refund", mti: "0200", endpoint: "refund",
			rule: issuersim.Rule{MTI: "0200", AmountSuffix: "777", Action: issuersim.ActionNoReply},
			form: func(id string) url.Values {
				return url.Values{"orderId": {id}, "amount": {"777"}, "externalRefundId": {"kill-1"}}
			},
			check: func(t *testing.T, o *order.Order) {
				require.Equal(t, order.StatusDeposited, o.Status, "the order keeps its capture")
				require.Zero(t, o.Refunded, "the refund of unknown outcome is reversed")
			},
		},
		{
			name: "reverse", twoStage: true, mti: "0400", endpoint: "reverse",
			form: func(id string) url.Values { return url.Values{"orderId": {id}} },
			check: func(t *testing.T, o *order.Order) {
				require.Equal(t, order.StatusReversed, o.Status, "the merchant's cancel stands")
			},
		},
		{
			name: "partial reverse", twoStage: true, mti: "0400", endpoint: "reverse",
			form: func(id string) url.Values { return url.Values{"orderId": {id}, "amount": {"10000"}} },
			check: func(t *testing.T, o *order.Order) {
				require.Equal(t, order.StatusApproved, o.Status)
				require.Equal(t, int64(40000), o.Approved, "the rest of the hold stays")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bank := switchtest.StartBank(t, "ascii")
			before, _ := bank.Account(visa)
			opts := switchtest.Options{DataDir: t.TempDir(), Bank: bank}
			cfg, sec := switchtest.Config(t, opts, bank.Addr())
			child := switchtest.StartChild(t, "TestFaultChild", cfg)
			ans, err := switchtest.RBS(child.URL, sec, map[bool]string{true: "registerPreAuth", false: "register"}[tc.twoStage],
				url.Values{"orderNumber": {"kill-" + tc.mti}, "amount": {"50000"}, "returnUrl": {"https://shop.example.kz/ok"}}, 0)
			require.NoError(t, err)
			id := ans["orderId"].(string)
			ans, err = switchtest.RBS(child.URL, sec, "paymentorder", switchtest.PayForm(id, visa), 0)
			require.NoError(t, err)
			require.Equal(t, "0", errorCode(ans), "%v", ans)

			rule := tc.rule
			if rule.MTI == "" {
				rule = issuersim.Rule{MTI: tc.mti, Action: issuersim.ActionNoReply}
			}
			bank.SetKnobs(issuersim.Knobs{Rules: []issuersim.Rule{rule}})
			sent := bank.Received(tc.mti)
			go switchtest.RBS(child.URL, sec, tc.endpoint, tc.form(id), 0) // cut short by the kill
			require.Eventually(t, func() bool { return bank.Received(tc.mti) > sent }, 20*time.Second, 5*time.Millisecond,
				"the %s reached the bank", tc.mti)
			child.Kill()
			bank.SetKnobs(issuersim.Knobs{})

			s := switchtest.Run(t, opts) // the restart, on the killed process's data
			s.SAFDrained()
			o := s.Order(id)
			tc.check(t, o)
			s.Books(visa, before)
			if tc.endpoint == "refund" {
				// The shop's retry with the same externalRefundId answers
				// the recorded outcome and sends no second refund.
				refunds := bank.Received("0200")
				ans, err := s.RBS("refund", tc.form(id), 0)
				require.NoError(t, err)
				require.Equal(t, "7", errorCode(ans), "%v", ans)
				require.Equal(t, refunds, bank.Received("0200"))
			}
		})
	}
}
