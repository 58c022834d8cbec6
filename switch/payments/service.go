package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/switch/keylock"
	"github.com/tulpar-switch/tulpar/switch/order"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Banks is what the flows need of the bank links.
type Banks interface {
	// Send exchanges one message with a bank; its errors wrap
	// links.ErrNotSent (safe to try elsewhere) or links.ErrNoReply
	// (outcome unknown: reverse).
	Send(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error)
	Ready(bank string) bool
	// Codec is the bank's dialect, for journaling the bytes.
	Codec(bank string) (*iso.Codec, bool)
}

// Router picks the bank of a new authorization.
type Router interface {
	Route(p routing.Payment, ready func(bank string) bool) (routing.Decision, error)
}

// Vault protects card data; hsm.Module satisfies it.
type Vault interface {
	EncryptPAN(ctx context.Context, pan string) ([]byte, error)
	DecryptPAN(ctx context.Context, ciphertext []byte) (string, error)
	TokenizePAN(ctx context.Context, pan string) (string, error)
}

// Queue is the store-and-forward queue.
type Queue interface {
	EnqueueTx(tx *bolt.Tx, it saf.Item) (uint64, error)
	Notify(bank string)
	// Kick tries the bank's queue now, even inside its retry backoff.
	Kick(bank string)
}

// Listener hears about every committed change of an order (callbacks to
// the merchant subscribe). It must not block.
type Listener func(o *order.Order, op *order.Operation)

// Deps are the Service's collaborators.
type Deps struct {
	Journal *journal.Journal
	Banks   Banks
	Router  Router
	Vault   Vault
	SAF     Queue
	ThreeDS Authenticator // nil: no 3-D Secure (every card proceeds at ECI 07)
	Log     zerolog.Logger
	Now     func() time.Time
	// OnChange, when set, is called after each committed change.
	OnChange Listener
	// InTx, when set, runs inside the transaction of every change (the
	// merchant-callback queue enqueues there, so a committed change
	// cannot lose its callback). It must only touch tx and not block.
	InTx func(tx *bolt.Tx, o *order.Order, op *order.Operation) error
}

// Service runs the payment flows.
type Service struct {
	cfg       Config
	d         Deps
	store     *Store
	merchants map[string]*Merchant
	de43      map[string]string         // merchant id → DE43, formatted once
	zones     map[string]*time.Location // merchant id → its time zone, for DE12/DE13
	banks     map[string]BankProfile
	stans     map[string]*iso.STANs
	rrns      map[iso.RRNFormat]*iso.RRNs
	// locks serialises the operations on one order; different orders
	// run in parallel.
	locks keylock.Mutexes
	// cvv2 holds CVV2s between card entry and the authorization that
	// follows a 3-D Secure challenge: in memory only, never on disk.
	cvvMu sync.Mutex
	cvv2  map[string]heldCVV
	// changed holds, per order someone waits on, a channel closed at the
	// order's next committed change.
	changedMu sync.Mutex
	changed   map[string]chan struct{}
	recent    recentExchanges
	// limbo holds, per order, the outcomes the journal could not record
	// (unrecorded.go).
	limboMu sync.Mutex
	limbo   map[string]*unrecorded
	// settings are the merchants' own (settings.go).
	settings settingsCache
}

type heldCVV struct {
	value   string
	expires time.Time
}

