package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/order"
)

// RBS's orderBundle is the cart as JSON text:
//
//	{"orderCreationDate": "...", "customerDetails": {"email": "...", "phone": "..."},
//	 "cartItems": {"items": [{"positionId": 1, "name": "...",
//	   "quantity": {"value": 2, "measure": "шт"}, "itemAmount": 200000,
//	   "itemPrice": 100000, "itemCode": "A-1", "tax": {"taxType": 0, "taxSum": 0}, ...}]}}
//
// It becomes the order's Cart, which receipts and fiscal documents use, so
// money in it is checked as money: whole minor units, each line's
// itemAmount itemPrice × quantity (unless it carries a discount), and the
// lines adding up to the order's amount. What else a line says is kept as
// it was sent (order.CartItem.Extra) and shown back by the order's status.

const (
	maxCartItems   = 100
	maxItemName    = 100 // the gateway's length of an item's name
	maxItemCode    = 100
	maxPositionID  = 64
	maxMeasure     = 20
	maxQuantity    = 1_000_000_000
	cartField      = "orderBundle"
	cartItemsField = "orderBundle.cartItems.items"
)

// bundle is what a register keeps of an orderBundle.
type bundle struct {
	items        []order.CartItem
	email, phone string
}

// itemFields are the line fields the Cart has a place for; the others go
// to Extra.
var itemFields = map[string]bool{"positionId": true, "name": true, "quantity": true, "itemAmount": true,
	"itemPrice": true, "itemCode": true, "tax": true}

