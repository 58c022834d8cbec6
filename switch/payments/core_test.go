package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// The payment core alone, its collaborators faked (switchtest): what a
// flow does when a collaborator fails, which a live bank cannot be made to
// do on cue.

// coreBanks are two banks, a then b; a Send to a bank in notSent fails
// before the message leaves, any other is approved. sent lists the banks
// tried.
func coreBanks(sent *[]string, notSent ...string) *switchtest.Banks {
	return &switchtest.Banks{SendFunc: func(_ context.Context, bank string, m *iso.Message) (*iso.Message, error) {
		*sent = append(*sent, bank)
		for _, b := range notSent {
			if b == bank {
				return nil, &links.SendError{Link: bank, MTI: m.MTI, STAN: m.STAN, Err: links.ErrNotSent}
			}
		}
		return switchtest.Approve(m), nil
	}}
}

var bothBanks = &switchtest.Router{RouteFunc: func(routing.Payment, func(string) bool) (routing.Decision, error) {
	return routing.Decision{Bank: "a", Rule: "both", Candidates: []string{"a", "b"}}, nil
}}

func registerCore(t *testing.T, svc *payments.Service, number string) *order.Order {
	t.Helper()
	reg, err := svc.Register(context.Background(), payments.RegisterRequest{Merchant: switchtest.Merchant, Number: number,
		Amount: 150000, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	return reg.Order
}

func payCore(svc *payments.Service, o *order.Order) (*payments.Result, error) {
	return svc.Pay(context.Background(), payments.PayRequest{OrderID: o.ID,
		Card: payments.CardInput{PAN: switchtest.Visa, Expiry: switchtest.Expiry, CVV2: switchtest.CVV2}})
}

// A payment the first bank provably never received goes to the next one;
// when no bank received it, it is declined with nothing to reverse.
func TestNotSentFailsOver(t *testing.T) {
	for _, tc := range []struct {
		name    string
		notSent []string
		status  order.Status
		action  int
	}{
		{"to the next bank", []string{"a"}, order.StatusDeposited, 0},
		{"declined when every bank refused", []string{"a", "b"}, order.StatusDeclined, order.ActionIssuerDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent []string
			queue := &switchtest.Queue{}
			svc := switchtest.NewService(t, switchtest.PaymentsConfig("a", "b"), payments.Deps{
				Banks: coreBanks(&sent, tc.notSent...), Router: bothBanks, SAF: queue})
			res, err := payCore(svc, registerCore(t, svc, "failover"))
			require.NoError(t, err)
			o := res.Order
			require.Equal(t, []string{"a", "b"}, sent)
			require.Equal(t, tc.status, o.Status)
			require.Equal(t, tc.action, o.ActionCode)
			require.Len(t, o.Ops, 2, "one purchase per bank tried")
			require.Equal(t, "a", o.Ops[0].Bank)
			require.Equal(t, order.OpDeclined, o.Ops[0].Status)
			require.Equal(t, order.ActionIssuerDown, o.Ops[0].ActionCode)
			require.Equal(t, "b", o.Ops[1].Bank)
			require.Empty(t, queue.Items(), "nothing reached a bank unanswered: nothing to reverse")
		})
	}
}

// A security module that cannot protect the card stops the payment before
// anything is recorded or sent: the order can be paid again.
func TestVaultFailureSendsNothing(t *testing.T) {
	var sent []string
	svc := switchtest.NewService(t, switchtest.PaymentsConfig(switchtest.BankName), payments.Deps{
		Banks: coreBanks(&sent),
		Vault: &switchtest.Vault{EncryptPANFunc: func(context.Context, string) ([]byte, error) {
			return nil, errors.New("hsm: not available")
		}},
	})
	o := registerCore(t, svc, "vault-down")
	_, err := payCore(svc, o)
	require.ErrorContains(t, err, "protect card: hsm: not available")
	require.NotContains(t, err.Error(), switchtest.Visa)
	require.Empty(t, sent)
	got, err := svc.Get(context.Background(), o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusRegistered, got.Status)
	require.Equal(t, o.Version, got.Version)
	require.Nil(t, got.Card)
}

// 3-D Secure that does not answer declines the payment before any bank
// sees it; the 3-D Secure server's word is journaled.
func TestThreeDSErrorDeclinesBeforeTheBank(t *testing.T) {
	var sent []string
	svc := switchtest.NewService(t, switchtest.PaymentsConfig(switchtest.BankName), payments.Deps{
		Banks: coreBanks(&sent),
		ThreeDS: &switchtest.Authenticator{BeginFunc: func(context.Context, threeds.Request) (threeds.Outcome, error) {
			return threeds.Outcome{}, errors.New("directory server: connection refused")
		}},
	})
	res, err := payCore(svc, registerCore(t, svc, "3ds-down"))
	require.NoError(t, err)
	require.Equal(t, order.StatusDeclined, res.Order.Status)
	require.Equal(t, order.ActionThreeDSError, res.Order.ActionCode)
	require.Equal(t, "3ds_error", res.Order.DeclineReason)
	require.Empty(t, sent)
}

// Every attempt of an order asks 3-D Secure under an id of its own: the
// ACS refuses a second AReq under an id it has seen, so an attempt after a
// decline must not reuse the first one's.
func TestThreeDSIDPerAttempt(t *testing.T) {
	var ids []string
	declines := 2
	cfg := switchtest.PaymentsConfig(switchtest.BankName)
	cfg.Merchants[0].MaxAttempts = 3
	svc := switchtest.NewService(t, cfg, payments.Deps{
		Banks: &switchtest.Banks{SendFunc: func(_ context.Context, _ string, m *iso.Message) (*iso.Message, error) {
			if declines > 0 {
				declines--
				return iso.Respond(m, iso.RCInsufficientFunds), nil
			}
			return switchtest.Approve(m), nil
		}},
		ThreeDS: &switchtest.Authenticator{BeginFunc: func(_ context.Context, r threeds.Request) (threeds.Outcome, error) {
			ids = append(ids, r.TransID)
			return threeds.Outcome{Status: threeds.NotEnrolled, TransID: r.TransID, ECI: "07", Version: "2.2.0"}, nil
		}},
	})
	o := registerCore(t, svc, "3ds-attempts")
	for range 3 {
		_, err := payCore(svc, o)
		require.NoError(t, err)
	}
	got, err := svc.Get(context.Background(), o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, got.Status, "the third attempt is approved")
	require.Equal(t, []string{o.ID, o.ID + "-a2", o.ID + "-a3"}, ids)
	require.Equal(t, o.ID+"-a3", got.ThreeDS.TransID)
}

// An advice for a bank whose link is not signed on is not sent or
// journaled: the queue waits for the link (saf.Unavailable, no attempt
// counted). A send refused on a link that is still up (a message that
// cannot be packed) is the advice's own trouble (Retry), and so is any
// advice for a bank no longer configured: nothing will bring its link
// back, so it goes the way of attempts to the dead letters.
func TestAdviceWaitsOnlyForALinkThatMayComeBack(t *testing.T) {
	var sent []string
	ready := map[string]bool{"a": false, "b": true}
	goesDown := ""
	banks := &switchtest.Banks{
		ReadyFunc: func(bank string) bool { return ready[bank] },
		SendFunc: func(_ context.Context, bank string, m *iso.Message) (*iso.Message, error) {
			sent = append(sent, bank)
			if bank == goesDown {
				ready[bank] = false
			}
			return nil, &links.SendError{Link: bank, MTI: m.MTI, STAN: m.STAN, Err: links.ErrNotSent}
		},
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), journal.DataFile), journal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	svc := switchtest.NewService(t, switchtest.PaymentsConfig("a", "b"), payments.Deps{Banks: banks, Journal: j})
	o := registerCore(t, svc, "advice-link")
	payload, err := json.Marshal(order.Advice{OrderID: o.ID, Message: &iso.Message{MTI: iso.MTIReversalAdvice, STAN: "000001"}})
	require.NoError(t, err)
	deliver := func(bank string) saf.Outcome {
		out, err := svc.Deliver(context.Background(), saf.Item{ID: 1, Queue: bank, OrderID: o.ID, Kind: order.KindReversalAdvice, Payload: payload}, false)
		require.Error(t, err)
		return out
	}

	entries, err := j.Count()
	require.NoError(t, err)
	require.Equal(t, saf.Unavailable, deliver("a"))
	require.Empty(t, sent, "nothing sent to a bank that is down")
	after, err := j.Count()
	require.NoError(t, err)
	require.Equal(t, entries, after, "nor journaled")

	require.Equal(t, saf.Retry, deliver("b"), "not sent on a link that is up: the advice's own trouble")
	goesDown = "b"
	require.Equal(t, saf.Unavailable, deliver("b"), "not sent because the link went down under it")
	require.Equal(t, saf.Retry, deliver("gone"), "a bank no longer configured has no link to wait for")
	require.Equal(t, []string{"b", "b", "gone"}, sent)
}