// New returns a Service over the journal's bbolt file.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Journal == nil || d.Banks == nil || d.Router == nil || d.Vault == nil || d.SAF == nil {
		return nil, errors.New("payments: Journal, Banks, Router, Vault and SAF are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	store, err := NewStore(d.Journal.DB())
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, d: d, store: store,
		merchants: map[string]*Merchant{}, de43: map[string]string{}, zones: map[string]*time.Location{}, banks: map[string]BankProfile{}, stans: map[string]*iso.STANs{},
		cvv2: map[string]heldCVV{}, changed: map[string]chan struct{}{}, limbo: map[string]*unrecorded{},
	}
	for i := range cfg.Merchants {
		m := &cfg.Merchants[i]
		s.merchants[m.ID] = m
		s.de43[m.ID] = merchantName(m)
		if s.zones[m.ID], err = loadZone(m.TimeZone); err != nil {
			return nil, fmt.Errorf("payments: merchant %s: time_zone: %w", m.ID, err)
		}
	}
	// STANs restart from the clock so that a restart within the day does
	// not reuse the last session's numbers; RRNs, which must be unique,
	// are reserved durably.
	seed := uint32(d.Now().Unix() % 999999)
	for _, b := range cfg.Banks {
		s.banks[b.Name] = b
		s.stans[b.Name] = iso.NewSTANs(seed)
	}
	// Late answers come within a few exchange timeouts, or not at all. Four
	// (a minute at the default 15 s) also lets the window fill within the
	// first minute of load and stay level after. At ten it grew for 150 s
	// and held 11.8 MB at the end of ten minutes at 600 operations a
	// second, at four 5.9 MB (heap profiles; README, "The disk's floor").
	s.recent.window = recentWindow * cfg.ExchangeTimeout
	if s.rrns, err = s.newRRNs(); err != nil {
		return nil, err
	}
	if err := s.settings.load(d.Journal.DB()); err != nil {
		return nil, fmt.Errorf("payments: merchant settings: %w", err)
	}
	return s, nil
}

// Store returns the order store for readers (API, cabinet, auditors).
func (s *Service) Store() *Store { return s.store }

// Merchant returns a configured merchant.
func (s *Service) Merchant(id string) (*Merchant, bool) {
	m, ok := s.merchants[id]
	return m, ok
}

// Merchants returns the configured merchants, in the config's order.
func (s *Service) Merchants() []Merchant { return append([]Merchant(nil), s.cfg.Merchants...) }

// Zone is a merchant's time zone (its local time on the wire and in the
// cabinet); an unknown merchant's is the default, Asia/Almaty.
func (s *Service) Zone(merchant string) *time.Location {
	if z, ok := s.zones[merchant]; ok {
		return z
	}
	z, _ := loadZone("")
	return z
}

// RegisterRequest is a merchant's new order.
type RegisterRequest struct {
	Merchant    string
	Number      string
	Amount      int64
	Currency    string // ISO 4217 numeric; default 398
	Description string
	Cart        []order.CartItem
	Email       string
	Customer    string
	Language    string
	ReturnURL   string
	FailURL     string
	Params      map[string]string
	// Shop is what the merchant sent for its own records (kept as is).
	Shop     *order.MerchantData
	TwoStage bool
	// Registration makes the order a card registration: a verification
	// hold (two-stage), whose card the merchant keeps or not afterwards
	// (CompleteRegistration).
	Registration bool
	// CardID pays the order with the merchant's stored card (RBS
	// bindingId, Processing.kz cardId): the order holds the card from the
	// start, and the buyer confirms with the CVV2 alone. Refusals are
	// InputErrors on "cardId" wrapping order.ErrNoCard, ErrCardUnbound,
	// ErrCardExpired or ErrCardOwner.
	CardID string
	// Lifetime overrides the configured order lifetime when positive.
	Lifetime time.Duration
	// Phone is the buyer's (E.164); CallbackURL this order's callback
	// address in place of the merchant's (the caller checks it is allowed).
	Phone, CallbackURL string
	// SameAgain answers a registration identical to an order still
	// waiting for payment (number, amount, currency, return URL, stages)
	// with that order, as a replay: RBS plugins retry register.do after a
	// lost answer. Without it the number is a duplicate.
	SameAgain bool
	Reply     Reply
}

