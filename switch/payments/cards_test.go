package payments_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestStoredCardsOfACustomer: a payment whose buyer keeps the card stores
// it for the order's customer once approved, marked to the bank as the
// card's storing; later payments with it go as credential on file, with
// the cardholder (a CVV2) or by the merchant alone (none, no 3-D Secure);
// the merchant disables, enables and extends it, each change an operation
// of the order that holds it; another merchant can neither see nor use it.
func TestStoredCardsOfACustomer(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		other := c.Payments.Merchants[0]
		other.ID = "other"
		c.Payments.Merchants = append(c.Payments.Merchants, other)
	}})
	h := &harness{Switch: s, t: t, svc: s.D.Payments()}
	ctx := context.Background()
	reg := func(m, customer, cardID string, amount int64) (*payments.Result, error) {
		return h.svc.Register(ctx, payments.RegisterRequest{Merchant: m, Number: fmt.Sprintf("c-%d", h.n.Add(1)), Amount: amount,
			Customer: customer, CardID: cardID, ReturnURL: "https://shop.example.kz/ok"})
	}
	mustReg := func(customer, cardID string, amount int64) *order.Order {
		t.Helper()
		res, err := reg(merchant, customer, cardID, amount)
		require.NoError(t, err)
		return res.Order
	}
	cof := h.Bank.Dialect()
	cofMode := specs.MustLoad(cof).CredentialOnFile.POSEntryMode
	lastUse := func() issuersimUse {
		t.Helper()
		uses := h.Bank.CredentialUses()
		require.NotEmpty(t, uses)
		u := uses[len(uses)-1]
		return issuersimUse{u.Use, u.POSEntryMode, u.CVV2, u.ResponseCode}
	}

	// A buyer without a customer cannot keep a card: nothing to keep it for.
	anon := mustReg("", "", 1000)
	res, err := h.svc.Pay(ctx, payments.PayRequest{OrderID: anon.ID, KeepCard: true,
		Card: payments.CardInput{PAN: visa, Expiry: visaExp, CVV2: "123"}})
	require.NoError(t, err)
	require.Nil(t, res.Order.Stored)
	require.Empty(t, h.Bank.CredentialUses(), "and the bank hears of no stored credential")

	// The first payment stores it.
	first := mustReg("17", "", 150000)
	res, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: first.ID, KeepCard: true,
		Card: payments.CardInput{PAN: visa, Expiry: visaExp, CVV2: "123", Holder: "IVAN IVANOV"}})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, res.Order.Status)
	st := res.Order.Stored
	require.NotNil(t, st)
	require.Len(t, st.ID, 36)
	require.Equal(t, "17", st.ClientID)
	require.Equal(t, lastPaymentOp(res.Order).ID, st.Op, "stored with the approval's commit")
	require.Equal(t, issuersimUse{specs.StoredInitial, iso.POSEntryEcommerce, true, "00"}, lastUse(), "the bank was told the card is being stored")
	cardID := st.ID

	cards, err := h.svc.ClientCards(merchant, "17")
	require.NoError(t, err)
	require.Equal(t, []payments.Card{{ID: cardID, ClientID: "17", Masked: "411111******1111", Brand: "visa", Holder: "IVAN IVANOV",
		Expiry: visaExp, Active: true, OrderID: first.ID}}, cards)
	byNumber, err := h.svc.CardsOfNumber(ctx, merchant, visa)
	require.NoError(t, err)
	require.Equal(t, cards, byNumber)
	like, err := h.svc.CardsLike(merchant, cardID)
	require.NoError(t, err)
	require.Equal(t, cards, like)

	// The same card kept again for the same customer is the same card.
	again := mustReg("17", "", 1000)
	res, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: again.ID, KeepCard: true, Card: payments.CardInput{PAN: visa, Expiry: visaExp, CVV2: "123"}})
	require.NoError(t, err)
	require.Nil(t, res.Order.Stored)
	require.Equal(t, cardID, res.Order.StoredCard)
	cards, err = h.svc.ClientCards(merchant, "17")
	require.NoError(t, err)
	require.Len(t, cards, 1)

	// Paid on the hosted page with the CVV2: the cardholder uses it.
	withCard := mustReg("", cardID, 2000)
	require.Equal(t, "17", withCard.Customer, "the card's customer")
	res, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: withCard.ID, Card: payments.CardInput{CVV2: "123"}})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, res.Order.Status, "action code %d", res.Order.ActionCode)
	require.Equal(t, issuersimUse{specs.StoredCardholder, cofMode, true, "00"}, lastUse())

	// Paid by the merchant alone (paymentOrderBinding without a CVC).
	mit := mustReg("17", "", 3000)
	res, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: mit.ID, CardID: cardID, Merchant: merchant})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, res.Order.Status, "action code %d", res.Order.ActionCode)
	require.True(t, res.Order.MerchantInitiated)
	require.Equal(t, cardID, res.Order.StoredCard)
	require.Equal(t, issuersimUse{specs.StoredMerchant, cofMode, false, "00"}, lastUse())
	replay, err := h.svc.Pay(ctx, payments.PayRequest{OrderID: mit.ID, CardID: cardID, Merchant: merchant})
	require.NoError(t, err)
	require.True(t, replay.Replay, "a retry answers the recorded outcome")
	uses := len(h.Bank.CredentialUses())

	// Another customer's order cannot be paid with it.
	stranger := mustReg("18", "", 1000)
	_, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: stranger.ID, CardID: cardID, Card: payments.CardInput{CVV2: "123"}})
	require.ErrorIs(t, err, order.ErrCardOwner)
	_, err = reg(merchant, "18", cardID, 1000)
	require.ErrorIs(t, err, order.ErrCardOwner)

	// Another merchant sees nothing and pays with nothing.
	_, err = h.svc.StoredCard("other", cardID)
	require.ErrorIs(t, err, order.ErrNoCard)
	cards, err = h.svc.ClientCards("other", "17")
	require.NoError(t, err)
	require.Empty(t, cards)
	_, err = reg("other", "17", cardID, 1000)
	require.ErrorIs(t, err, order.ErrNoCard)
	_, err = h.svc.UnbindCard(ctx, payments.CardChange{Merchant: "other", CardID: cardID})
	require.ErrorIs(t, err, order.ErrNoCard)

	// Disabled: it pays nothing, not even an order registered before.
	pending := mustReg("", cardID, 1000)
	off, err := h.svc.UnbindCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID})
	require.NoError(t, err)
	require.Equal(t, first.ID, off.Order.ID, "the order that holds the card changes")
	require.Equal(t, order.OpUnbind, off.Op.Type)
	require.True(t, off.Order.Stored.Unbound)
	_, err = h.svc.UnbindCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID})
	require.ErrorIs(t, err, order.ErrCardUnbound)
	_, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: pending.ID, Card: payments.CardInput{CVV2: "123"}})
	require.ErrorIs(t, err, order.ErrCardUnbound)
	_, err = reg(merchant, "", cardID, 1000)
	require.ErrorIs(t, err, order.ErrCardUnbound)
	require.Len(t, h.Bank.CredentialUses(), uses, "nothing went to the bank")
	cards, err = h.svc.ClientCards(merchant, "17")
	require.NoError(t, err)
	require.False(t, cards[0].Active)

	// Enabled again, and extended: the new expiry is what goes to the bank.
	on, err := h.svc.BindCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID})
	require.NoError(t, err)
	require.False(t, on.Order.Stored.Unbound)
	_, err = h.svc.BindCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID})
	require.ErrorIs(t, err, order.ErrCardActive)
	_, err = h.svc.ExtendCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID, Expiry: "2001"})
	var in *order.InputError
	require.ErrorAs(t, err, &in)
	require.Equal(t, "expiry", in.Field)
	ext, err := h.svc.ExtendCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID, Expiry: "3112"})
	require.NoError(t, err)
	require.Equal(t, "3112", ext.Order.StoredExpiry())
	require.Equal(t, visaExp, ext.Order.Card.Expiry, "the card as it was stored stays in the record")
	same, err := h.svc.ExtendCard(ctx, payments.CardChange{Merchant: merchant, CardID: cardID, Expiry: "3112"})
	require.NoError(t, err)
	require.True(t, same.Replay)
	require.Equal(t, ext.Order.Version, same.Order.Version, "nothing written")
	res, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: pending.ID, Card: payments.CardInput{CVV2: "123"}})
	require.NoError(t, err)
	require.Equal(t, "3112", res.Order.Card.Expiry)
	u := h.Bank.CredentialUses()[len(h.Bank.CredentialUses())-1]
	require.Equal(t, "3112", u.Expiry, "the bank got the expiry the merchant set")
	require.Equal(t, "54", u.ResponseCode, "which this bank's book does not know")

	held, err := h.svc.Get(ctx, first.ID)
	require.NoError(t, err)
	var types []order.OpType
	for _, op := range held.Ops {
		types = append(types, op.Type)
	}
	require.Equal(t, []order.OpType{order.OpPurchase, order.OpUnbind, order.OpBind, order.OpExtend}, types)
}

