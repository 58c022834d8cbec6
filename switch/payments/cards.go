package payments

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Stored cards. A card is stored by the order that paid with it (the
// buyer agreed to keep it for the merchant's customer: an RBS binding) or
// registered it (a Processing.kz registration the merchant kept); that
// order holds the card (order.StoredCard), and the merchant's changes to it
// are changes of that order: journaled, indexed and rebuilt as every other.
// A merchant sees only its own cards: another merchant's card id is
// order.ErrNoCard, as one that does not exist.

// Card is a stored card as the merchant APIs show it: never the PAN.
type Card struct {
	ID       string
	ClientID string // "" for a Processing.kz registration
	Masked   string // first six and last four digits
	Brand    string // routing.Brand*
	Holder   string
	Expiry   string // YYMM, as it pays now (the merchant may have changed it)
	Active   bool   // not disabled by the merchant
	Expired  bool   // its expiry month is over
	// OrderID is the order that stored the card.
	OrderID string
}

func (s *Service) cardOf(o *order.Order) Card {
	return Card{
		ID: o.Stored.ID, ClientID: o.Stored.ClientID, Masked: o.Card.Masked, Brand: o.Card.Brand, Holder: o.Card.Holder,
		Expiry: o.StoredExpiry(), Active: !o.Stored.Unbound, Expired: order.CardExpired(o.StoredExpiry(), s.d.Now()),
		OrderID: o.ID,
	}
}

func (s *Service) cardsOf(orders []*order.Order) []Card {
	out := make([]Card, 0, len(orders))
	for _, o := range orders {
		if o.Stored != nil && o.Card != nil {
			out = append(out, s.cardOf(o))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// StoredCard returns a merchant's stored card, or order.ErrNoCard.
func (s *Service) StoredCard(merchant, cardID string) (Card, error) {
	o, err := s.store.ByCard(merchant, cardID)
	switch {
	case errors.Is(err, order.ErrNotFound):
		return Card{}, fmt.Errorf("merchant %q card %q: %w", merchant, cardID, order.ErrNoCard)
	case err != nil:
		return Card{}, err
	case o.Stored == nil || o.Card == nil:
		return Card{}, fmt.Errorf("payments: order %s is indexed as card %q and holds none", o.ID, cardID)
	}
	return s.cardOf(o), nil
}

// ClientCards returns the cards a merchant stored for one customer, by
// card id, enabled or not, expired or not: the caller chooses.
func (s *Service) ClientCards(merchant, clientID string) ([]Card, error) {
	orders, err := s.store.ClientCards(merchant, clientID)
	if err != nil {
		return nil, err
	}
	return s.cardsOf(orders), nil
}

// CardsOfNumber returns the cards a merchant stored of one card number,
// whoever's: the number is looked up by its hsm token, never kept.
func (s *Service) CardsOfNumber(ctx context.Context, merchant, pan string) ([]Card, error) {
	tok, err := s.d.Vault.TokenizePAN(detach(ctx), pan)
	if err != nil {
		return nil, fmt.Errorf("payments: tokenize card: %w", err)
	}
	orders, err := s.store.TokenCards(merchant, tok)
	if err != nil {
		return nil, err
	}
	return s.cardsOf(orders), nil
}

// CardsLike returns the cards of the customer whose card cardID is (all
// of them, cardID's among them); a card with no customer (a Processing.kz
// registration) is alone. order.ErrNoCard when the merchant has no such
// card.
func (s *Service) CardsLike(merchant, cardID string) ([]Card, error) {
	c, err := s.StoredCard(merchant, cardID)
	if err != nil || c.ClientID == "" {
		if err != nil {
			return nil, err
		}
		return []Card{c}, nil
	}
	return s.ClientCards(merchant, c.ClientID)
}

// CardChange is a merchant's change to one of its stored cards.
type CardChange struct {
	Merchant string
	CardID   string
	// Expiry is the new expiry (YYMM) of ExtendCard.
	Expiry string
	Reply  Reply
}

// UnbindCard disables a stored card (RBS unBindCard): it pays nothing
// until BindCard. A disabled card is refused with order.ErrCardUnbound, as
// the gateway answers a second unBindCard.
func (s *Service) UnbindCard(ctx context.Context, r CardChange) (*Result, error) {
	return s.changeCard(ctx, r, order.OpUnbind, func(st *order.StoredCard, _ *order.Order, _ time.Time) error {
		if st.Unbound {
			return &order.InputError{Field: "cardId", Reason: order.ErrCardUnbound.Error(), Err: order.ErrCardUnbound}
		}
		st.Unbound = true
		return nil
	})
}

// BindCard enables a disabled stored card again (RBS bindCard). An
// enabled card is refused with order.ErrCardActive, an expired one with
// order.ErrCardExpired (extend it first).
func (s *Service) BindCard(ctx context.Context, r CardChange) (*Result, error) {
	return s.changeCard(ctx, r, order.OpBind, func(st *order.StoredCard, o *order.Order, now time.Time) error {
		switch {
		case !st.Unbound:
			return &order.InputError{Field: "cardId", Reason: order.ErrCardActive.Error(), Err: order.ErrCardActive}
		case order.CardExpired(o.StoredExpiry(), now):
			return &order.InputError{Field: "cardId", Reason: order.ErrCardExpired.Error(), Err: order.ErrCardExpired}
		}
		st.Unbound = false
		return nil
	})
}

// ExtendCard sets a stored card's expiry (RBS extendBinding: the issuer
// renewed the card, same number). The new expiry must not be over
// already; the card's enabled state does not change. The same expiry again
// is a replay.
func (s *Service) ExtendCard(ctx context.Context, r CardChange) (*Result, error) {
	if order.CardExpired(r.Expiry, s.d.Now()) {
		return nil, &order.InputError{Field: "expiry", Reason: "must be a month not over yet, as YYMM"}
	}
	return s.changeCard(ctx, r, order.OpExtend, func(st *order.StoredCard, o *order.Order, _ time.Time) error {
		if o.StoredExpiry() == r.Expiry {
			return errReplay
		}
		st.Expiry = r.Expiry
		return nil
	})
}

// errReplay tells changeCard that the change is made already.
var errReplay = errors.New("the change is made already")

// changeCard applies apply to the stored card r names, under the lock of
// the order that holds it, and commits it with an operation of type t:
// the order's history keeps it, and callbacks hear of it.
func (s *Service) changeCard(ctx context.Context, r CardChange, t order.OpType, apply func(*order.StoredCard, *order.Order, time.Time) error) (*Result, error) {
	ctx = detach(ctx)
	held, err := s.store.ByCard(r.Merchant, r.CardID)
	if errors.Is(err, order.ErrNotFound) {
		return nil, &order.InputError{Field: "cardId", Reason: order.ErrNoCard.Error(), Err: order.ErrNoCard}
	} else if err != nil {
		return nil, err
	}
	unlock := s.locks.Lock(held.ID)
	defer unlock()
	o, err := s.store.Get(held.ID)
	if err != nil {
		return nil, err
	}
	if o.Stored == nil || o.Stored.ID != r.CardID || o.Merchant != r.Merchant {
		return nil, fmt.Errorf("payments: order %s is indexed as card %q and holds another", o.ID, r.CardID)
	}
	rp := newReply(r.Reply)
	now := s.d.Now()
	n := o.Clone()
	switch err := apply(n.Stored, n, now); {
	case errors.Is(err, errReplay):
		return rp.replay(o, o.LastOp(t)), nil
	case err != nil:
		return nil, err
	}
	n.Ops = append(n.Ops, order.Operation{ID: newOpID(), Type: t, Status: order.OpApproved, Time: now.UTC()})
	if err := s.commit(ctx, change{o: n, prev: o.Version, reply: rp, final: true}); err != nil {
		return nil, err
	}
	return rp.result(n, &n.Ops[len(n.Ops)-1]), nil
}
