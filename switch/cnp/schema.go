package cnp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The request types, read from the tree exactly as the WSDL declares them:
// every member in its namespace (the wrappers' children in nsOps, the
// beans' members in nsBeans), every element optional, lists repeated,
// xsi:nil meaning absent (a nil list element is no element). An element
// the type does not declare, a member given twice, or structure where a
// value belongs is a schema error, answered with a SOAP fault; what the
// values say (missing, too long, malformed) is the operation's to judge,
// and it answers in the operation's own words.

// errSchema is wrapped by every schema error.
var errSchema = errors.New("request does not match the WSDL")

func schemaErr(path, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", errSchema, path, fmt.Sprintf(format, a...))
}

// members are the child elements of one complex-typed element by local
// name.
type members struct {
	path string
	m    map[string][]*node
}

// readMembers checks n's children against a type's member names (lists may
// repeat) in namespace ns.
func readMembers(n *node, path, ns string, names []string, lists ...string) (members, error) {
	ms := members{path: path, m: map[string][]*node{}}
	if n == nil || n.isNil() {
		return ms, nil
	}
	if strings.TrimSpace(n.text) != "" {
		return ms, schemaErr(path, "text where elements belong")
	}
	known := map[string]bool{}
	for _, name := range names {
		known[name] = false
	}
	for _, l := range lists {
		known[l] = true
	}
	for _, k := range n.kids {
		list, ok := known[k.name.Local]
		if !ok || k.name.Space != ns {
			return ms, schemaErr(path, "unexpected element %s", describe(k.name.Space, k.name.Local))
		}
		if !list && len(ms.m[k.name.Local]) > 0 {
			return ms, schemaErr(path, "%s given more than once", k.name.Local)
		}
		ms.m[k.name.Local] = append(ms.m[k.name.Local], k)
	}
	return ms, nil
}

func describe(space, local string) string {
	if space == "" {
		return local + " (no namespace)"
	}
	return "{" + space + "}" + local
}

// str is a simple member's text, trimmed; ok is false when it is absent or
// nil.
func (ms members) str(name string) (v string, ok bool, err error) {
	ns := ms.m[name]
	if len(ns) == 0 || ns[0].isNil() {
		return "", false, nil
	}
	n := ns[0]
	if len(n.kids) > 0 {
		return "", false, schemaErr(ms.path+"."+name, "elements where a value belongs")
	}
	return strings.TrimSpace(n.text), true, nil
}

// list returns a list member's elements, nil ones left out.
func (ms members) list(name string) []*node {
	var out []*node
	for _, n := range ms.m[name] {
		if !n.isNil() {
			out = append(out, n)
		}
	}
	return out
}

// one returns a single complex member, nil when absent or nil.
func (ms members) one(name string) *node {
	ns := ms.m[name]
	if len(ns) == 0 || ns[0].isNil() {
		return nil
	}
	return ns[0]
}

// strs reads several simple members into the pointers given, in order.
func (ms members) strs(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		v, _, err := ms.str(pairs[i].(string))
		if err != nil {
			return err
		}
		*pairs[i+1].(*string) = v
	}
	return nil
}

// xsBool reads an xs:boolean; ok is false when absent.
func (ms members) xsBool(name string) (v, ok bool, err error) {
	s, ok, err := ms.str(name)
	if err != nil || !ok {
		return false, false, err
	}
	switch s {
	case "true", "1":
		return true, true, nil
	case "false", "0":
		return false, true, nil
	}
	return false, false, schemaErr(ms.path+"."+name, "not an xs:boolean (true, false, 1 or 0)")
}

// xsInt reads an xs:int as its text; "" when absent. A value that is not
// an integer is a schema error.
func (ms members) xsInt(name string) (string, error) {
	s, ok, err := ms.str(name)
	if err != nil || !ok {
		return "", err
	}
	if _, err := strconv.ParseInt(s, 10, 32); err != nil {
		return "", schemaErr(ms.path+"."+name, "not an xs:int")
	}
	return s, nil
}

