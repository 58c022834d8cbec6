package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/moov-io/iso8583-connection/server"

	"github.com/tulpar-switch/tulpar/iso"
)

// Authorization is the e-commerce 0100 every ISO-level scenario sends: the
// message an authorization through the switch carries to a bank (3-D
// Secure data, CVV2, DE43), so the reference round trip moves the same
// bytes. STAN and RRN are the caller's; the card is the simulators' test
// card with CVV2 123 and expiry 12/30.
func Authorization(acquirerID string, amount int64, now time.Time) *iso.Message {
	m := &iso.Message{
		MTI: iso.MTIAuthorization, PAN: "4444555511113333", ProcessingCode: iso.ProcPurchase,
		Expiry: "3012", MCC: "5411", POSEntryMode: iso.POSEntryEcommerce, POSCondition: iso.POSConditionECom,
		AcquirerID: acquirerID, TerminalID: "TLPB0001", MerchantID: "000000000000101",
		MerchantName: "Demo Shop                Almaty       KZ", Currency: iso.CurrencyKZT, CVV2: "123",
		ThreeDS: &iso.ThreeDS{ECI: "05", CAVV: "AAABBEg0VhI0VniQEjRWAAAAAAA=", TransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"},
	}
	m.SetAmount(amount)
	m.Stamp(now, nil)
	return m
}

// Numbers hands out STANs and RRNs unique within a run and across runs
// against the same long-lived simulator: the RRN starts with a per-run
// seed, so a bank's duplicate check never sees a repeat.
type Numbers struct {
	n    atomic.Uint64
	seed uint64
}

// NewNumbers seeds the RRNs from the clock.
func NewNumbers() *Numbers { return &Numbers{seed: uint64(time.Now().UnixNano()/1e6) % 100000} }

// Next returns a STAN (000001..999999) and a 12-digit RRN.
func (s *Numbers) Next() (stan, rrn string) {
	n := s.n.Add(1)
	return fmt.Sprintf("%06d", (n-1)%999999+1), fmt.Sprintf("%05d%07d", s.seed, n%10_000_000)
}

// ISOOptions configure DialISO.
type ISOOptions struct {
	// Dialect is a specs dialect: "ascii" or "binary".
	Dialect string
	// Conns is how many TCP connections requests spread over; default 1,
	// as a Tulpar link to one bank uses by default.
	Conns int
	// SignOn sends an 0800/001 on each connection first (for hosts that
	// require it).
	SignOn bool
	// AcquirerID is DE32 of the sign-on and of Authorization messages.
	AcquirerID string
	// Timeout bounds one exchange; default 10 s.
	Timeout time.Duration
}

// ISOClient is an ISO 8583 client over moov-io/iso8583-connection, the
// library Tulpar's links use: the ISO scenario against any host, and the
// client half of the reference round trip.
type ISOClient struct {
	codec *iso.Codec
	conns []*connection.Connection
	rr    atomic.Uint64
	nums  *Numbers
	o     ISOOptions
}

// DialISO connects to addr.
func DialISO(ctx context.Context, addr string, o ISOOptions) (*ISOClient, error) {
	codec, err := iso.LoadCodec(o.Dialect)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if o.Conns < 1 {
		o.Conns = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	c := &ISOClient{codec: codec, nums: NewNumbers(), o: o}
	for i := 0; i < o.Conns; i++ {
		mc, err := connection.New(addr, codec.Spec(), codec.ReadLength, codec.WriteLength,
			connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}),
			connection.SendTimeout(o.Timeout),
			// Answer nothing the host sends on its own (its echoes): the
			// load is what is measured.
			connection.InboundMessageHandler(func(*connection.Connection, *iso8583.Message) {}),
			connection.IdleTime(time.Hour),
		)
		if err == nil {
			err = mc.ConnectCtx(ctx)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("bench: dial %s: %w", addr, err)
		}
		c.conns = append(c.conns, mc)
		if o.SignOn {
			stan, _ := c.nums.Next()
			m := iso.NetworkRequest(iso.NetSignOn, stan, time.Now())
			m.AcquirerID = o.AcquirerID
			resp, err := c.exchange(mc, m)
			if err == nil && resp.ResponseCode != iso.RCApproved {
				err = fmt.Errorf("answered %s", resp.ResponseCode)
			}
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("bench: sign-on at %s: %w", addr, err)
			}
		}
	}
	return c, nil
}

// Send exchanges one message on the next connection, round robin.
func (c *ISOClient) Send(m *iso.Message) (*iso.Message, error) {
	return c.exchange(c.conns[c.rr.Add(1)%uint64(len(c.conns))], m)
}

func (c *ISOClient) exchange(mc *connection.Connection, m *iso.Message) (*iso.Message, error) {
	im, err := c.codec.Build(m)
	if err != nil {
		return nil, Fail("pack", err)
	}
	resp, err := mc.Send(im)
	switch {
	case errors.Is(err, connection.ErrSendTimeout):
		return nil, Fail("timeout", err)
	case err != nil:
		return nil, Fail("send", err)
	}
	r, err := c.codec.Parse(resp)
	if err != nil {
		return nil, Fail("unpack", err)
	}
	return r, nil
}

// Authorizations is the ISO scenario's target: one 0100 of amount per
// call; anything but an approval (00) is an error of kind "rc_<DE39>".
func (c *ISOClient) Authorizations(amount int64) Target {
	return func(ctx context.Context, _ int) (string, error) {
		m := Authorization(c.o.AcquirerID, amount, time.Now())
		m.STAN, m.RRN = c.nums.Next()
		resp, err := c.Send(m)
		if err != nil {
			return "authorization", err
		}
		if resp.ResponseCode != iso.RCApproved {
			return "authorization", Failf("rc_"+resp.ResponseCode, "answered %s", resp.ResponseCode)
		}
		return "authorization", nil
	}
}

// Close closes every connection.
func (c *ISOClient) Close() error {
	var errs []error
	for _, mc := range c.conns {
		errs = append(errs, mc.Close())
	}
	return errors.Join(errs...)
}

// EchoServer is the reference limit's far end: a moov-io/iso8583-connection
// server that answers each request at once with its own fields, the MTI
// turned into the response and DE39 00. Nothing is looked up, nothing
// stored: what remains is framing, packing, unpacking and the loopback
// socket, the floor under any switch built on the same library.
type EchoServer struct {
	srv *server.Server
}

// StartEcho listens on a loopback port in dialect.
func StartEcho(dialect string) (*EchoServer, error) {
	codec, err := iso.LoadCodec(dialect)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	srv := server.New(codec.Spec(), codec.ReadLength, codec.WriteLength,
		connection.SetRequestIDGenerator(iso.MatchKeyGenerator{}),
		connection.IdleTime(time.Hour),
		connection.InboundMessageHandler(func(mc *connection.Connection, im *iso8583.Message) {
			mti, err := im.GetMTI()
			if err != nil || iso.IsResponse(mti) {
				return
			}
			im.MTI(iso.ResponseMTI(mti))
			if err := im.Field(39, iso.RCApproved); err != nil {
				return
			}
			_ = mc.Reply(im) // a dead client is the client's error to report
		}),
	)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("bench: echo server: %w", err)
	}
	return &EchoServer{srv: srv}, nil
}

// Addr is the echo server's host:port.
func (e *EchoServer) Addr() string { return e.srv.Addr }

// Close stops the server and its connections.
func (e *EchoServer) Close() { e.srv.Close() }