// Register creates an order awaiting payment.
func (s *Service) Register(ctx context.Context, r RegisterRequest) (*Result, error) {
	ctx = detach(ctx)
	if _, ok := s.merchants[r.Merchant]; !ok {
		return nil, &order.InputError{Field: "merchant", Reason: "unknown merchant"}
	}
	if r.Number == "" || len(r.Number) > 36 {
		return nil, &order.InputError{Field: "orderNumber", Reason: "must be 1 to 36 characters"}
	}
	if r.Amount <= 0 {
		return nil, &order.InputError{Field: "amount", Reason: "must be a positive number of minor units"}
	}
	if r.Currency == "" {
		r.Currency = iso.CurrencyKZT
	}
	if len(r.Currency) != 3 || !isDigits(r.Currency) {
		return nil, &order.InputError{Field: "currency", Reason: "must be an ISO 4217 numeric code such as 398"}
	}
	switch r.Language {
	case "":
		r.Language = "ru"
	case "ru", "kk", "en":
	default:
		return nil, &order.InputError{Field: "language", Reason: "must be ru, kk or en"}
	}
	if hosts := s.Settings(r.Merchant).ReturnHosts; !hostAllowed(hosts, r.ReturnURL) {
		return nil, &order.InputError{Field: "returnUrl", Reason: "host not among the merchant's allowed return hosts"}
	} else if !hostAllowed(hosts, r.FailURL) {
		return nil, &order.InputError{Field: "failUrl", Reason: "host not among the merchant's allowed return hosts"}
	}
	now := s.d.Now().UTC()
	var card *order.Card
	switch {
	case r.Registration && r.CardID != "":
		return nil, &order.InputError{Field: "cardId", Reason: "a card registration cannot be paid with a registered card"}
	case r.Registration:
		r.TwoStage = true
	case r.CardID != "":
		reg, err := s.storedCard(r.Merchant, r.CardID, now)
		if err != nil {
			return nil, err
		}
		// A stored card is its customer's: an order of another customer
		// cannot be paid with it, and an order that names none is that
		// customer's.
		if r.Customer != "" && reg.Stored.ClientID != "" && r.Customer != reg.Stored.ClientID {
			return nil, &order.InputError{Field: "cardId", Reason: order.ErrCardOwner.Error(), Err: order.ErrCardOwner}
		}
		if r.Customer == "" {
			r.Customer = reg.Stored.ClientID
		}
		c := *reg.Card
		c.Ciphertext = append([]byte(nil), reg.Card.Ciphertext...)
		c.Expiry = reg.StoredExpiry()
		card = &c
	}
	life := s.cfg.OrderLifetime
	if r.Lifetime > 0 {
		life = r.Lifetime
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("payments: order id: %w", err)
	}
	o := &order.Order{
		ID: id.String(), Merchant: r.Merchant, Number: r.Number, Description: r.Description,
		Cart: r.Cart, Email: r.Email, Customer: r.Customer, Language: r.Language,
		ReturnURL: r.ReturnURL, FailURL: r.FailURL, Params: r.Params, Shop: r.Shop, TwoStage: r.TwoStage,
		Amount: r.Amount, Currency: r.Currency, CreatedAt: now, ExpiresAt: now.Add(life),
		Status: order.StatusRegistered, Ops: []order.Operation{}, Card: card, StoredCard: r.CardID,
		Phone: r.Phone, CallbackURL: r.CallbackURL,
	}
	if r.Registration {
		o.Registration = &order.Registration{}
	}
	rp := newReply(r.Reply)
	err = s.commit(ctx, change{o: o, reply: rp, final: true})
	if errors.Is(err, order.ErrDuplicateNumber) && r.SameAgain {
		prev, perr := s.store.ByNumber(r.Merchant, r.Number)
		if perr == nil && prev.Status == order.StatusRegistered && prev.Amount == r.Amount &&
			prev.Currency == r.Currency && prev.ReturnURL == r.ReturnURL && prev.TwoStage == r.TwoStage &&
			prev.StoredCard == r.CardID && (prev.Registration != nil) == r.Registration {
			return rp.replay(prev, nil), nil
		}
	}
	if err != nil {
		return nil, err
	}
	return rp.result(o, nil), nil
}

