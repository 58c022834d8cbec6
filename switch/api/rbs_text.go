package api

import (
	"fmt"
	"strings"
)

// The RBS facade speaks the merchant's language: every errorMessage (and
// the success message) is in the request's language parameter, Russian
// when there is none, as the RBS gateway answers. Plugins branch on
// errorCode; the message is for the people who read the shop's logs.

// Languages of the facade's messages.
const (
	langRU = "ru"
	langKK = "kk"
	langEN = "en"
)

// normLanguage reads a language parameter: ru, kk or en in any case, and
// kz, which shops send for Kazakh (the country's code, not ISO 639's), as
// kk. It answers "" and false for anything else.
func normLanguage(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", true
	case "ru":
		return langRU, true
	case "kk", "kz":
		return langKK, true
	case "en":
		return langEN, true
	}
	return "", false
}

// text is one message in the facade's three languages: a fmt format each.
type text struct{ ru, kk, en string }

func (t text) in(lang string) string {
	switch lang {
	case langKK:
		return t.kk
	case langEN:
		return t.en
	}
	return t.ru
}

// loc is a message with its arguments, rendered in a language when the
// answer is written; an argument that is itself a loc is rendered in the
// same language.
type loc struct {
	t    text
	args []any
}

func l(t text, args ...any) loc { return loc{t, args} }

func (m loc) in(lang string) string {
	if len(m.args) == 0 {
		return m.t.in(lang)
	}
	args := make([]any, len(m.args))
	for i, a := range m.args {
		if n, ok := a.(loc); ok {
			a = n.in(lang)
		}
		args[i] = a
	}
	return fmt.Sprintf(m.t.in(lang), args...)
}

