package iso

import (
	"time"

	"github.com/tulpar-switch/tulpar/specs"
)

// sampleTime is the fixed clock of every sample and golden file.
var sampleTime = time.Date(2026, 11, 23, 14, 5, 9, 0, time.UTC)

func i64(v int64) *int64 { return &v }

// samples returns one typical message per MTI, as an e-commerce acquirer
// sends them (requests) and a host answers them (responses). The golden
// files in testdata/ spell out the bytes of each, field by field.
func samples() map[string]*Message {
	auth := &Message{
		MTI: MTIAuthorization, PAN: "4111111111111111", ProcessingCode: ProcPurchase,
		Amount: 1500000, HasAmount: true, TransmissionTime: "1123140509", STAN: "000123",
		LocalTime: "190509", LocalDate: "1123", Expiry: "2812", MCC: "5411",
		POSEntryMode: POSEntryEcommerce, POSCondition: POSConditionECom, AcquirerID: "400123",
		RRN: "6327140000AB", TerminalID: "TLP00001", MerchantID: "000000000001234",
		MerchantName: "Demo Shop               Almaty       KZ", Currency: CurrencyKZT,
		ThreeDS: &ThreeDS{ECI: "05", CAVV: "AAABBEg0VhI0VniQEjRWAAAAAAA=", TransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"},
		CVV2:    "123",
	}
	// Odd counts of digits in the binary dialect's BCD LL fields: jPOS packs
	// them left-aligned, so the PAN and the acquirer code end in a 0 nibble.
	amex := &Message{
		MTI: MTIAuthorization, PAN: "378282246310005", ProcessingCode: ProcPurchase,
		Amount: 990000, HasAmount: true, TransmissionTime: "1123140509", STAN: "000128",
		LocalTime: "190509", LocalDate: "1123", Expiry: "2812", MCC: "5411",
		POSEntryMode: POSEntryEcommerce, POSCondition: POSConditionECom, AcquirerID: "40012345678",
		RRN: "6327140000AD", TerminalID: "TLP00001", MerchantID: "000000000001234",
		MerchantName: auth.MerchantName, Currency: CurrencyKZT, CVV2: "1234",
	}
	authResp := &Message{
		MTI: MTIAuthorizationResponse, PAN: auth.PAN, ProcessingCode: ProcPurchase, Amount: 1500000, HasAmount: true,
		TransmissionTime: auth.TransmissionTime, STAN: auth.STAN, LocalTime: auth.LocalTime, LocalDate: auth.LocalDate,
		AcquirerID: auth.AcquirerID, RRN: auth.RRN, ApprovalCode: "A1B2C3", ResponseCode: RCApproved,
		TerminalID: auth.TerminalID, MerchantID: auth.MerchantID, Currency: CurrencyKZT,
	}
	fin := *auth
	fin.MTI = MTIFinancial
	fin.ThreeDS = &ThreeDS{ECI: "07"}
	// A merchant-initiated payment with a stored card: DE22 says credential
	// on file, the private field says who started it, and there is no
	// CVV2 (nobody may keep one).
	cof := fin
	cof.POSEntryMode, cof.CVV2, cof.StoredCredential = "102", "", specs.StoredMerchant
	finResp := *authResp
	finResp.MTI = MTIFinancialResponse
	finResp.ApprovalCode = ""
	finResp.ResponseCode = RCInsufficientFunds
	refund := &Message{
		MTI: MTIFinancial, PAN: "5555555555555599", ProcessingCode: ProcRefund, Amount: 250050, HasAmount: true,
		TransmissionTime: "1123140509", STAN: "000124", LocalTime: "190509", LocalDate: "1123", Expiry: "2712",
		MCC: "5411", POSEntryMode: POSEntryEcommerce, POSCondition: POSConditionECom, AcquirerID: "400123",
		RRN: "6327140000AC", TerminalID: "TLP00001", MerchantID: "000000000001234", Currency: CurrencyKZT,
	}
	orig := &OriginalData{MTI: MTIAuthorization, STAN: "000123", TransmissionTime: "1123140509", AcquirerID: "400123"}
	adv := &Message{
		MTI: MTICompletionAdvice, PAN: auth.PAN, ProcessingCode: ProcPurchase, Amount: 1000000, HasAmount: true,
		TransmissionTime: "1123141000", STAN: "000125", LocalTime: "191000", LocalDate: "1123", Expiry: "2812",
		AcquirerID: "400123", RRN: auth.RRN, ApprovalCode: "A1B2C3", TerminalID: "TLP00001",
		MerchantID: "000000000001234", Currency: CurrencyKZT, Original: orig,
	}
	advRep := *adv
	advRep.MTI = MTICompletionAdviceRepeat
	advResp := &Message{
		MTI: MTICompletionAdviceResponse, ProcessingCode: ProcPurchase, Amount: 1000000, HasAmount: true,
		TransmissionTime: "1123141000", STAN: "000125", AcquirerID: "400123", RRN: auth.RRN, ResponseCode: RCApproved,
		TerminalID: "TLP00001", MerchantID: "000000000001234", Currency: CurrencyKZT, Original: orig,
	}
	rev := &Message{
		MTI: MTIReversal, PAN: auth.PAN, ProcessingCode: ProcPurchase, Amount: 1500000, HasAmount: true,
		TransmissionTime: "1123141500", STAN: "000126", AcquirerID: "400123", RRN: auth.RRN,
		TerminalID: "TLP00001", MerchantID: "000000000001234", Currency: CurrencyKZT, Original: orig,
		ActualAmount: i64(500000),
	}
	revResp := &Message{
		MTI: MTIReversalResponse, ProcessingCode: ProcPurchase, Amount: 1500000, HasAmount: true,
		TransmissionTime: "1123141500", STAN: "000126", AcquirerID: "400123", RRN: auth.RRN, ResponseCode: RCApproved,
		TerminalID: "TLP00001", MerchantID: "000000000001234", Currency: CurrencyKZT, Original: orig,
		ActualAmount: i64(500000),
	}
	revAdv := *rev
	revAdv.MTI, revAdv.ActualAmount, revAdv.STAN = MTIReversalAdvice, nil, "000127"
	revAdvRep := revAdv
	revAdvRep.MTI = MTIReversalAdviceRepeat
	revAdvResp := &Message{
		MTI: MTIReversalAdviceResponse, ProcessingCode: ProcPurchase, Amount: 1500000, HasAmount: true,
		TransmissionTime: "1123141500", STAN: "000127", AcquirerID: "400123", RRN: auth.RRN, ResponseCode: RCOriginalNotFound,
		TerminalID: "TLP00001", MerchantID: "000000000001234", Currency: CurrencyKZT, Original: orig,
	}
	net := &Message{MTI: MTINetworkManagement, TransmissionTime: "1123140000", STAN: "000001", AcquirerID: "400123", NetworkCode: NetSignOn}
	netResp := &Message{MTI: MTINetworkManagementResponse, TransmissionTime: "1123140000", STAN: "000001", AcquirerID: "400123", ResponseCode: RCApproved, NetworkCode: NetSignOn}
	keyChange := &Message{MTI: MTINetworkManagement, TransmissionTime: "1123140100", STAN: "000002", AcquirerID: "400123", NetworkCode: NetKeyChange,
		KeyUnderZMK: "8A2C1F9E03D4B5A6C7E8F9012345678901ABCDEF23456789", KeyCheckValue: "0F1E2D",
		MAC: []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF}}
	return map[string]*Message{
		"0100": auth, "0100-amex": amex, "0110": authResp, "0200": &fin, "0200-cof": &cof, "0200-refund": refund, "0210": &finResp,
		"0220": adv, "0221": &advRep, "0230": advResp, "0400": rev, "0410": revResp,
		"0420": &revAdv, "0421": &revAdvRep, "0430": revAdvResp, "0800": net, "0810": netResp,
		"0800-keychange": keyChange,
	}
}