// Member names in WSDL order, for reading and for writing.
var (
	transactionDetailsMembers = []string{"billingAddress", "cardId", "currencyCode", "customerReference", "description",
		"goodsList", "languageCode", "merchantAdditionalInformationList", "merchantId", "merchantLocalDateTime", "orderId",
		"paymentType", "purchaserEmail", "purchaserName", "purchaserPhone", "returnURL", "terminalID", "totalAmount"}
	registrationDetailsMembers = []string{"currencyCode", "customerReference", "languageCode", "merchantId",
		"merchantLocalDateTime", "purchaserEmail", "purchaserName", "purchaserPhone", "returnURL", "terminalID", "totalAmount"}
	addressMembers   = []string{"addressLine1", "addressLine2", "city", "country", "county", "zip"}
	goodsItemMembers = []string{"amount", "currencyCode", "merchantsGoodsID", "nameOfGoods"}
	infoMembers      = []string{"key", "value"}
)

// goodsItem is a GoodsItem as sent.
type goodsItem struct {
	Amount       string `json:"amount,omitempty"`
	CurrencyCode string `json:"currencyCode,omitempty"`
	ID           string `json:"merchantsGoodsID,omitempty"`
	Name         string `json:"nameOfGoods,omitempty"`
}

// infoItem is an AdditionalInformation as sent.
type infoItem struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

