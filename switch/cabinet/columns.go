package cabinet

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// column is one column the register can show and export.
type column struct {
	id    string
	title [3]string // en, ru, kk
	sort  payments.SortKey
	num   bool // right-aligned, a number in files
	// text is the cell as the page shows it.
	text func(x *cellCtx, o *order.Order) string
	// value is the cell in a file: a string, a float64 amount (major
	// units) or a time.Time in the user's zone.
	value func(x *cellCtx, o *order.Order) any
}

type cellCtx struct {
	lang string
	loc  *time.Location
	s    *Server
}

// MaxColumns bounds the columns a user shows (the manual's rule).
const MaxColumns = 10

// defaultColumns are the manual's register, in its order.
var defaultColumns = []string{"number", "rrn", "amount", "commission", "instrument", "created", "card", "description", "status", "refunded"}

func amountValue(minor int64, currency string) any {
	return float64(minor) / math.Pow10(exponent(currency))
}

// paymentRRN is the RRN the bank knows the payment by: its authorization's
// or purchase's, else the latest operation's that has one.
func paymentRRN(o *order.Order) string {
	if op := o.AuthOp(); op != nil && op.RRN != "" {
		return op.RRN
	}
	for i := len(o.Ops) - 1; i >= 0; i-- {
		if o.Ops[i].RRN != "" {
			return o.Ops[i].RRN
		}
	}
	return ""
}

func approvalCode(o *order.Order) string {
	if op := o.AuthOp(); op != nil {
		return op.ApprovalCode
	}
	return ""
}

func brandName(o *order.Order) string {
	if o.Card == nil {
		return ""
	}
	return strings.ToUpper(o.Card.Brand)
}

func str(f func(o *order.Order) string) (func(*cellCtx, *order.Order) string, func(*cellCtx, *order.Order) any) {
	return func(_ *cellCtx, o *order.Order) string { return f(o) }, func(_ *cellCtx, o *order.Order) any { return f(o) }
}

func amountCol(id string, title [3]string, sk payments.SortKey, f func(o *order.Order) int64) column {
	return column{id: id, title: title, sort: sk, num: true,
		text:  func(_ *cellCtx, o *order.Order) string { return plainAmount(f(o), o.Currency) },
		value: func(_ *cellCtx, o *order.Order) any { return amountValue(f(o), o.Currency) }}
}

func timeCol(id string, title [3]string, sk payments.SortKey, f func(o *order.Order) time.Time) column {
	return column{id: id, title: title, sort: sk,
		text: func(x *cellCtx, o *order.Order) string { return when(f(o), x.loc) },
		value: func(x *cellCtx, o *order.Order) any {
			if t := f(o); !t.IsZero() {
				return t.In(x.loc)
			}
			return ""
		}}
}

func strCol(id string, title [3]string, f func(o *order.Order) string) column {
	text, value := str(f)
	return column{id: id, title: title, text: text, value: value}
}

