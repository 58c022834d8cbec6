package paylinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/keylock"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/throttle"
)

// bucketLinks holds code → Link as JSON; bucketOrders code, 0, order id →
// nothing: the orders paid through each link, in order (order ids are
// UUIDv7, which sort by time). Both are listed with the data file's
// buckets in switch/journal's doc.
var (
	bucketLinks  = order.BucketPaymentLinks
	bucketOrders = []byte("payment_links.orders")
)

// Errors.
var (
	ErrNotFound = errors.New("paylinks: no such payment link")
	// ErrNotPayable is a link expired, switched off or (one-time) paid.
	ErrNotPayable = errors.New("paylinks: the link cannot be paid")
	// ErrBeingPaid is a one-time link another buyer is paying now (3-D
	// Secure or the bank): the buyer may try again once that is decided.
	ErrBeingPaid = errors.New("paylinks: the invoice is being paid right now")
)

// Orders registers and reads orders (the payments service).
type Orders interface {
	Register(ctx context.Context, r payments.RegisterRequest) (*payments.Result, error)
	Get(ctx context.Context, id string) (*order.Order, error)
	Decline(ctx context.Context, r payments.FollowUpRequest) (*payments.Result, error)
}

// Queue takes an invoice e-mail inside the link's commit (saf.Queue).
type Queue interface {
	EnqueueTx(tx *bolt.Tx, it saf.Item) (uint64, error)
}

// Sender sends a message (mailer.Mailer).
type Sender interface {
	Send(ctx context.Context, msg mailer.Message) error
}

// Shop is what a link's page shows of its merchant.
type Shop struct {
	Name, Site string
}

// Shops says what the page shows of a merchant; false for one unknown.
type Shops func(merchant string) (Shop, bool)

// Deps are what the service works with. Queue and Mail may be nil: then
// invoices are not e-mailed.
type Deps struct {
	Journal *journal.Journal
	Orders  Orders
	Shops   Shops
	Queue   Queue
	Mail    Sender
	// PublicURL is the switch's address on the merchants' port, where the
	// links' pages are.
	PublicURL string
	Log       zerolog.Logger
	Now       func() time.Time
}

