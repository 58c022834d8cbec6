package fiscal

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// Receipt is what the switch asks the fiscal service to issue: the
// connector adds the merchant's cash register, section and tax rate.
// Amounts are minor units (tiyn); the connector writes them in tenge.
type Receipt struct {
	// ExternalID names the receipt at the service: the same for every
	// attempt (ExternalID).
	ExternalID string `json:"external_id"`
	// Kind is order.FiscalSale or order.FiscalReturn.
	Kind  string `json:"kind"`
	Items []Item `json:"items"`
	// Total is what the buyer paid (or got back) by card: the items' sum.
	Total int64 `json:"total"`
	// Email, when set, gets a copy of the receipt from the service.
	Email string `json:"email,omitempty"`
}

// Item is one line of goods.
type Item struct {
	Name string `json:"name"`
	// Price is per unit, in minor units.
	Price int64 `json:"price"`
	// Quantity as a decimal number ("1", "0.75").
	Quantity string `json:"quantity"`
	// Sum is the line's total in minor units.
	Sum int64 `json:"sum"`
}

// Issued is a receipt the service issued.
type Issued struct {
	ReceiptID  string
	FiscalSign string
	Link       string
	QR         string
	Time       time.Time
}

// ExternalID is the external id of the receipt of o's operation at index
// i of o.Ops: the order id and the index, so every attempt, across
// restarts, names the same receipt, and no two operations share one.
func ExternalID(orderID string, i int) string { return orderID + "-" + strconv.Itoa(i) }

// Tenge writes minor units as tenge with two decimals: 150050 → "1500.50".
func Tenge(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// maxNameRunes bounds an item's name on a receipt line.
const maxNameRunes = 128

// receiptFor builds the receipt of amount for o: the order's cart when its
// lines add up to amount (a whole sale or return), otherwise one line of
// amount named after the goods (a partial completion, refund or release,
// which the cart cannot say line by line).
func receiptFor(o *order.Order, kind, externalID string, amount int64, email string) Receipt {
	r := Receipt{ExternalID: externalID, Kind: kind, Total: amount, Email: email}
	if o.Email != "" {
		r.Email = o.Email // the buyer's copy
	}
	if items, ok := cartItems(o.Cart); ok && sumItems(items) == amount {
		r.Items = items
		return r
	}
	r.Items = []Item{{Name: goodsName(o), Price: amount, Quantity: "1", Sum: amount}}
	return r
}

// cartItems are the cart's lines as receipt items; false when a line's
// total cannot be known (a fractional quantity without the line's amount).
func cartItems(cart []order.CartItem) ([]Item, bool) {
	if len(cart) == 0 {
		return nil, false
	}
	items := make([]Item, 0, len(cart))
	for _, c := range cart {
		it := Item{Name: cut(c.Name), Price: c.Price, Quantity: strconv.FormatInt(c.Quantity, 10), Sum: c.Amount}
		if c.QuantityDecimal != "" {
			it.Quantity = c.QuantityDecimal
		}
		if it.Sum == 0 {
			if c.QuantityDecimal != "" || c.Quantity <= 0 {
				return nil, false
			}
			it.Sum = c.Price * c.Quantity
		}
		if it.Name == "" {
			return nil, false
		}
		items = append(items, it)
	}
	return items, true
}

func sumItems(items []Item) int64 {
	var s int64
	for _, it := range items {
		s += it.Sum
	}
	return s
}

// goodsName names what was sold when one line stands for it: the cart's
// names, else the order's description, else the order's number.
func goodsName(o *order.Order) string {
	if len(o.Cart) > 0 {
		names := make([]string, 0, len(o.Cart))
		for _, c := range o.Cart {
			if c.Name != "" {
				names = append(names, c.Name)
			}
		}
		if len(names) > 0 {
			return cut(strings.Join(names, ", "))
		}
	}
	if d := strings.TrimSpace(o.Description); d != "" {
		return cut(d)
	}
	return cut("Заказ " + o.Number)
}

// cut shortens s to maxNameRunes runes, on a rune boundary.
func cut(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= maxNameRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxNameRunes-1]) + "…"
}

func mailAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}