// Messages. The English ones that plugins were written against keep the
// gateway's words.
var (
	tSuccess        = text{"Успешно", "Сәтті", "Success"}
	tAccess         = text{"Доступ запрещён", "Қол жеткізуге тыйым салынған", "Access denied"}
	tMerchantLogin  = text{"Доступ запрещён: %s должен быть логином самого магазина", "Қол жеткізуге тыйым салынған: %s дүкеннің өз логині болуы керек", "Access denied: %s must be your own login"}
	tDuplicate      = text{"Заказ с таким номером уже обработан", "Бұл нөмірі бар тапсырыс бұрын өңделген", "Order number is duplicated, order with given order number is processed already"}
	tNoOrder        = text{"Заказ с таким orderId не зарегистрирован", "Мұндай orderId бар тапсырыс тіркелмеген", "Order ID is not registered"}
	tNoOrderNumber  = text{"Заказ с таким orderNumber не зарегистрирован", "Мұндай orderNumber бар тапсырыс тіркелмеген", "Order number is not registered"}
	tState          = text{"Платёж должен быть в корректном состоянии", "Төлем тиісті күйде болуы керек", "Payment must be in the correct state"}
	tDepositMax     = text{"Сумма списания превышает одобренную сумму", "Есептен шығару сомасы мақұлданған сомадан асады", "Deposit amount exceeds the approved amount"}
	tRefundMax      = text{"Сумма возврата превышает списанную сумму", "Қайтару сомасы есептен шығарылған сомадан асады", "Refund amount exceeds the deposited amount"}
	tReverseMax     = text{"Сумма отмены превышает одобренную сумму", "Болдырмау сомасы мақұлданған сомадан асады", "Reversal amount exceeds the approved amount"}
	tAmountEmpty    = text{"Не указана сумма (amount)", "Сома (amount) көрсетілмеген", "Amount can not be empty"}
	tAmountBad      = text{"Неверная сумма (amount)", "Сома (amount) қате", "Invalid amount"}
	tCurrency       = text{"Неизвестная валюта (currency)", "Белгісіз валюта (currency)", "Currency is unknown"}
	tUnavailable    = text{"Сервис временно недоступен, повторите запрос позже", "Қызмет уақытша қолжетімсіз, сұранысты кейінірек қайталаңыз", "Service temporarily unavailable, try again later"}
	tInProgress     = text{"По заказу уже выполняется операция, проверьте его статус позже", "Тапсырыс бойынша операция орындалуда, оның күйін кейінірек тексеріңіз", "An operation on this order is in progress, check its status later"}
	tSystem         = text{"Системная ошибка", "Жүйелік қате", "System error"}
	tBankDeclined   = text{"Операция отклонена банком", "Операцияны банк қабылдамады", "Operation declined by the bank"}
	tBankDown       = text{"Банк недоступен, повторите позже", "Банк қолжетімсіз, кейінірек қайталаңыз", "Bank is unavailable, try again later"}
	tKeyReused      = text{"externalRefundId уже использован для возврата другой суммы", "externalRefundId басқа соманы қайтаруға пайдаланылған", "externalRefundId is already used for a refund of another amount"}
	tExpected       = text{"Списанная сумма не совпадает с expectedDepositedAmount", "Есептен шығарылған сома expectedDepositedAmount мәнімен сәйкес емес", "Deposited amount does not match expectedDepositedAmount"}
	tRefundTimeout  = text{"Банк не ответил; возврат отменён, повторите его", "Банк жауап бермеді; қайтару болдырылмады, оны қайталаңыз", "Bank did not answer; the refund is cancelled, try again"}
	tRefundDeclined = text{"Возврат отклонён банком", "Қайтаруды банк қабылдамады", "Refund declined by the bank"}
	tOrderExpired   = text{"Срок оплаты заказа истёк", "Тапсырысты төлеу мерзімі өтті", "Order has expired"}
	tTooLarge       = text{"Слишком большой запрос", "Сұраныс тым үлкен", "Request is too large"}
	tMalformed      = text{"Некорректный запрос", "Сұраныстың пішімі қате", "Malformed request"}
	tContentType    = text{"Content-Type должен быть application/x-www-form-urlencoded", "Content-Type application/x-www-form-urlencoded болуы керек", "Content-Type must be application/x-www-form-urlencoded"}
	tCharset        = text{"Кодировка %s в Content-Type не поддерживается: используйте UTF-8 или windows-1251", "Content-Type ішіндегі %s кодтамасына қолдау жоқ: UTF-8 немесе windows-1251 қолданыңыз", "Unsupported charset %s in Content-Type: send UTF-8 or windows-1251"}
	tLocked         = text{"Доступ запрещён: слишком много неудачных попыток входа; повторите через %d с", "Қол жеткізуге тыйым салынған: сәтсіз кіру әрекеттері тым көп; %d с кейін қайталаңыз", "Access denied: too many failed sign-ins; retry in %d s"}
	tRepeated       = text{"Параметр %s передан более одного раза", "%s параметрі бірнеше рет берілген", "Parameter %s is given more than once"}
	tUnknownMethod  = text{"Неизвестный метод %s", "Белгісіз әдіс: %s", "Unknown method %s"}
	tHTTPMethod     = text{"HTTP-метод %s не разрешён для %s", "%[2]s үшін %[1]s HTTP әдісіне рұқсат жоқ", "HTTP method %s is not allowed for %s"}

	// tEmpty names a missing parameter; the English keeps the gateway's
	// words for the parameters it words (see emptyEN).
	tEmpty = text{"Не указан параметр %s", "%s параметрі көрсетілмеген", "%s can not be empty"}
	// tInvalid names a parameter and says what it must be.
	tInvalid = text{"Неверное значение параметра %s: %s", "%s параметрінің мәні қате: %s", "Invalid %s: %s"}
)

// emptyEN is how the gateway's English words a missing parameter.
var emptyEN = map[string]string{
	"orderId": "Order ID", "orderNumber": "Order number", "userName": "User name", "password": "Password",
	"returnUrl": "Return URL", "amount": "Amount",
}