// storedCard returns the order holding a merchant's stored card when the
// card can pay at now: refusals are InputErrors on "cardId" (the
// Processing.kz name; the RBS facade names it bindingId).
func (s *Service) storedCard(merchant, cardID string, now time.Time) (*order.Order, error) {
	reg, err := s.store.ByCard(merchant, cardID)
	if errors.Is(err, order.ErrNotFound) {
		return nil, &order.InputError{Field: "cardId", Reason: "no card is registered under this id", Err: order.ErrNoCard}
	} else if err != nil {
		return nil, err
	}
	if err := order.CheckStoredCard(reg, "cardId", now); err != nil {
		var in *order.InputError
		if errors.As(err, &in) && errors.Is(err, order.ErrCardExpired) {
			in.Reason = "the registered card has expired"
		}
		return nil, err
	}
	return reg, nil
}

// Get returns an order, expiring it first if its lifetime has ended. A
// read never waits for an operation under way on the order: a payment
// whose lifetime ran out at the bank holds the order's lock for as long
// as the exchange takes, and a status call, a link's page or a cabinet
// list must not hang on it. The order is then returned as stored; that
// operation's outcome, or a later read, settles it.
func (s *Service) Get(ctx context.Context, id string) (*order.Order, error) {
	o, err := s.store.Get(id)
	if err != nil {
		return nil, err
	}
	if !order.Expired(o, s.d.Now()) {
		return o, nil
	}
	unlock, ok := s.locks.TryLock(id)
	if !ok {
		return o, nil
	}
	defer unlock()
	if o, err = s.store.Get(id); err != nil {
		return nil, err
	}
	return s.expireLocked(ctx, o)
}

// ByNumber returns an order by merchant order number, expiring it if due.
func (s *Service) ByNumber(ctx context.Context, merchant, number string) (*order.Order, error) {
	o, err := s.store.ByNumber(merchant, number)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, o.ID)
}

func (s *Service) expire(ctx context.Context, id string) (*order.Order, error) {
	unlock := s.locks.Lock(id)
	defer unlock()
	o, err := s.store.Get(id)
	if err != nil {
		return nil, err
	}
	return s.expireLocked(ctx, o)
}

// expireLocked declines o if its lifetime has ended; the caller holds the
// order's lock.
func (s *Service) expireLocked(ctx context.Context, o *order.Order) (*order.Order, error) {
	now := s.d.Now()
	if !order.Expired(o, now) {
		return o, nil
	}
	n := o.Clone()
	order.ApplyExpire(n)
	n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: order.OpExpire, Status: order.OpDeclined, Time: now.UTC(), ActionCode: order.ActionExpired})
	s.forgetCVV(o.ID)
	if err := s.commit(ctx, change{o: n, prev: o.Version}); err != nil {
		return nil, err
	}
	return n, nil
}

