package fiscal

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/order"
)

func TestTenge(t *testing.T) {
	for minor, want := range map[int64]string{150050: "1500.50", 0: "0.00", 5: "0.05", 100: "1.00", -250: "-2.50", 123456789: "1234567.89"} {
		require.Equal(t, want, Tenge(minor), "%d", minor)
	}
}

// Goods come from the cart when it adds up to the receipt's amount, one
// line named after them otherwise, and from the description without a
// cart.
func TestReceiptGoods(t *testing.T) {
	cart := []order.CartItem{
		{Name: "Кітап", Quantity: 2, Price: 50000},
		{Name: "Алма", QuantityDecimal: "1.5", Price: 20000, Amount: 30000},
	}
	o := &order.Order{ID: "o1", Number: "A-1", Description: "Books", Cart: cart, Email: "buyer@example.kz"}
	r := receiptFor(o, order.FiscalSale, "o1-0", 130000, "shop@example.kz")
	require.Equal(t, []Item{{Name: "Кітап", Price: 50000, Quantity: "2", Sum: 100000}, {Name: "Алма", Price: 20000, Quantity: "1.5", Sum: 30000}}, r.Items)
	require.Equal(t, "buyer@example.kz", r.Email, "the buyer's copy first")

	r = receiptFor(o, order.FiscalReturn, "o1-2", 40000, "shop@example.kz")
	require.Equal(t, []Item{{Name: "Кітап, Алма", Price: 40000, Quantity: "1", Sum: 40000}}, r.Items, "a partial return")

	o = &order.Order{ID: "o2", Number: "A-2", Description: "  Подписка на месяц "}
	r = receiptFor(o, order.FiscalSale, "o2-0", 99900, "shop@example.kz")
	require.Equal(t, []Item{{Name: "Подписка на месяц", Price: 99900, Quantity: "1", Sum: 99900}}, r.Items)
	require.Equal(t, "shop@example.kz", r.Email)

	o = &order.Order{ID: "o3", Number: "A-3"}
	require.Equal(t, "Заказ A-3", receiptFor(o, order.FiscalSale, "o3-0", 1, "").Items[0].Name)
}

// The external id is the order's and the operation's: the same at every
// attempt, different for each operation.
func TestExternalID(t *testing.T) {
	require.Equal(t, "0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f-3", ExternalID("0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f", 3))
}