// Reasons, the second argument of tInvalid.
var (
	rURL          = text{"нужен абсолютный адрес http(s) не длиннее 512 символов", "ұзындығы 512 таңбадан аспайтын абсолютті http(s) мекенжайы болуы керек", "must be an absolute http(s) URL of at most 512 characters"}
	rMaxChars     = text{"не более %d печатных символов", "%d басылатын таңбадан аспауы керек", "at most %d printable characters"}
	rOrderNumber  = text{"от 1 до 36 печатных символов", "1-ден 36-ға дейін басылатын таңба", "1 to 36 printable characters"}
	rLanguage     = text{"ru, kk (kz) или en", "ru, kk (kz) немесе en", "must be ru, kk or en"}
	rEmail        = text{"не адрес электронной почты", "электрондық пошта мекенжайы емес", "not an e-mail address"}
	rPhone        = text{"не номер телефона (+7 701 123 45 67, 8 701 123-45-67...)", "телефон нөмірі емес (+7 701 123 45 67, 8 701 123-45-67...)", "not a phone number (+7 701 123 45 67, 8 701 123-45-67...)"}
	rJSONObject   = text{"должен быть объектом JSON", "JSON нысаны болуы керек", "must be a JSON object"}
	rParamsCount  = text{"не более %d параметров", "%d параметрден аспауы керек", "at most %d parameters"}
	rParamName    = text{"имя %q: от 1 до %d печатных символов", "%q атауы: 1-ден %d-ке дейін басылатын таңба", "name %q: 1 to %d printable characters"}
	rParamValue   = text{"значение %q: не более %d печатных символов", "%q мәні: %d басылатын таңбадан аспауы керек", "value of %q: at most %d printable characters"}
	rSeconds      = text{"целое число секунд от 1 до 2592000", "1-ден 2592000-ға дейінгі бүтін секунд саны", "a whole number of seconds, 1 to 2592000"}
	rExpiration   = text{"yyyy-MM-ddTHH:mm:ss (UTC+5), в ближайшие 30 дней", "yyyy-MM-ddTHH:mm:ss (UTC+5), алдағы 30 күн ішінде", "yyyy-MM-ddTHH:mm:ss (UTC+5), within the next 30 days"}
	rCallbackHost = text{"хост не совпадает с адресом уведомлений магазина и не указан в его callback_hosts", "хост дүкеннің хабарлама мекенжайымен сәйкес емес және оның callback_hosts тізімінде жоқ", "the host is neither the merchant's callback host nor in its callback_hosts"}
	rNoCallbacks  = text{"уведомления для магазина не настроены", "дүкен үшін хабарламалар бапталмаған", "callbacks are not configured for this merchant"}
	rOtherOrder   = text{"указывает не тот заказ, что orderId", "orderId-мен басқа тапсырысты көрсетеді", "names another order than orderId"}
	rDate         = text{"дата и время в формате yyyyMMddHHmmss (UTC+5)", "yyyyMMddHHmmss пішіміндегі күн мен уақыт (UTC+5)", "a date and time as yyyyMMddHHmmss (UTC+5)"}
	rFromTo       = text{"должно быть позже from", "from-нан кейін болуы керек", "must be after from"}
	rStates       = text{"через запятую: CREATED, APPROVED, DEPOSITED, DECLINED, REVERSED, REFUNDED", "үтір арқылы: CREATED, APPROVED, DEPOSITED, DECLINED, REVERSED, REFUNDED", "comma-separated CREATED, APPROVED, DEPOSITED, DECLINED, REVERSED, REFUNDED"}
	rSize         = text{"целое число от 1 до %d", "1-ден %d-ге дейінгі бүтін сан", "a whole number, 1 to %d"}
	rPage         = text{"целое число от 0", "0-ден бастап бүтін сан", "a whole number from 0"}
	rBool         = text{"true или false", "true немесе false", "true or false"}
	rOwnLogin     = text{"только собственный логин магазина", "тек дүкеннің өз логині", "only your own login"}
	rRequired     = text{"обязательно", "міндетті", "is required"}
	rPositive     = text{"положительное число", "оң сан", "a positive number"}
	rMinorUnits   = text{"целое число минимальных единиц валюты, от 0 до 10^12", "валютаның ең кіші бірліктерінің бүтін саны, 0-ден 10^12-ге дейін", "a whole number of minor units, 0 to 10^12"}
	rPriceAmount  = text{"нужен itemPrice или itemAmount", "itemPrice немесе itemAmount қажет", "needs itemPrice or itemAmount"}
	rLineAmount   = text{"равно %d, а itemPrice × quantity = %d", "%d тең, ал itemPrice × quantity = %d", "is %d, itemPrice × quantity is %d"}
	rCartTotal    = text{"сумма itemAmount позиций %d, а сумма заказа %d", "позициялардың itemAmount сомасы %d, ал тапсырыс сомасы %d", "the items' itemAmount add up to %d, the order's amount is %d"}
	rMaxItems     = text{"от 1 до %d позиций в cartItems.items", "cartItems.items ішінде 1-ден %d-ке дейін позиция", "1 to %d items in cartItems.items"}
	rTaxType      = text{"целое число от 0 до 10", "0-ден 10-ға дейінгі бүтін сан", "a whole number, 0 to 10"}
	rCardYear     = text{"YYYY — год из четырёх цифр, MM — месяц из двух", "YYYY — төрт цифрлы жыл, MM — екі цифрлы ай", "YYYY must be a four-digit year and MM a two-digit month"}
	rReason       = text{"%s", "%s", "%s"}
)

// empty is the error for a missing parameter.
func empty(code, param string) *rbsError {
	e := rbsErr(code, tEmpty, param)
	if en, ok := emptyEN[param]; ok {
		e.en = en + " can not be empty"
	}
	return e
}

// invalid is the error for a parameter that breaks a rule.
func invalid(param string, reason loc) *rbsError {
	return rbsErr(rbsWrong, tInvalid, param, reason)
}