type issuersimUse struct {
	Use, POSEntryMode string
	CVV2              bool
	ResponseCode      string
}

func lastPaymentOp(o *order.Order) *order.Operation {
	for i := len(o.Ops) - 1; i >= 0; i-- {
		if t := o.Ops[i].Type; t == order.OpAuthorization || t == order.OpPurchase {
			return &o.Ops[i]
		}
	}
	return nil
}

// TestEarlierCardsIndexed: a data file written before stored cards had
// indexes (a kept Processing.kz registration, its card id in the
// registration) has its cards indexed when the store opens, once.
func TestEarlierCardsIndexed(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "old.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	old := `{"id":"o-1","merchant":"shop","number":"r-1","registration":{"status":"kept","card_id":"c-1"},` +
		`"card":{"masked":"411111******1111","token":"tok-1","ciphertext":null,"expiry":"3012"},"ops":[],"version":3}`
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		orders, err := tx.CreateBucket(order.BucketOrders)
		require.NoError(t, err)
		require.NoError(t, orders.Put([]byte("o-1"), []byte(old)))
		cards, err := tx.CreateBucket([]byte("cards_by_id"))
		require.NoError(t, err)
		return cards.Put([]byte("shop\x00c-1"), []byte("o-1"))
	}))
	store, err := payments.NewStore(db)
	require.NoError(t, err)
	got, err := store.TokenCards("shop", "tok-1")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, &order.StoredCard{ID: "c-1"}, got[0].Stored)
	none, err := store.ClientCards("shop", "")
	require.NoError(t, err)
	require.Empty(t, none, "a registration has no customer")
	_, err = payments.NewStore(db)
	require.NoError(t, err, "opening again indexes nothing twice")
}