func parseBundle(raw string, amount int64) (bundle, *rbsError) {
	var b bundle
	var doc struct {
		CustomerDetails *struct {
			Email string `json:"email"`
			Phone string `json:"phone"`
		} `json:"customerDetails"`
		CartItems *struct {
			Items []json.RawMessage `json:"items"`
		} `json:"cartItems"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || !strings.HasPrefix(strings.TrimSpace(raw), "{") {
		return b, invalid(cartField, l(rJSONObject))
	}
	if cd := doc.CustomerDetails; cd != nil {
		if b.email = strings.TrimSpace(cd.Email); b.email != "" && !validEmail(b.email) {
			return b, invalid(cartField+".customerDetails.email", l(rEmail))
		}
		var ok bool
		if b.phone, ok = normPhone(cd.Phone); !ok {
			return b, invalid(cartField+".customerDetails.phone", l(rPhone))
		}
	}
	if doc.CartItems == nil || len(doc.CartItems.Items) == 0 || len(doc.CartItems.Items) > maxCartItems {
		return b, invalid(cartItemsField, l(rMaxItems, maxCartItems))
	}
	var total int64
	for i, rawItem := range doc.CartItems.Items {
		it, e := parseItem(fmt.Sprintf("%s[%d]", cartItemsField, i), rawItem)
		if e != nil {
			return b, e
		}
		total += it.Amount
		if total > maxAmount {
			return b, invalid(cartField, l(rCartTotal, total, amount))
		}
		b.items = append(b.items, it)
	}
	if total != amount {
		return b, invalid(cartField, l(rCartTotal, total, amount))
	}
	return b, nil
}

func parseItem(at string, raw json.RawMessage) (order.CartItem, *rbsError) {
	var it order.CartItem
	var f map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil || f == nil {
		return it, invalid(at, l(rJSONObject))
	}
	str := func(name string, max int, required bool) (string, *rbsError) {
		v, ok := f[name]
		if !ok || string(v) == "null" {
			if required {
				return "", invalid(at+"."+name, l(rRequired))
			}
			return "", nil
		}
		s, ok := jsonText(v)
		if !ok || (required && s == "") || !validText(s, max) {
			return "", invalid(at+"."+name, l(rMaxChars, max))
		}
		return s, nil
	}
	var e *rbsError
	if it.Name, e = str("name", maxItemName, true); e != nil {
		return it, e
	}
	if it.PositionID, e = str("positionId", maxPositionID, false); e != nil {
		return it, e
	}
	if it.Code, e = str("itemCode", maxItemCode, false); e != nil {
		return it, e
	}
	var q struct {
		Value   json.RawMessage `json:"value"`
		Measure json.RawMessage `json:"measure"`
	}
	if err := json.Unmarshal(f["quantity"], &q); err != nil || q.Value == nil {
		return it, invalid(at+".quantity.value", l(rPositive))
	}
	qty, ok := decimal(q.Value)
	if !ok || qty.Sign() <= 0 || qty.Cmp(big.NewRat(maxQuantity, 1)) > 0 {
		return it, invalid(at+".quantity.value", l(rPositive))
	}
	if whole, ok := wholeNumber(qty); ok {
		it.Quantity = whole
	} else {
		it.QuantityDecimal = strings.TrimRight(strings.TrimRight(qty.FloatString(6), "0"), ".")
	}
	if q.Measure != nil {
		m, ok := jsonText(q.Measure)
		if !ok || !validText(m, maxMeasure) {
			return it, invalid(at+".quantity.measure", l(rMaxChars, maxMeasure))
		}
		it.Measure = m
	}
	minor := func(name string) (int64, bool, *rbsError) {
		v, ok := f[name]
		if !ok || string(v) == "null" {
			return 0, false, nil
		}
		d, ok := decimal(v)
		n, whole := wholeNumber(d)
		if !ok || !whole || n < 0 || n > maxAmount {
			return 0, false, invalid(at+"."+name, l(rMinorUnits))
		}
		return n, true, nil
	}
	price, hasPrice, e := minor("itemPrice")
	if e != nil {
		return it, e
	}
	amount, hasAmount, e := minor("itemAmount")
	if e != nil {
		return it, e
	}
	if !hasPrice && !hasAmount {
		return it, invalid(at, l(rPriceAmount))
	}
	product := new(big.Rat).Mul(big.NewRat(price, 1), qty)
	lineTotal, _ := roundRat(product)
	switch {
	case hasPrice && hasAmount:
		// A discount makes the line's amount less than price × quantity.
		if _, discounted := f["discount"]; !discounted && amount != lineTotal {
			return it, invalid(at+".itemAmount", l(rLineAmount, amount, lineTotal))
		}
	case hasPrice:
		amount = lineTotal
	default:
		price, _ = roundRat(new(big.Rat).Quo(big.NewRat(amount, 1), qty))
	}
	if amount > maxAmount {
		return it, invalid(at+".itemAmount", l(rMinorUnits))
	}
	it.Price, it.Amount = price, amount
	if t, ok := f["tax"]; ok && string(t) != "null" {
		var tax struct {
			TaxType json.RawMessage `json:"taxType"`
			TaxSum  json.RawMessage `json:"taxSum"`
		}
		if err := json.Unmarshal(t, &tax); err != nil {
			return it, invalid(at+".tax", l(rJSONObject))
		}
		if tax.TaxType != nil {
			d, ok := decimal(tax.TaxType)
			n, whole := wholeNumber(d)
			if !ok || !whole || n < 0 || n > 10 {
				return it, invalid(at+".tax.taxType", l(rTaxType))
			}
			tt := int(n)
			it.TaxType = &tt
		}
		if tax.TaxSum != nil {
			d, ok := decimal(tax.TaxSum)
			n, whole := wholeNumber(d)
			if !ok || !whole || n < 0 || n > maxAmount {
				return it, invalid(at+".tax.taxSum", l(rMinorUnits))
			}
			it.TaxSum = n
		}
	}
	extra := map[string]json.RawMessage{}
	for k, v := range f {
		if !itemFields[k] {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		b, _ := json.Marshal(extra) // sorted keys, compact: the same text every time
		it.Extra = string(b)
	}
	return it, nil
}

// jsonText is a JSON string's text, or a number's digits: plugins send
// positionId and itemCode either way.
func jsonText(v json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), true
	}
	return "", false
}

// decimal reads a JSON number, or a string holding one, exactly. Its
// exponent, if any, is small: big.Rat would build 10^exponent.
func decimal(v json.RawMessage) (*big.Rat, bool) {
	s, ok := jsonText(v)
	s = strings.TrimSpace(s)
	if !ok || s == "" || len(s) > 40 {
		return nil, false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err != nil || exp < -30 || exp > 30 {
			return nil, false
		}
	}
	if strings.ContainsAny(s, "/xXpP_") { // big.Rat reads fractions and hex; JSON numbers are neither
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// wholeNumber is r as an integer when it is one, or within a thousandth of
// one: PHP shops compute minor units as a float times 100 and send
// 28.999999999999996 for 29. Anything further from an integer is not.
func wholeNumber(r *big.Rat) (int64, bool) {
	if r == nil {
		return 0, false
	}
	n, diff := roundRat(r)
	if diff.Cmp(big.NewRat(1, 1000)) > 0 {
		return 0, false
	}
	return n, true
}

// roundRat rounds r half away from zero; it returns how far that moved it.
func roundRat(r *big.Rat) (int64, *big.Rat) {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	half := new(big.Int).Quo(den, big.NewInt(2))
	if num.Sign() >= 0 {
		num.Add(num, half)
	} else {
		num.Sub(num, half)
	}
	q := new(big.Int).Quo(num, den)
	if !q.IsInt64() {
		return 0, big.NewRat(1<<62, 1)
	}
	diff := new(big.Rat).Sub(r, new(big.Rat).SetInt(q))
	return q.Int64(), diff.Abs(diff)
}

// bundleJSON is the order's cart as getOrderStatusExtended shows it, in
// the orderBundle form it came in.
func bundleJSON(o *order.Order) map[string]any {
	items := make([]map[string]any, 0, len(o.Cart))
	for _, it := range o.Cart {
		m := map[string]any{}
		if it.Extra != "" {
			var extra map[string]json.RawMessage
			if json.Unmarshal([]byte(it.Extra), &extra) == nil {
				for k, v := range extra {
					m[k] = v
				}
			}
		}
		var qty any = it.Quantity
		if it.QuantityDecimal != "" {
			qty = json.Number(it.QuantityDecimal)
		}
		quantity := map[string]any{"value": qty}
		if it.Measure != "" {
			quantity["measure"] = it.Measure
		}
		m["name"], m["quantity"], m["itemPrice"], m["itemAmount"] = it.Name, quantity, it.Price, it.Amount
		if it.Amount == 0 && it.QuantityDecimal == "" {
			m["itemAmount"] = it.Price * it.Quantity // a cart from elsewhere, without line totals
		}
		if it.PositionID != "" {
			m["positionId"] = it.PositionID
		}
		if it.Code != "" {
			m["itemCode"] = it.Code
		}
		if it.TaxType != nil {
			m["tax"] = map[string]any{"taxType": *it.TaxType, "taxSum": it.TaxSum}
		}
		items = append(items, m)
	}
	b := map[string]any{
		"orderCreationDate": o.CreatedAt.UnixMilli(),
		"cartItems":         map[string]any{"items": items},
	}
	if o.Email != "" || o.Phone != "" {
		cd := map[string]string{}
		if o.Email != "" {
			cd["email"] = o.Email
		}
		if o.Phone != "" {
			cd["phone"] = o.Phone
		}
		b["customerDetails"] = cd
	}
	return b
}
