package hpp

import (
	"strconv"
	"strings"
)

// Languages the page speaks, in the order the switcher shows them.
var languages = []string{"kk", "ru", "en"}

// langNames are what the switcher shows: each language in itself.
var langNames = map[string]string{"kk": "Қазақша", "ru": "Русский", "en": "English"}

// pickLang returns the first supported language of candidates, else "ru"
// (the default language of orders registered without one).
func pickLang(candidates ...string) string {
	for _, c := range candidates {
		c = strings.ToLower(strings.TrimSpace(c))
		if _, ok := langNames[c]; ok {
			return c
		}
	}
	return "ru"
}

// texts are the page's words: en, ru, kk.
var texts = map[string][3]string{
	"title":            {"Payment", "Оплата", "Төлем"},
	"merchant":         {"Merchant", "Магазин", "Дүкен"},
	"amount":           {"Amount", "Сумма", "Сома"},
	"description":      {"Description", "Описание", "Сипаттама"},
	"order":            {"Order", "Заказ", "Тапсырыс"},
	"card":             {"Card", "Карта", "Карта"},
	"pan":              {"Card number", "Номер карты", "Карта нөмірі"},
	"expiry":           {"Valid thru", "Срок действия", "Жарамдылық мерзімі"},
	"expiry_ph":        {"MM/YY", "ММ/ГГ", "АА/ЖЖ"},
	"cvv":              {"CVV2/CVC2", "CVV2/CVC2", "CVV2/CVC2"},
	"cvv_hint":         {"3 digits on the back of the card", "3 цифры на обороте карты", "Картаның артындағы 3 сан"},
	"holder":           {"Cardholder name", "Имя владельца карты", "Карта иесінің аты"},
	"holder_ph":        {"AS ON THE CARD", "КАК НА КАРТЕ (латиницей)", "КАРТАДАҒЫДАЙ (латынша)"},
	"email":            {"E-mail for the receipt", "E-mail для чека", "Түбіртекке арналған e-mail"},
	"pay":              {"Pay", "Оплатить", "Төлеу"},
	"secure":           {"The card data goes over an encrypted connection straight to the payment system and is never shown to the merchant.", "Данные карты передаются по защищённому соединению прямо в платёжную систему и не видны магазину.", "Карта деректері қорғалған байланыс арқылы тікелей төлем жүйесіне жіберіледі және дүкенге көрсетілмейді."},
	"fix":              {"Please correct the highlighted fields.", "Исправьте отмеченные поля.", "Белгіленген өрістерді түзетіңіз."},
	"err_pan":          {"Check the card number.", "Проверьте номер карты.", "Карта нөмірін тексеріңіз."},
	"err_brand":        {"Cards of this payment system are not accepted.", "Карты этой платёжной системы не принимаются.", "Бұл төлем жүйесінің карталары қабылданбайды."},
	"err_expiry":       {"Enter the expiry date as MM/YY.", "Укажите срок действия в формате ММ/ГГ.", "Мерзімді АА/ЖЖ түрінде енгізіңіз."},
	"err_expired":      {"The card has expired.", "Срок действия карты истёк.", "Картаның мерзімі өтіп кеткен."},
	"err_cvv":          {"Enter the 3 or 4 digits of CVV2/CVC2.", "Введите 3 или 4 цифры CVV2/CVC2.", "CVV2/CVC2 кодының 3 немесе 4 санын енгізіңіз."},
	"err_holder":       {"Enter the name as it is written on the card.", "Укажите имя так, как оно написано на карте.", "Атыңызды картада жазылғандай енгізіңіз."},
	"err_email":        {"Check the e-mail address.", "Проверьте адрес e-mail.", "E-mail мекенжайын тексеріңіз."},
	"ok_title":         {"Payment successful", "Оплата прошла успешно", "Төлем сәтті өтті"},
	"fail_title":       {"Payment failed", "Оплата не прошла", "Төлем өтпеді"},
	"cancel_title":     {"The payment was cancelled", "Платёж отменён", "Төлемнің күші жойылды"},
	"wait_title":       {"The bank is confirming the payment", "Банк подтверждает платёж", "Банк төлемді растап жатыр"},
	"wait_text":        {"This page will refresh by itself.", "Страница обновится автоматически.", "Бет өздігінен жаңартылады."},
	"expired":          {"Payment session expired", "Время оплаты истекло", "Төлем уақыты өтті"},
	"expired_text":     {"The time to pay this order is over. Return to the merchant to place the order again.", "Время на оплату заказа закончилось. Вернитесь в магазин, чтобы оформить заказ заново.", "Тапсырысты төлеу уақыты аяқталды. Тапсырысты қайта рәсімдеу үшін дүкенге оралыңыз."},
	"redirect":         {"You will be returned to the merchant's site in a few seconds.", "Через несколько секунд вы вернётесь на сайт магазина.", "Бірнеше секундтан кейін дүкен сайтына ораласыз."},
	"back":             {"Return to the merchant", "Вернуться в магазин", "Дүкенге оралу"},
	"forbidden":        {"This page is out of date", "Страница устарела", "Бет ескірген"},
	"forbidden_tx":     {"For your security the payment was not made. Open the payment page again and repeat.", "В целях безопасности платёж не выполнен. Откройте страницу оплаты заново и повторите.", "Қауіпсіздік үшін төлем жасалмады. Төлем бетін қайта ашып, қайталаңыз."},
	"again":            {"Open the payment page", "Открыть страницу оплаты", "Төлем бетін ашу"},
	"notfound":         {"Order not found", "Заказ не найден", "Тапсырыс табылмады"},
	"notfound_tx":      {"Check the link you followed, or return to the merchant.", "Проверьте ссылку или вернитесь в магазин.", "Сілтемені тексеріңіз немесе дүкенге оралыңыз."},
	"error":            {"The payment could not be processed", "Не удалось выполнить платёж", "Төлемді орындау мүмкін болмады"},
	"error_tx":         {"Nothing was charged. Please try again in a few minutes.", "Деньги не списаны. Попробуйте ещё раз через несколько минут.", "Ақша алынған жоқ. Бірнеше минуттан кейін қайталап көріңіз."},
	"declined_neutral": {"The bank declined the payment. Try another card or contact your bank.", "Банк отклонил платёж. Попробуйте другую карту или обратитесь в свой банк.", "Банк төлемді қабылдамады. Басқа картаны қолданып көріңіз немесе банкіңізге хабарласыңыз."},
	"throttled":        {"Too many payment attempts", "Слишком много попыток оплаты", "Төлем әрекеттері тым көп"},
	"throttled_tx":     {"Too many cards were tried from your network. Nothing was charged. Try again in %d s.", "С вашей сети было слишком много попыток оплаты картой. Деньги не списаны. Повторите через %d с.", "Сіздің желіңізден карта арқылы төлеу әрекеттері тым көп болды. Ақша алынған жоқ. %d с кейін қайталаңыз."},
	"unavailable":      {"The payment service is temporarily unavailable", "Платёжный сервис временно недоступен", "Төлем қызметі уақытша қолжетімсіз"},
	"stored":           {"Pay with your saved card", "Оплата сохранённой картой", "Сақталған картамен төлеу"},
	"keep":             {"Remember this card for my next payments in this shop", "Запомнить карту для следующих оплат в этом магазине", "Картаны осы дүкендегі келесі төлемдерім үшін сақтау"},
	"continue":         {"Continue", "Продолжить", "Жалғастыру"},
	"language":         {"Language", "Язык", "Тіл"},
}