// A conditional decline (OnlyWaiting, a payment link closing an order its
// buyer left) does not wait for an order being paid: while the card is at
// the bank it answers ErrInProgress at once, and the payment goes on.
func TestDeclineOnlyWaitingDoesNotWait(t *testing.T) {
	atBank, release := make(chan struct{}), make(chan struct{})
	banks := &switchtest.Banks{SendFunc: func(_ context.Context, _ string, m *iso.Message) (*iso.Message, error) {
		close(atBank)
		<-release
		return switchtest.Approve(m), nil
	}}
	svc := switchtest.NewService(t, switchtest.PaymentsConfig(switchtest.BankName), payments.Deps{Banks: banks})
	o := registerCore(t, svc, "only-waiting")
	paid := make(chan error, 1)
	go func() {
		_, err := payCore(svc, o)
		paid <- err
	}()
	select {
	case <-atBank:
	case err := <-paid:
		t.Fatalf("the payment ended before the bank: %v", err)
	}
	_, err := svc.Decline(context.Background(), payments.FollowUpRequest{OrderID: o.ID, OnlyWaiting: true})
	require.ErrorIs(t, err, payments.ErrInProgress)
	close(release)
	require.NoError(t, <-paid)
	got, err := svc.Get(context.Background(), o.ID)
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, got.Status, "the payment went on")
	_, err = svc.Decline(context.Background(), payments.FollowUpRequest{OrderID: o.ID, OnlyWaiting: true})
	require.ErrorIs(t, err, payments.ErrInProgress, "paid: not waiting for its card")
}
