package order

// Action codes are what the RBS gateway reports to merchants in actionCode,
// with a text in the order's language. Plugins branch on the numbers, so
// they follow that gateway's table; the DE39 code behind each stays in the
// operation for the cabinet and the auditors.
const (
	ActionApproved        = 0
	ActionDeclined        = 100    // card restrictions / do not honour
	ActionExpiredCard     = 101    // card expired
	ActionNoIssuer        = 103    // no connection with the issuer (timeout, no route)
	ActionRestricted      = 104    // account restricted
	ActionCallIssuer      = 107    // refer to card issuer
	ActionInvalidMerchant = 109    // invalid merchant
	ActionInvalidAmount   = 110    // invalid amount
	ActionInvalidCard     = 111    // wrong card number
	ActionFunds           = 116    // insufficient funds
	ActionNotPermitted    = 120    // transaction not permitted by issuer
	ActionLimit           = 121    // limit exceeded
	ActionLostStolen      = 208    // lost or stolen card
	ActionSystemError     = 909    // cannot perform the operation
	ActionIssuerDown      = 910    // issuer unavailable
	ActionFormat          = 913    // format error
	ActionBadCardData     = 71015  // wrong card data (CVV2, expiry)
	ActionThreeDSFailed   = -2006  // issuer declined 3-D Secure authentication
	ActionExpired         = -2007  // payment session expired
	ActionThreeDSError    = 151017 // 3-D Secure error
	// The bank approved another amount than asked, and the switch reversed
	// it. RBS publishes no codes for these; like ActionMerchantDeclined
	// they lie outside the negative codes it does publish.
	ActionPartialApproval = -2101 // DE39 10, and the merchant takes no partial amounts
	ActionAmountMismatch  = -2102 // approved with a DE4 other than the amount asked
	// ActionMerchantDeclined is the action code of an order the merchant
	// declined before payment. RBS publishes no code for it; -2100 lies
	// outside the negative codes it does publish, so no plugin mistakes it
	// for one.
	ActionMerchantDeclined = -2100
)

var actionByDE39 = map[string]int{
	"00": ActionApproved, "08": ActionApproved, "10": ActionApproved,
	"01": ActionCallIssuer, "03": ActionInvalidMerchant, "04": ActionLostStolen, "05": ActionDeclined,
	"06": ActionSystemError, "12": ActionNotPermitted, "13": ActionInvalidAmount, "14": ActionInvalidCard,
	"15": ActionInvalidCard, "19": ActionSystemError, "25": ActionSystemError, "30": ActionFormat,
	"41": ActionLostStolen, "43": ActionLostStolen, "51": ActionFunds, "54": ActionExpiredCard,
	"57": ActionNotPermitted, "58": ActionNotPermitted, "61": ActionLimit, "62": ActionRestricted,
	"65": ActionLimit, "68": ActionNoIssuer, "82": ActionBadCardData, "N7": ActionBadCardData,
	"91": ActionIssuerDown, "92": ActionIssuerDown, "94": ActionSystemError, "96": ActionSystemError,
}

// ActionForDE39 maps a bank's response code to the merchant-facing action code.
func ActionForDE39(rc string) int {
	if a, ok := actionByDE39[rc]; ok {
		return a
	}
	return ActionDeclined
}

var actionTexts = map[int][3]string{ // en, ru, kk
	ActionApproved:         {"Request processed successfully", "Запрос обработан успешно", "Сұраныс сәтті өңделді"},
	ActionDeclined:         {"Declined: card restrictions", "Отказ: ограничение по карте", "Бас тарту: карта бойынша шектеу"},
	ActionExpiredCard:      {"Card expired", "Истёк срок действия карты", "Картаның жарамдылық мерзімі өтті"},
	ActionNoIssuer:         {"No connection with the issuer", "Нет связи с банком-эмитентом", "Эмитент банкпен байланыс жоқ"},
	ActionRestricted:       {"Account restricted", "Операции по счёту ограничены", "Шот бойынша операциялар шектелген"},
	ActionCallIssuer:       {"Contact the card issuer", "Обратитесь в банк-эмитент", "Эмитент банкке хабарласыңыз"},
	ActionInvalidMerchant:  {"Invalid merchant", "Неверный идентификатор мерчанта", "Мерчант идентификаторы қате"},
	ActionInvalidAmount:    {"Invalid amount", "Неверная сумма", "Сома қате"},
	ActionInvalidCard:      {"Invalid card number", "Неверный номер карты", "Карта нөмірі қате"},
	ActionFunds:            {"Insufficient funds", "Недостаточно средств", "Қаражат жеткіліксіз"},
	ActionNotPermitted:     {"Transaction not permitted by the issuer", "Операция не разрешена эмитентом", "Операцияға эмитент рұқсат бермеді"},
	ActionLimit:            {"Limit exceeded", "Превышен лимит", "Лимиттен асып кетті"},
	ActionLostStolen:       {"Card lost or stolen", "Карта утеряна или украдена", "Карта жоғалған немесе ұрланған"},
	ActionSystemError:      {"Cannot perform the operation", "Невозможно выполнить операцию", "Операцияны орындау мүмкін емес"},
	ActionIssuerDown:       {"Issuer unavailable", "Эмитент недоступен", "Эмитент қолжетімсіз"},
	ActionFormat:           {"Format error", "Ошибка формата", "Формат қатесі"},
	ActionBadCardData:      {"Wrong card data", "Неверные данные карты", "Карта деректері қате"},
	ActionThreeDSFailed:    {"3-D Secure authentication failed", "Неуспешная аутентификация 3-D Secure", "3-D Secure аутентификациясы сәтсіз"},
	ActionExpired:          {"Payment session expired", "Истёк срок ожидания оплаты", "Төлем уақыты өтті"},
	ActionThreeDSError:     {"3-D Secure error", "Ошибка 3-D Secure", "3-D Secure қатесі"},
	ActionMerchantDeclined: {"Order declined by the merchant", "Заказ отклонён магазином", "Тапсырысты дүкен қабылдамады"},
	ActionPartialApproval:  {"The bank approved only part of the amount; the payment is cancelled", "Банк одобрил только часть суммы; платёж отменён", "Банк соманың бір бөлігін ғана мақұлдады; төлем жойылды"},
	ActionAmountMismatch:   {"The bank approved a different amount; the payment is cancelled", "Банк одобрил другую сумму; платёж отменён", "Банк басқа соманы мақұлдады; төлем жойылды"},
}

// ActionText returns an action code's text in lang ("en", "ru" or "kk";
// anything else is English).
func ActionText(code int, lang string) string {
	t, ok := actionTexts[code]
	if !ok {
		t = actionTexts[ActionDeclined]
	}
	switch lang {
	case "ru":
		return t[1]
	case "kk":
		return t[2]
	}
	return t[0]
}