// columns are every column, the manual's first.
var columns = func() []column {
	cs := []column{
		strCol("number", [3]string{"Order number", "Номер заказа", "Тапсырыс нөмірі"}, func(o *order.Order) string { return o.Number }),
		strCol("rrn", [3]string{"RRN", "RRN", "RRN"}, paymentRRN),
		func() column {
			c := amountCol("amount", [3]string{"Amount", "Сумма", "Сома"}, payments.SortAmount, func(o *order.Order) int64 { return o.Amount })
			c.text = func(_ *cellCtx, o *order.Order) string { return money(o.Amount, o.Currency) }
			return c
		}(),
		amountCol("commission", [3]string{"Commission", "Сумма комиссии", "Комиссия сомасы"}, "", func(*order.Order) int64 { return 0 }),
		strCol("instrument", [3]string{"Payment instrument", "Платежное средство", "Төлем құралы"}, func(*order.Order) string { return "CARD" }),
		timeCol("created", [3]string{"Registration date", "Дата регистрации", "Тіркелген күні"}, payments.SortCreated, func(o *order.Order) time.Time { return o.CreatedAt }),
		strCol("card", [3]string{"Card number", "Номер карты", "Карта нөмірі"}, func(o *order.Order) string {
			if o.Card == nil {
				return ""
			}
			return maskedCard(o.Card.Masked)
		}),
		strCol("description", [3]string{"Order description", "Описание заказа", "Тапсырыс сипаттамасы"}, func(o *order.Order) string { return o.Description }),
		{id: "status", title: [3]string{"Status", "Статус", "Мәртебе"}, sort: payments.SortStatus,
			text:  func(x *cellCtx, o *order.Order) string { return statusWord(x.lang, o.Status) },
			value: func(x *cellCtx, o *order.Order) any { return statusWord(x.lang, o.Status) }},
		amountCol("refunded", [3]string{"Refund amount", "Сумма возврата", "Қайтару сомасы"}, payments.SortRefunded, func(o *order.Order) int64 { return o.Refunded }),
		strCol("id", [3]string{"Order ID in the system", "Уникальный номер заказа", "Жүйедегі тапсырыс нөмірі"}, func(o *order.Order) string { return o.ID }),
		strCol("merchant", [3]string{"Merchant login", "Логин продавца", "Сатушы логині"}, func(o *order.Order) string { return o.Merchant }),
		amountCol("approved", [3]string{"Approved amount", "Сумма авторизации", "Авторизация сомасы"}, "", func(o *order.Order) int64 { return o.Approved }),
		amountCol("deposited", [3]string{"Captured amount", "Сумма списания", "Есептен шығару сомасы"}, "", func(o *order.Order) int64 { return o.Deposited }),
		strCol("approval", [3]string{"Approval code", "Код авторизации", "Авторизация коды"}, approvalCode),
		{id: "response", title: [3]string{"Response code", "Код ответа", "Жауап коды"},
			text: func(x *cellCtx, o *order.Order) string {
				return "(" + strconv.Itoa(o.ActionCode) + ") " + order.ActionText(o.ActionCode, x.lang)
			},
			value: func(x *cellCtx, o *order.Order) any {
				return "(" + strconv.Itoa(o.ActionCode) + ") " + order.ActionText(o.ActionCode, x.lang)
			}},
		strCol("brand", [3]string{"Payment system", "Платежная система", "Төлем жүйесі"}, brandName),
		strCol("holder", [3]string{"Cardholder", "Имя владельца карты", "Карта иесі"}, func(o *order.Order) string {
			if o.Card == nil {
				return ""
			}
			return o.Card.Holder
		}),
		strCol("expiry", [3]string{"Card expiry", "Срок действия карты", "Карта мерзімі"}, func(o *order.Order) string {
			if o.Card == nil {
				return ""
			}
			return cardExpiry(o.Card.Expiry)
		}),
		strCol("email", [3]string{"E-mail", "E-mail", "E-mail"}, func(o *order.Order) string { return o.Email }),
		strCol("ip", [3]string{"Payer IP", "IP-адрес", "IP-мекенжай"}, func(o *order.Order) string { return o.IP }),
		strCol("eci", [3]string{"ECI", "ECI", "ECI"}, func(o *order.Order) string {
			if o.ThreeDS == nil {
				return ""
			}
			return o.ThreeDS.ECI
		}),
		{id: "type", title: [3]string{"Payment type", "Тип оплаты", "Төлем түрі"},
			text:  func(x *cellCtx, o *order.Order) string { return stageWord(x.lang, o.TwoStage) },
			value: func(x *cellCtx, o *order.Order) any { return stageWord(x.lang, o.TwoStage) }},
		strCol("currency", [3]string{"Currency", "Валюта", "Валюта"}, func(o *order.Order) string { return currencyCode(o.Currency) }),
		strCol("bank", [3]string{"Acquiring bank", "Банк", "Банк"}, func(o *order.Order) string { return o.Bank }),
		timeCol("updated", [3]string{"Last change", "Дата изменения", "Өзгерту күні"}, "", func(o *order.Order) time.Time { return o.UpdatedAt }),
	}
	return cs
}()

var columnByID = func() map[string]*column {
	m := map[string]*column{}
	for i := range columns {
		m[columns[i].id] = &columns[i]
	}
	return m
}()

func stageWord(lang string, two bool) string {
	if two {
		return t(lang, "two_stage")
	}
	return t(lang, "one_stage")
}

// chosenColumns are the user's columns that still exist, or the default.
func chosenColumns(ids []string) []*column {
	var out []*column
	seen := map[string]bool{}
	for _, id := range ids {
		if c, ok := columnByID[id]; ok && !seen[id] && len(out) < MaxColumns {
			seen[id] = true
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		for _, id := range defaultColumns {
			out = append(out, columnByID[id])
		}
	}
	return out
}

// columnIDs of cs.
func columnIDs(cs []*column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

// chooserOrder is every column for the chooser: the chosen ones first, in
// their order, then the rest as columns lists them.
func chooserOrder(chosen []string) []*column {
	out := chosenColumns(chosen)
	in := map[string]bool{}
	for _, c := range out {
		in[c.id] = true
	}
	rest := make([]*column, 0, len(columns))
	for i := range columns {
		if !in[columns[i].id] {
			rest = append(rest, &columns[i])
		}
	}
	return append(out, rest...)
}
