// Package cnp is the Processing.kz merchant web service
// (CNPMerchantWebService): the SOAP API of the gateway Kazakh shops were
// built against (CNP Merchant Integration Guide 1.18 and the vendor's
// WSDL), over the same orders, state machine, journal, hosted page and
// callbacks as the RBS and JSON dialects of switch/api. One order is seen
// the same from all three.
//
// It owns the wire (the vendor's WSDL, embedded and served with its
// addresses pointing at this switch; SOAP 1.1 and 1.2, document/literal
// wrapped; the vendor's URL layout), the reading of requests (strictly, by
// the WSDL's namespaces and member names, with bounded XML), the guide's
// rules on what a shop sends, its status words, and which shop may act for
// a merchantId.
//
// What it must never do:
//   - answer a business outcome with a SOAP fault: the vendor's sample
//     pages and the OpenCart module die on one. Faults are for requests
//     that cannot be understood; everything else is success=false with an
//     errorDescription, a false, or a status value;
//   - answer with an element the WSDL does not declare, or out of its
//     order: generated clients (Axis2 ADB, .NET) refuse it;
//   - answer before the request and answer are journaled, journal a
//     credential (refundTransaction's password, HTTP Basic), or show one
//     merchant another's transaction;
//   - touch links, saf, the journal or bbolt: it speaks to payments only.
package cnp