// t returns the text of key in lang.
func t(lang, key string) string {
	v, ok := texts[key]
	if !ok {
		return key
	}
	switch lang {
	case "ru":
		return v[1]
	case "kk":
		return v[2]
	}
	return v[0]
}

// currencies knows the sign and exponent of the currencies a Kazakh
// acquirer meets; others show their ISO 4217 numeric code.
var currencies = map[string]struct {
	sign string
	exp  int
}{
	"398": {"₸", 2}, "643": {"₽", 2}, "840": {"$", 2}, "978": {"€", 2},
	"156": {"¥", 2}, "417": {"сом", 2}, "860": {"сўм", 2}, "392": {"¥", 0}, "410": {"₩", 0},
}

// nbsp keeps an amount on one line: groups and sign never wrap apart.
const nbsp = "\u00a0"

// formatAmount writes minor units the way Kazakhstan writes money in all
// three languages: 1500000 tiyn is "15 000,00 ₸" (no-break spaces between
// groups and before the sign).
func formatAmount(minor int64, currency string) string {
	c, ok := currencies[currency]
	if !ok {
		c.sign, c.exp = currency, 2
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	for len(s) <= c.exp {
		s = "0" + s
	}
	whole, frac := s[:len(s)-c.exp], s[len(s)-c.exp:]
	var b strings.Builder
	if neg {
		b.WriteString("−")
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(nbsp)
		}
		b.WriteRune(d)
	}
	if c.exp > 0 {
		b.WriteString(",")
		b.WriteString(frac)
	}
	b.WriteString(nbsp)
	b.WriteString(c.sign)
	return b.String()
}