// Config is the links' own settings.
type Config struct {
	// Orders bounds the new orders one client network (an IPv4 address,
	// an IPv6 /64) may make through links' pages: anyone may open a
	// reusable link, so without it a bot could make orders without end
	// (each one journaled) and use them to test stolen cards. Past it the
	// buyer is told to wait. Default 10 a minute, 5 at once.
	Orders throttle.Config `yaml:"orders_per_address"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Orders: throttle.Config{PerMinute: 10, Burst: 5}} }

// Validate names the key that is wrong.
func (c Config) Validate() error {
	if err := c.Orders.Validate("orders_per_address"); err != nil {
		return fmt.Errorf("payment_links: %w", err)
	}
	return nil
}

// Service keeps the links and pays through them.
type Service struct {
	d    Deps
	base string
	// orders are the new orders made through links' pages by client
	// network (Config.Orders).
	orders *throttle.Limiter
	// links keeps two buyers of one one-time link from registering two
	// orders at once, and a switch-off from racing a buyer, link by link:
	// one link's buyer, however long their order takes, never holds
	// another link's.
	links keylock.Mutexes
}

// New builds the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Journal == nil || d.Orders == nil || d.Shops == nil {
		return nil, errors.New("paylinks: journal, orders and shops are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Orders.Unset() {
		def := DefaultConfig().Orders
		cfg.Orders.PerMinute, cfg.Orders.Burst = def.PerMinute, def.Burst
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	orders, err := throttle.New(cfg.Orders, d.Now)
	if err != nil {
		return nil, fmt.Errorf("payment_links: orders_per_address: %w", err)
	}
	return &Service{d: d, base: strings.TrimRight(d.PublicURL, "/"), orders: orders}, nil
}

// URL is the link's short address.
func (s *Service) URL(code string) string { return s.base + Prefix + code }

// QueueKey is the store-and-forward queue of a merchant's invoice mails.
func QueueKey(merchant string) string { return "invoice:" + merchant }

// Create stores a new link for l.Merchant (Code, CreatedAt and defaults
// are set here) and, when it names a buyer's e-mail and mail is set up,
// queues the invoice mail in the same commit. Input errors are
// FieldErrors.
func (s *Service) Create(ctx context.Context, l Link) (*Link, error) {
	return s.CreateWith(ctx, l, nil)
}

// CreateWith is Create committing with the link what with makes of it,
// once its code and creation time are set (with nil: nothing): the API's
// answer and its idempotency receipt, so that a crash cannot keep the
// link and lose the receipt, and a retry with the same key make a second
// link. with may run more than once (a code taken is drawn again).
func (s *Service) CreateWith(ctx context.Context, l Link, with func(*Link) (payments.Record, error)) (*Link, error) {
	now := s.d.Now().UTC()
	if l.Currency == "" {
		l.Currency = "398"
	}
	if l.Language == "" {
		l.Language = "ru"
	}
	if err := l.Validate(now); err != nil {
		return nil, err
	}
	if _, ok := s.d.Shops(l.Merchant); !ok {
		return nil, bad("merchant", "unknown merchant")
	}
	l.Code, l.CreatedAt, l.OrderCount, l.DisabledAt = newCode(), now, 0, time.Time{}
	if !l.ExpiresAt.IsZero() {
		l.ExpiresAt = l.ExpiresAt.UTC()
	}
	mail := l.Email != "" && s.d.Queue != nil && s.d.Mail != nil
	var rec payments.Record
	if with != nil {
		var err error
		if rec, err = with(&l); err != nil {
			return nil, err
		}
	}
	err := s.write(ctx, &l, rec.Entries, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketLinks).Get([]byte(l.Code)) != nil {
			return errCollision
		}
		if rec.Put != nil {
			if err := rec.Put(tx); err != nil {
				return err
			}
		}
		if !mail {
			return nil
		}
		p, _ := json.Marshal(mailJob{Code: l.Code})
		_, err := s.d.Queue.EnqueueTx(tx, saf.Item{Queue: QueueKey(l.Merchant), Kind: order.KindInvoiceMail, Payload: p})
		return err
	})
	if errors.Is(err, errCollision) { // 59 bits: never, but never twice
		return s.CreateWith(ctx, l, with)
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

var errCollision = errors.New("paylinks: code taken")

// write stores l with a journal entry holding it, followed by more, and
// runs also in the same transaction.
func (s *Service) write(ctx context.Context, l *Link, more []journal.Entry, also func(tx *bolt.Tx) error) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	e := journal.Entry{Direction: journal.Internal, Channel: order.ChannelPaymentLink, Payload: b}
	_, err = s.d.Journal.AppendTx(ctx, append([]journal.Entry{e}, more...), func(tx *bolt.Tx, _ []uint64) error {
		bk, err := tx.CreateBucketIfNotExists(bucketLinks)
		if err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		return bk.Put([]byte(l.Code), b)
	})
	if err != nil && !errors.Is(err, errCollision) {
		return fmt.Errorf("paylinks: %s: %w", l.Code, err)
	}
	return err
}

// Get reads a link; merchant, when not empty, must own it (another
// merchant's link does not exist for it).
func (s *Service) Get(merchant, code string) (*Link, error) {
	if !validCode(code) {
		return nil, ErrNotFound
	}
	var l Link
	err := s.d.Journal.DB().View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLinks)
		if b == nil {
			return ErrNotFound
		}
		v := b.Get([]byte(code))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &l)
	})
	if err != nil {
		return nil, err
	}
	if merchant != "" && l.Merchant != merchant {
		return nil, ErrNotFound
	}
	return &l, nil
}

// List is a merchant's links, newest first.
func (s *Service) List(merchant string) ([]*Link, error) {
	var out []*Link
	err := s.d.Journal.DB().View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLinks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var l Link
			if err := json.Unmarshal(v, &l); err != nil {
				return err
			}
			if l.Merchant == merchant {
				out = append(out, &l)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

// Disable switches a link off for good; disabling one already off changes
// nothing.
func (s *Service) Disable(ctx context.Context, merchant, code string) (*Link, error) {
	defer s.links.Lock(code)()
	l, err := s.Get(merchant, code)
	if err != nil || !l.DisabledAt.IsZero() {
		return l, err
	}
	l.DisabledAt = s.d.Now().UTC()
	if err := s.write(ctx, l, nil, nil); err != nil {
		return nil, err
	}
	// Its orders still waiting for a card close too: a buyer who opened
	// the link before it was switched off must not pay it after (the shop
	// switched it off because it was paid some other way). One whose card
	// is being paid right now is left to its outcome (OnlyWaiting: the
	// link's lock is held, and waiting for a bank exchange here would hold
	// its buyers).
	ids, err := s.OrderIDs(l.Code, maxOpenOrders)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if o, err := s.d.Orders.Get(ctx, id); err == nil && o.Status == order.StatusRegistered {
			_, err := s.d.Orders.Decline(ctx, payments.FollowUpRequest{OrderID: id, Merchant: l.Merchant, OnlyWaiting: true})
			switch {
			case errors.Is(err, payments.ErrInProgress):
				s.d.Log.Warn().Str("link", l.Code).Str("order", id).Msg("payment link switched off while an order of it is being paid: that payment goes on")
			case err != nil:
				return nil, fmt.Errorf("paylinks: %s: close order %s: %w", l.Code, id, err)
			}
		}
	}
	return l, nil
}

// openOrder is a one-time link's order still open that the buyer (amount,
// email, name, params) may take over, nil when there is none or when it
// was another buyer's, or theirs with other details (theirs: the order
// their browser was sent to), and is now closed (Pay makes a new one).
func (s *Service) openOrder(ctx context.Context, l *Link, theirs string, amount int64, email, name string, params map[string]string) (*order.Order, error) {
	last, err := s.OrderIDs(l.Code, 1)
	if err != nil || len(last) == 0 {
		return nil, err
	}
	o, err := s.d.Orders.Get(ctx, last[0])
	if err != nil {
		return nil, nil // gone: a new one
	}
	waiting := o.Status == order.StatusRegistered && o.ExpiresAt.After(s.d.Now())
	if !waiting && o.Status != order.Status3DS {
		return nil, nil
	}
	if o.Amount == amount && strings.EqualFold(o.Email, email) && o.Customer == name && maps.Equal(o.Params, params) {
		return o, nil
	}
	if !waiting || o.ID != theirs && s.d.Now().Sub(o.CreatedAt) < keepForBuyer {
		return nil, ErrBeingPaid
	}
	// Closed only if nobody is paying it at this very moment: the link's
	// lock is held, and a Decline waiting for the order's lock would hold
	// its buyers for the length of a bank exchange.
	_, err = s.d.Orders.Decline(ctx, payments.FollowUpRequest{OrderID: o.ID, Merchant: l.Merchant, OnlyWaiting: true})
	if err == nil {
		return nil, nil
	}
	cur, gerr := s.d.Orders.Get(ctx, o.ID)
	switch {
	case gerr == nil && cur.Status == order.StatusDeclined:
		return nil, nil // it ended meanwhile
	case errors.Is(err, payments.ErrInProgress):
		if st, err := s.State(ctx, l); err == nil && st == Paid {
			return nil, ErrNotPayable
		}
		return nil, ErrBeingPaid
	}
	return nil, fmt.Errorf("paylinks: %s: close order %s for another buyer: %w", l.Code, o.ID, err)
}

// keepForBuyer is how long a one-time link's order stays its buyer's
// before another buyer may close it: the first one is most likely typing
// the card in, and two buyers must not take the invoice from each other in
// turn.
const keepForBuyer = 5 * time.Minute

// maxOpenOrders bounds the orders Disable looks at: the newest, which are
// the only ones still within an order's lifetime (orderLifetime).
const maxOpenOrders = 100

// orderLifetime is how long a link's order waits for its buyer on the
// card page, as any order does; an invoice's pay-by date shortens it,
// never lengthens it (an order open for weeks would outlive a switch-off
// and keep a 3-D Secure attempt's CVV2 in memory that long).
const orderLifetime = 20 * time.Minute

// State is the link's state now, reading its orders for a one-time one.
func (s *Service) State(ctx context.Context, l *Link) (State, error) {
	paid := false
	if l.OneTime {
		ids, err := s.OrderIDs(l.Code, 0)
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			o, err := s.d.Orders.Get(ctx, id)
			if err != nil && !errors.Is(err, order.ErrNotFound) {
				return "", err
			}
			if err == nil && o.AuthOp() != nil {
				paid = true
			}
		}
	}
	return l.StateAt(s.d.Now(), paid), nil
}

// Buyer is what the buyer filled in on the link's page.
type Buyer struct {
	Amount      int64 // for a link whose buyer chooses it
	Email, Name string
	// Fields are the answers to the link's custom fields, by name.
	Fields map[string]string
	// Order is the order this link sent the buyer's browser to before (the
	// page's cookie), if any: a buyer correcting their own details gets a
	// new order at once rather than waiting for keepForBuyer.
	Order string
	// Address is the buyer's (clientip.Host): a new order counts against
	// its network's limit (Config.Orders). Empty: not counted.
	Address string
}

// ThrottledError is Pay refusing a new order because the buyer's network
// made too many: RetryAfter says when one more may be made.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("paylinks: too many orders from this network; retry in %s", e.RetryAfter.Round(time.Second))
}

// Pay registers an order through the link for buyer and returns it. A
// one-time link never has two payments under way: its order still open is
// returned again to the same buyer (the same amount, e-mail, name and
// answers: a second tab, a second device). Another buyer does not get
// that order, which carries the first one's details (a receipt would go to
// the first buyer's e-mail): an order waiting for its card longer than
// keepForBuyer, or the buyer's own (Buyer.Order) with details they
// corrected, is closed and a new one made; a younger one, or one being
// paid (3-D Secure, the bank), is ErrBeingPaid. Refusals: ErrNotFound,
// ErrNotPayable, ErrBeingPaid, FieldErrors on the buyer's fields, and
// *ThrottledError when a new order would pass the limit of the buyer's
// network (an order handed back is not a new one).
func (s *Service) Pay(ctx context.Context, code string, b Buyer) (*order.Order, error) {
	defer s.links.Lock(code)()
	l, err := s.Get("", code)
	if err != nil {
		return nil, err
	}
	st, err := s.State(ctx, l)
	if err != nil {
		return nil, err
	}
	if st != Active {
		return nil, ErrNotPayable
	}
	amount, email, name := l.Amount, l.Email, l.Name
	if amount == 0 {
		if b.Amount < l.MinAmount || b.Amount > l.MaxAmount {
			return nil, bad("amount", "must be between %s and %s", formatAmount(l.MinAmount, l.Currency), formatAmount(l.MaxAmount, l.Currency))
		}
		amount = b.Amount
	}
	if l.AskEmail {
		if !validEmail(b.Email) {
			return nil, bad("email", "must be an e-mail address")
		}
		email = b.Email
	}
	if l.AskName {
		if strings.TrimSpace(b.Name) == "" || !validText(b.Name, MaxName) {
			return nil, bad("name", "is required, at most %d printable characters", MaxName)
		}
		name = strings.TrimSpace(b.Name)
	}
	params := map[string]string{ParamLink: l.Code}
	for _, f := range l.Fields {
		v := strings.TrimSpace(b.Fields[f.Name])
		if (f.Required && v == "") || !validText(v, MaxFieldValue) {
			return nil, bad(f.Name, "is required, at most %d printable characters", MaxFieldValue)
		}
		if v != "" {
			params[f.Name] = v
		}
	}
	if l.OneTime && l.OrderCount > 0 {
		o, err := s.openOrder(ctx, l, b.Order, amount, email, name, params)
		if o != nil || err != nil {
			return o, err
		}
	}
	ret := l.ReturnURL
	if ret == "" {
		if shop, _ := s.d.Shops(l.Merchant); shop.Site != "" {
			ret = shop.Site
		} else {
			ret = s.URL(l.Code)
		}
	}
	req := payments.RegisterRequest{
		Merchant: l.Merchant, Amount: amount, Currency: l.Currency,
		Description: l.Description, Cart: l.Cart, Email: email, Customer: name, Language: l.Language,
		ReturnURL: ret, Params: params, TwoStage: l.TwoStage,
	}
	registered := false
	if b.Address != "" {
		ticket, wait, ok := s.orders.Take(b.Address)
		if !ok {
			return nil, &ThrottledError{RetryAfter: wait}
		}
		defer func() {
			if !registered {
				ticket.Return() // no order was made
			}
		}()
	}
	req.Lifetime = orderLifetime
	if !l.ExpiresAt.IsZero() {
		// An invoice's order ends with its pay-by deadline, not later.
		req.Lifetime = min(orderLifetime, l.ExpiresAt.Sub(s.d.Now()))
	}
	// The order is on disk before the link counts it: a crash between the
	// two leaves an order nobody pays, which expires, and its number taken,
	// so the next one takes the number after it.
	var res *payments.Result
	for tries := 0; ; tries++ {
		req.Number = l.Code + "-" + strconv.Itoa(l.OrderCount+1)
		res, err = s.d.Orders.Register(ctx, req)
		if errors.Is(err, order.ErrDuplicateNumber) && tries < 10 {
			l.OrderCount++
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	registered = true
	l.OrderCount++
	// The order is made whether or not the buyer is still there: the link
	// records it on the switch's own context, or its count falls behind
	// the orders' numbers.
	err = s.write(context.WithoutCancel(ctx), l, nil, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketOrders)
		if err != nil {
			return err
		}
		return b.Put(orderKey(l.Code, res.Order.ID), nil)
	})
	if err != nil {
		return nil, err
	}
	return res.Order, nil
}

func orderKey(code, orderID string) []byte { return []byte(code + "\x00" + orderID) }

// OrderIDs are the ids of the last max orders paid through a link (all
// when max is 0), oldest first.
func (s *Service) OrderIDs(code string, max int) ([]string, error) {
	var ids []string
	prefix := orderKey(code, "")
	err := s.d.Journal.DB().View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOrders)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		// From the end of the link's keys backwards: the newest first.
		k, _ := c.Seek(append(append([]byte(nil), prefix[:len(prefix)-1]...), 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && (max == 0 || len(ids) < max); k, _ = c.Prev() {
			ids = append(ids, string(k[len(prefix):]))
		}
		return nil
	})
	slices.Reverse(ids)
	return ids, err
}

// formatAmount is minor units as the buyer reads them: 1500.50 ₸.
func formatAmount(minor int64, currency string) string {
	sign := currencies[currency].sign
	return fmt.Sprintf("%d.%02d %s", minor/100, minor%100, sign)
}

// parseAmount reads an amount the buyer typed ("1500", "1500.5",
// "1 500,50") into minor units.
func parseAmount(s string) (int64, bool) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", ",", ".").Replace(strings.TrimSpace(s))
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 12 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, false
	}
	var f int64
	if frac != "" {
		for len(frac) < 2 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return w*100 + f, true
}
