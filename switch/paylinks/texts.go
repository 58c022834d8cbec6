package paylinks

// text is a language's wording of the link's page and the invoice mail.
type text struct {
	Title, Merchant, Description, Amount, AmountRange, Email, Name, Pay, PayBy string
	NotFound, Expired, Disabled, Paid, QR, Check, BeingPaid, TooMany           string
	// Mail: the subject (description or number), greeting and footer.
	MailSubject, MailBody, MailFooter string
}

var texts = map[string]text{
	"ru": {
		Title: "Оплата", Merchant: "Магазин", Description: "Назначение", Amount: "Сумма",
		AmountRange: "от %s до %s", Email: "Электронная почта", Name: "Имя", Pay: "Перейти к оплате", PayBy: "Оплатить до",
		NotFound: "Ссылка не найдена: проверьте адрес.", Expired: "Срок действия ссылки истёк.",
		Disabled: "Ссылка отключена магазином.", Paid: "Счёт уже оплачен.", QR: "QR-код ссылки", Check: "проверьте значение",
		BeingPaid:   "Этот счёт сейчас оплачивает другой покупатель. Попробуйте через несколько минут.",
		TooMany:     "С вашей сети было слишком много заказов. Повторите через %d с.",
		MailSubject: "Счёт на оплату от %s: %s",
		MailBody:    "Здравствуйте!\n\n%s выставил вам счёт на оплату.\n\n%s\nСумма: %s\n%s\nОплатить: %s\n\nQR-код ссылки во вложении.",
		MailFooter:  "Письмо отправлено автоматически, отвечать на него не нужно.",
	},
	"kk": {
		Title: "Төлем", Merchant: "Дүкен", Description: "Мақсаты", Amount: "Сомасы",
		AmountRange: "%s бастап %s дейін", Email: "Электрондық пошта", Name: "Аты", Pay: "Төлеуге өту", PayBy: "Төлеу мерзімі",
		NotFound: "Сілтеме табылмады: мекенжайды тексеріңіз.", Expired: "Сілтеменің мерзімі өтті.",
		Disabled: "Сілтемені дүкен өшірді.", Paid: "Шот төленіп қойған.", QR: "Сілтеменің QR-коды", Check: "мәнін тексеріңіз",
		BeingPaid:   "Бұл шотты қазір басқа сатып алушы төлеп жатыр. Бірнеше минуттан кейін қайталап көріңіз.",
		TooMany:     "Сіздің желіңізден тапсырыстар тым көп болды. %d с кейін қайталаңыз.",
		MailSubject: "%s төлем шоты: %s",
		MailBody:    "Сәлеметсіз бе!\n\n%s сізге төлем шотын жіберді.\n\n%s\nСомасы: %s\n%s\nТөлеу: %s\n\nСілтеменің QR-коды тіркемеде.",
		MailFooter:  "Хат автоматты түрде жіберілді, оған жауап берудің қажеті жоқ.",
	},
	"en": {
		Title: "Payment", Merchant: "Shop", Description: "For", Amount: "Amount",
		AmountRange: "from %s to %s", Email: "E-mail", Name: "Name", Pay: "Go to payment", PayBy: "Pay by",
		NotFound: "Link not found: check the address.", Expired: "This payment link has expired.",
		Disabled: "The shop has switched this payment link off.", Paid: "This invoice is already paid.", QR: "QR code of the link", Check: "please check the value",
		BeingPaid:   "Someone else is paying this invoice right now. Try again in a few minutes.",
		TooMany:     "Too many orders were made from your network. Try again in %d s.",
		MailSubject: "Invoice from %s: %s",
		MailBody:    "Hello,\n\n%s has sent you an invoice.\n\n%s\nAmount: %s\n%s\nPay: %s\n\nThe QR code of the link is attached.",
		MailFooter:  "This message was sent automatically; there is no need to reply.",
	},
}

// language is lang when the page speaks it, else Russian.
func language(lang string) string {
	if _, ok := texts[lang]; ok {
		return lang
	}
	return "ru"
}