// TestNewNumberReplacesTheStoredCard: an order registered with a stored
// card and paid with another card number is that number's payment: the
// bank is charged the number typed, the order names it (so its refund
// goes back to it) and nothing goes as credential on file.
func TestNewNumberReplacesTheStoredCard(t *testing.T) {
	s := switchtest.Run(t, switchtest.Options{})
	h := &harness{Switch: s, t: t, svc: s.D.Payments()}
	ctx := context.Background()
	first, err := h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "keep-1", Amount: 1000, Customer: "17",
		ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	res, err := h.svc.Pay(ctx, payments.PayRequest{OrderID: first.Order.ID, KeepCard: true,
		Card: payments.CardInput{PAN: visa, Expiry: visaExp, CVV2: "123"}})
	require.NoError(t, err)
	require.NotNil(t, res.Order.Stored)
	uses := len(h.Bank.CredentialUses())

	// A customer's card does not pay an order registered for nobody.
	anon, err := h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "keep-anon", Amount: 700, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	_, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: anon.Order.ID, CardID: res.Order.Stored.ID})
	require.ErrorIs(t, err, order.ErrCardOwner)
	require.Len(t, h.Bank.CredentialUses(), uses, "nothing went to the bank")

	second, err := h.svc.Register(ctx, payments.RegisterRequest{Merchant: merchant, Number: "keep-2", Amount: 2000, Customer: "17",
		CardID: res.Order.Stored.ID, ReturnURL: "https://shop.example.kz/ok"})
	require.NoError(t, err)
	before := h.Account(switchtest.MC)
	res, err = h.svc.Pay(ctx, payments.PayRequest{OrderID: second.Order.ID, Card: payments.CardInput{PAN: switchtest.MC, Expiry: visaExp, CVV2: "123"}})
	require.NoError(t, err)
	require.Equal(t, order.StatusDeposited, res.Order.Status)
	require.Equal(t, "555555******5599", res.Order.Card.Masked, "the order names the card charged")
	require.Empty(t, res.Order.StoredCard)
	require.False(t, res.Order.MerchantInitiated)
	require.Len(t, h.Bank.CredentialUses(), uses, "no credential-on-file use")
	require.NotEqual(t, before, h.Account(switchtest.MC), "the number typed was charged")
}