func readGoods(ns []*node, path string) ([]goodsItem, error) {
	out := make([]goodsItem, 0, len(ns))
	for i, n := range ns {
		ms, err := readMembers(n, fmt.Sprintf("%s[%d]", path, i), nsBeans, goodsItemMembers)
		if err != nil {
			return nil, err
		}
		var g goodsItem
		if err := ms.strs("amount", &g.Amount, "merchantsGoodsID", &g.ID, "nameOfGoods", &g.Name); err != nil {
			return nil, err
		}
		if g.CurrencyCode, err = ms.xsInt("currencyCode"); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func readInfo(ns []*node, path string) ([]infoItem, error) {
	out := make([]infoItem, 0, len(ns))
	for i, n := range ns {
		ms, err := readMembers(n, fmt.Sprintf("%s[%d]", path, i), nsBeans, infoMembers)
		if err != nil {
			return nil, err
		}
		var it infoItem
		if err := ms.strs("key", &it.Key, "value", &it.Value); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// transactionDetails is TransactionDetails as sent (startTransaction).
type transactionDetails struct {
	BillingAddress    map[string]string `json:"billingAddress,omitempty"`
	CardID            string            `json:"cardId,omitempty"`
	CurrencyCode      string            `json:"currencyCode,omitempty"`
	CustomerReference string            `json:"customerReference,omitempty"`
	Description       string            `json:"description,omitempty"`
	Goods             []goodsItem       `json:"goodsList,omitempty"`
	LanguageCode      string            `json:"languageCode,omitempty"`
	Info              []infoItem        `json:"merchantAdditionalInformationList,omitempty"`
	MerchantID        string            `json:"merchantId,omitempty"`
	LocalDateTime     string            `json:"merchantLocalDateTime,omitempty"`
	OrderID           string            `json:"orderId,omitempty"`
	PaymentType       string            `json:"paymentType,omitempty"`
	PurchaserEmail    string            `json:"purchaserEmail,omitempty"`
	PurchaserName     string            `json:"purchaserName,omitempty"`
	PurchaserPhone    string            `json:"purchaserPhone,omitempty"`
	ReturnURL         string            `json:"returnURL,omitempty"`
	TerminalID        string            `json:"terminalID,omitempty"`
	TotalAmount       string            `json:"totalAmount,omitempty"`
}

func readTransactionDetails(n *node, path string) (*transactionDetails, error) {
	ms, err := readMembers(n, path, nsBeans, transactionDetailsMembers, "goodsList", "merchantAdditionalInformationList")
	if err != nil {
		return nil, err
	}
	t := &transactionDetails{}
	if err := ms.strs("cardId", &t.CardID, "customerReference", &t.CustomerReference, "description", &t.Description,
		"languageCode", &t.LanguageCode, "merchantId", &t.MerchantID, "merchantLocalDateTime", &t.LocalDateTime,
		"orderId", &t.OrderID, "purchaserEmail", &t.PurchaserEmail, "purchaserName", &t.PurchaserName,
		"purchaserPhone", &t.PurchaserPhone, "returnURL", &t.ReturnURL, "terminalID", &t.TerminalID,
		"totalAmount", &t.TotalAmount); err != nil {
		return nil, err
	}
	if t.CurrencyCode, err = ms.xsInt("currencyCode"); err != nil {
		return nil, err
	}
	if t.PaymentType, err = ms.xsInt("paymentType"); err != nil {
		return nil, err
	}
	if a := ms.one("billingAddress"); a != nil {
		am, err := readMembers(a, path+".billingAddress", nsBeans, addressMembers)
		if err != nil {
			return nil, err
		}
		t.BillingAddress = map[string]string{}
		for _, name := range addressMembers {
			v, ok, err := am.str(name)
			if err != nil {
				return nil, err
			}
			if ok {
				t.BillingAddress[name] = v
			}
		}
	}
	if t.Goods, err = readGoods(ms.list("goodsList"), path+".goodsList"); err != nil {
		return nil, err
	}
	if t.Info, err = readInfo(ms.list("merchantAdditionalInformationList"), path+".merchantAdditionalInformationList"); err != nil {
		return nil, err
	}
	return t, nil
}

// registrationDetails is RegistrationDetails as sent (startRegistration).
type registrationDetails struct {
	CurrencyCode      string `json:"currencyCode,omitempty"`
	CustomerReference string `json:"customerReference,omitempty"`
	LanguageCode      string `json:"languageCode,omitempty"`
	MerchantID        string `json:"merchantId,omitempty"`
	LocalDateTime     string `json:"merchantLocalDateTime,omitempty"`
	PurchaserEmail    string `json:"purchaserEmail,omitempty"`
	PurchaserName     string `json:"purchaserName,omitempty"`
	PurchaserPhone    string `json:"purchaserPhone,omitempty"`
	ReturnURL         string `json:"returnURL,omitempty"`
	TerminalID        string `json:"terminalID,omitempty"`
	TotalAmount       string `json:"totalAmount,omitempty"`
}

func readRegistrationDetails(n *node, path string) (*registrationDetails, error) {
	ms, err := readMembers(n, path, nsBeans, registrationDetailsMembers)
	if err != nil {
		return nil, err
	}
	t := &registrationDetails{}
	if err := ms.strs("customerReference", &t.CustomerReference, "languageCode", &t.LanguageCode,
		"merchantId", &t.MerchantID, "merchantLocalDateTime", &t.LocalDateTime, "purchaserEmail", &t.PurchaserEmail,
		"purchaserName", &t.PurchaserName, "purchaserPhone", &t.PurchaserPhone, "returnURL", &t.ReturnURL,
		"terminalID", &t.TerminalID, "totalAmount", &t.TotalAmount); err != nil {
		return nil, err
	}
	if t.CurrencyCode, err = ms.xsInt("currencyCode"); err != nil {
		return nil, err
	}
	return t, nil
}

// lookup is the request of the operations that name a transaction:
// getTransactionStatus, getExtendedTransactionStatus,
// getRegistrationStatus.
type lookup struct {
	MerchantID  string `json:"merchantId,omitempty"`
	ReferenceNr string `json:"referenceNr,omitempty"`
}

// completion is completeTransaction's and completeTransactionEx's request.
type completion struct {
	MerchantID     string      `json:"merchantId,omitempty"`
	ReferenceNr    string      `json:"referenceNr,omitempty"`
	Success        bool        `json:"transactionSuccess"`
	SuccessGiven   bool        `json:"-"`
	OverrideAmount string      `json:"overrideAmount,omitempty"`
	Goods          []goodsItem `json:"goods,omitempty"`
	// GoodsGiven tells an empty goods list from none (Ex only).
	GoodsGiven bool `json:"-"`
}

// refund is refundTransaction's request. Password is read so that a
// request carrying it is valid, and never kept or journaled.
type refund struct {
	MerchantID    string      `json:"merchantId,omitempty"`
	Password      string      `json:"-"`
	ReferenceNr   string      `json:"referenceNr,omitempty"`
	RefundAmount  string      `json:"refundAmount,omitempty"`
	Description   string      `json:"description,omitempty"`
	GoodsToRefund []goodsItem `json:"goodsToRefund,omitempty"`
	Info          []infoItem  `json:"additionalInformation,omitempty"`
}

// registrationCompletion is completeRegistration's request.
type registrationCompletion struct {
	MerchantID   string `json:"merchantId,omitempty"`
	ReferenceNr  string `json:"referenceNr,omitempty"`
	Success      bool   `json:"registrationSuccess"`
	SuccessGiven bool   `json:"-"`
}
