package cnp

import (
	"bytes"
	"strings"
	"testing"
)

const fuzzSeed = `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://kz.processing.cnp.merchant_ws/xsd" xmlns:ns2="http://beans.common.cnp.processing.kz/xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><SOAP-ENV:Body><ns1:startTransaction><ns1:transaction><ns2:billingAddress xsi:nil="true"/><ns2:currencyCode>398</ns2:currencyCode><ns2:customerReference xsi:nil="true"/><ns2:description>Покупка</ns2:description><ns2:goodsList id="ref1"><ns2:amount>50000</ns2:amount><ns2:currencyCode>398</ns2:currencyCode><ns2:merchantsGoodsID>PEN-1</ns2:merchantsGoodsID><ns2:nameOfGoods>Ручка</ns2:nameOfGoods></ns2:goodsList><ns2:goodsList href="#ref1"/><ns2:languageCode>ru</ns2:languageCode><ns2:merchantAdditionalInformationList><ns2:key>k</ns2:key><ns2:value>v</ns2:value></ns2:merchantAdditionalInformationList><ns2:merchantId>000000000000015</ns2:merchantId><ns2:merchantLocalDateTime>01.02.2012 18:34:58</ns2:merchantLocalDateTime><ns2:orderId>77</ns2:orderId><ns2:returnURL>https://shop.kz/r?s=</ns2:returnURL><ns2:totalAmount>100000</ns2:totalAmount></ns1:transaction></ns1:startTransaction></SOAP-ENV:Body></SOAP-ENV:Envelope>`

// FuzzRequest feeds anything to the request reader: the XML parser, the
// multi-reference resolution, the envelope and every operation's decoding.
// It must never panic or run away, and what it accepts stays within the
// limits.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(fuzzSeed))
	f.Add([]byte(strings.Replace(fuzzSeed, `href="#ref1"`, `href="#ref2"`, 1)))
	f.Add([]byte(`<a id="x"><b href="#x"/></a>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := parseXML(bytes.NewReader(data))
		if err != nil {
			return
		}
		if count(root) > maxElements {
			t.Fatalf("%d elements accepted", count(root))
		}
		if err := resolveRefs(root); err != nil {
			return
		}
		for _, v := range []soapVersion{soap11, soap12, plainXML} {
			body, f := readEnvelope(root, v)
			if f != nil || body == nil {
				continue
			}
			ms, err := readMembers(body, "op", nsOps, []string{"transaction", "registration", "merchantId", "referenceNr", "goods"}, "goods")
			if err != nil {
				continue
			}
			if n := ms.one("transaction"); n != nil {
				_, _ = readTransactionDetails(n, "transaction")
			}
			if n := ms.one("registration"); n != nil {
				_, _ = readRegistrationDetails(n, "registration")
			}
			_, _ = readGoods(ms.list("goods"), "goods")
			_, _, _ = ms.str("merchantId")
		}
	})
}

// BenchmarkStartRequest: reading a startTransaction as PHP's SoapClient
// writes it, from bytes to the decoded request.
func BenchmarkStartRequest(b *testing.B) {
	b.ReportAllocs()
	data := []byte(fuzzSeed)
	for b.Loop() {
		root, err := parseXML(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if err := resolveRefs(root); err != nil {
			b.Fatal(err)
		}
		body, f := readEnvelope(root, soap11)
		if f != nil {
			b.Fatal(f)
		}
		ms, err := readMembers(body, "startTransaction", nsOps, []string{"transaction"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := readTransactionDetails(ms.one("transaction"), "transaction"); err != nil {
			b.Fatal(err)
		}
	}
}
