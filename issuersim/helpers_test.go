package issuersim

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

var dialects = []string{"ascii", "binary"}

// Cards of the default book the tests use.
const (
	visa        = "4111111111111111"
	mastercard  = "5555555555555599"
	lowBalance  = "4000001111111118"
	lostCard    = "4000000000000044"
	stolenCard  = "4000000000000051"
	expiredCard = "4000000000000069"
	notAllowed  = "4000000000000077"
	restricted  = "4000000000000085"
	usdCard     = "4000000000000093"
	terminal    = "TERM0001"
	merchant    = "MERCHANT0000001"
	acquirer    = "400123"
)

// MustStartBank starts a bank on 127.0.0.1:0 with the default book.
func MustStartBank(tb testing.TB, dialect string, mutate func(*Config)) *Bank {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Name = "test-" + dialect
	cfg.Dialect = dialect
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg, zerolog.Nop(), nil)
	require.NoError(tb, err)
	require.NoError(tb, b.Start(context.Background()))
	tb.Cleanup(func() { require.NoError(tb, b.Close()) })
	return b
}

// client is the switch's side of a link, built as the switch builds it.
type client struct {
	tb     testing.TB
	codec  *iso.Codec
	conn   *connection.Connection
	seq    atomic.Int64
	closed chan struct{}
}

func MustDial(tb testing.TB, b *Bank, opts ...connection.Option) *client {
	tb.Helper()
	codec, err := iso.LoadCodec(b.Dialect())
	require.NoError(tb, err)
	c := &client{tb: tb, codec: codec, closed: make(chan struct{})}
	opts = append([]connection.Option{
		connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}),
		connection.SendTimeout(5 * time.Second),
		connection.ConnectionClosedHandler(func(*connection.Connection) { close(c.closed) }),
	}, opts...)
	c.conn, err = connection.New(b.Addr(), codec.Spec(), codec.ReadLength, codec.WriteLength, opts...)
	require.NoError(tb, err)
	require.NoError(tb, c.conn.Connect())
	tb.Cleanup(func() { c.conn.Close() })
	return c
}

// send sends m and returns the parsed answer.
func (c *client) send(m *iso.Message, opts ...connection.Option) (*iso.Message, error) {
	im, err := c.codec.Build(m)
	if err != nil {
		return nil, err
	}
	resp, err := c.conn.Send(im, opts...)
	if err != nil {
		return nil, err
	}
	return c.codec.Parse(resp)
}

func (c *client) mustSend(m *iso.Message) *iso.Message {
	c.tb.Helper()
	resp, err := c.send(m)
	require.NoError(c.tb, err)
	require.Equal(c.tb, iso.ResponseMTI(m.MTI), resp.MTI)
	require.Equal(c.tb, m.STAN, resp.STAN)
	return resp
}

// next returns a fresh STAN and RRN.
func (c *client) next() (stan, rrn string) {
	n := c.seq.Add(1)
	return fmt.Sprintf("%06d", n), fmt.Sprintf("633109%06d", n)
}

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// request builds a card-not-present request as the switch sends it.
func (c *client) request(mti, proc, pan string, amount int64) *iso.Message {
	stan, rrn := c.next()
	m := &iso.Message{
		MTI: mti, PAN: pan, ProcessingCode: proc, STAN: stan, RRN: rrn, Expiry: "3012", CVV2: "123",
		POSEntryMode: iso.POSEntryEcommerce, POSCondition: iso.POSConditionECom, AcquirerID: acquirer,
		TerminalID: terminal, MerchantID: merchant, Currency: iso.CurrencyKZT,
	}
	if pan == expiredCard {
		m.Expiry = "2201"
	}
	m.SetAmount(amount)
	m.Stamp(testNow, nil)
	return m
}

func (c *client) auth(pan string, amount int64) *iso.Message {
	return c.request(iso.MTIAuthorization, iso.ProcPurchase, pan, amount)
}

func (c *client) purchase(pan string, amount int64) *iso.Message {
	return c.request(iso.MTIFinancial, iso.ProcPurchase, pan, amount)
}

// refundOf builds a refund naming the capture in DE90, with its own STAN
// and RRN.
func (c *client) refundOf(capture *iso.Message, amount int64) *iso.Message {
	m := c.request(iso.MTIFinancial, iso.ProcRefund, capture.PAN, amount)
	m.CVV2 = ""
	m.Original = iso.OriginalOf(capture)
	return m
}

func (c *client) reversalOf(orig *iso.Message, advice bool, actual *int64) *iso.Message {
	stan, _ := c.next()
	return iso.ReversalOf(orig, advice, stan, testNow, actual)
}

func (c *client) completionOf(auth *iso.Message, approval string, amount int64) *iso.Message {
	stan, _ := c.next()
	return iso.CompletionOf(auth, approval, amount, stan, testNow)
}

func (c *client) network(code string) *iso.Message {
	stan, _ := c.next()
	m := iso.NetworkRequest(code, stan, testNow)
	m.AcquirerID = acquirer
	return m
}

// MustAccount returns an account's state.
func MustAccount(tb testing.TB, b *Bank, pan string) AccountView {
	tb.Helper()
	a, ok := b.Account(pan)
	require.True(tb, ok, "no account %s", iso.MaskPAN(pan))
	return a
}

// waitClosed waits for the client's connection to close, or fails.
func (c *client) waitClosed(d time.Duration) {
	c.tb.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		c.tb.Fatalf("connection still open after %s", d)
	}
}
