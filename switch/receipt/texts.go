package receipt

import "github.com/tulpar-switch/tulpar/switch/order"

// Texts are a language's words of a receipt.
type Texts struct {
	Title, RefundTitle                                    string
	Merchant, Site, Order, Amount, Time, RRN, Buyer, Auth string
	OpType, Card, Items, Name, Price, Quantity, Total     string
	Terms, PDF, QR, Footer                                string
	NotFound, NoReceipt                                   string
	FiscalSign, FiscalLink, FiscalQR                      string
	OpTypes                                               map[order.OpType]string
}

var texts = map[string]Texts{
	"ru": {
		Title: "Торговый чек", RefundTitle: "Чек возврата",
		Merchant: "Продавец", Site: "Сайт", Order: "Номер заказа", Amount: "Сумма", Time: "Дата и время",
		RRN: "Номер транзакции (RRN)", Buyer: "Покупатель", Auth: "Код авторизации", OpType: "Тип операции", Card: "Карта",
		Items: "Товары", Name: "Наименование", Price: "Цена", Quantity: "Кол-во", Total: "Итого",
		Terms: "Условия возврата и обмена", PDF: "Скачать PDF", QR: "Ссылка на этот чек",
		Footer:     "Чек сформирован платёжным шлюзом Tulpar.",
		FiscalSign: "Фискальный признак", FiscalLink: "Фискальный чек у оператора фискальных данных", FiscalQR: "QR-код фискального чека",
		NotFound: "Чек не найден: проверьте ссылку.", NoReceipt: "По этому заказу пока нет чека: оплата не одобрена.",
		OpTypes: map[order.OpType]string{order.OpPurchase: "Оплата", order.OpAuthorization: "Предавторизация (блокировка суммы)",
			order.OpCompletion: "Завершение оплаты (списание)", order.OpRefund: "Возврат"},
	},
	"kk": {
		Title: "Сауда чегі", RefundTitle: "Қайтару чегі",
		Merchant: "Сатушы", Site: "Сайт", Order: "Тапсырыс нөмірі", Amount: "Сома", Time: "Күні мен уақыты",
		RRN: "Транзакция нөмірі (RRN)", Buyer: "Сатып алушы", Auth: "Авторизация коды", OpType: "Операция түрі", Card: "Карта",
		Items: "Тауарлар", Name: "Атауы", Price: "Бағасы", Quantity: "Саны", Total: "Барлығы",
		Terms: "Қайтару және айырбастау шарттары", PDF: "PDF жүктеу", QR: "Осы чектің сілтемесі",
		Footer:     "Чекті Tulpar төлем шлюзі қалыптастырды.",
		FiscalSign: "Фискалдық белгі", FiscalLink: "Фискалдық деректер операторындағы фискалдық чек", FiscalQR: "Фискалдық чектің QR-коды",
		NotFound: "Чек табылмады: сілтемені тексеріңіз.", NoReceipt: "Бұл тапсырыс бойынша әзірге чек жоқ: төлем мақұлданбаған.",
		OpTypes: map[order.OpType]string{order.OpPurchase: "Төлем", order.OpAuthorization: "Алдын ала авторизация (соманы бұғаттау)",
			order.OpCompletion: "Төлемді аяқтау (есептен шығару)", order.OpRefund: "Қайтару"},
	},
	"en": {
		Title: "Sales receipt", RefundTitle: "Refund receipt",
		Merchant: "Merchant", Site: "Web site", Order: "Order number", Amount: "Amount", Time: "Date and time",
		RRN: "Transaction number (RRN)", Buyer: "Buyer", Auth: "Authorization code", OpType: "Operation type", Card: "Card",
		Items: "Items", Name: "Item", Price: "Price", Quantity: "Qty", Total: "Total",
		Terms: "Return and refund conditions", PDF: "Download PDF", QR: "Link to this receipt",
		Footer:     "Receipt issued by the Tulpar payment gateway.",
		FiscalSign: "Fiscal sign", FiscalLink: "Fiscal receipt at the fiscal data operator", FiscalQR: "Fiscal receipt QR code",
		NotFound: "Receipt not found: check the link.", NoReceipt: "There is no receipt for this order yet: the payment has not been approved.",
		OpTypes: map[order.OpType]string{order.OpPurchase: "Payment", order.OpAuthorization: "Pre-authorization (amount held)",
			order.OpCompletion: "Completion (amount captured)", order.OpRefund: "Refund"},
	},
}