// ExpireDue declines every unpaid order whose lifetime has ended. The
// daemon calls it periodically; reads expire lazily in between.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	ids, err := s.store.expiredIDs(s.d.Now())
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := s.expire(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// change is one durable step of a flow: the order's new state, successor
// of version prev; the journal entries that explain it; the advices to
// queue with it; and, through reply, the caller's request (with the flow's
// first change) and answer (with its final one).
type change struct {
	o       *order.Order
	prev    uint64
	entries []journal.Entry
	items   []queued
	reply   *reply
	final   bool
}

// commit makes c durable: the order, its journal entries, the queued
// advices, the caller's request and answer and the merchant-callback queue
// in one bbolt transaction and one fsync. The order's new state is itself
// a journal entry, which is what makes the journal alone enough to rebuild
// every order.
func (s *Service) commit(ctx context.Context, c change) error {
	o := c.o
	o.Version = c.prev + 1
	o.UpdatedAt = s.d.Now().UTC()
	data, err := order.Encode(o)
	if err != nil {
		return fmt.Errorf("payments: encode order %s: %w", o.ID, err)
	}
	if checkEncoded != nil {
		checkEncoded(o, data)
	}
	its, err := s.safItems(o, c.items)
	if err != nil {
		return err
	}
	stored := order.StoreValue(data)
	all := make([]journal.Entry, 0, len(c.entries)+3)
	all = append(all, c.reply.requestEntry(o)...)
	for _, e := range c.entries {
		if e.OrderID == "" {
			e.OrderID = o.ID
		}
		all = append(all, e)
	}
	all = append(all, journal.Entry{Direction: journal.Internal, Channel: order.ChannelState, OrderID: o.ID, Payload: data})
	if c.final {
		// The answer reports the state: it follows it in the journal.
		all = append(all, c.reply.answerEntry(o)...)
	}
	now := s.d.Now()
	_, err = s.d.Journal.AppendTx(ctx, all, func(tx *bolt.Tx, _ []uint64) error {
		if err := putOrder(tx, s.store.cache, o, stored, c.prev); err != nil {
			return err
		}
		for _, it := range its {
			if _, err := s.d.SAF.EnqueueTx(tx, it); err != nil {
				return err
			}
		}
		if c.final {
			if err := c.reply.store(tx, o, now); err != nil {
				return err
			}
		}
		if s.d.InTx != nil && len(o.Ops) > 0 {
			return s.d.InTx(tx, o, &o.Ops[len(o.Ops)-1])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("payments: commit order %s: %w", o.ID, storageErr(err))
	}
	// Before anyone waiting on the change reads it, and before the flow
	// changes o again.
	s.store.cache.committed(o, stored)
	c.reply.committed(c.final)
	for _, q := range c.items {
		s.d.SAF.Notify(q.bank)
	}
	s.changedMu.Lock()
	if ch, ok := s.changed[o.ID]; ok {
		close(ch)
		delete(s.changed, o.ID)
	}
	s.changedMu.Unlock()
	if s.d.OnChange != nil && len(o.Ops) > 0 {
		s.d.OnChange(o, &o.Ops[len(o.Ops)-1])
	}
	return nil
}

// checkEncoded, when set (by the package's tests), checks each order's
// encoding against json.Marshal's.
var checkEncoded func(o *order.Order, data []byte)

// storageErr marks the journal's disk failures with ErrStorage: nothing of
// what was being written is on disk, and the merchant may retry. A data
// file the journal could not open again is one of them.
func storageErr(err error) error {
	if errors.Is(err, ErrStorage) {
		return err
	}
	if errors.Is(err, journal.ErrCommit) || errors.Is(err, journal.ErrOutcomeUnknown) || errors.Is(err, journal.ErrClosed) ||
		errors.Is(err, journal.ErrReopening) {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return err
}

func newOpID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// nextChange returns a channel closed when order id next changes. Take it
// before reading the order, so a change in between is not missed.
func (s *Service) nextChange(id string) <-chan struct{} {
	s.changedMu.Lock()
	defer s.changedMu.Unlock()
	ch, ok := s.changed[id]
	if !ok {
		ch = make(chan struct{})
		s.changed[id] = ch
	}
	return ch
}

func (s *Service) holdCVV(orderID, cvv string, until time.Time) {
	s.cvvMu.Lock()
	defer s.cvvMu.Unlock()
	now := s.d.Now()
	for id, h := range s.cvv2 {
		if now.After(h.expires) {
			delete(s.cvv2, id)
		}
	}
	s.cvv2[orderID] = heldCVV{cvv, until}
}

func (s *Service) takeCVV(orderID string) string {
	s.cvvMu.Lock()
	defer s.cvvMu.Unlock()
	h := s.cvv2[orderID]
	delete(s.cvv2, orderID)
	return h.value
}

func (s *Service) forgetCVV(orderID string) { s.takeCVV(orderID) }
