// Package api is the merchant web service: the RBS-compatible facade under
// /payment/rest/ (register.do, deposit.do, getOrderStatusExtended.do, ...)
// that Kazakh merchants' shop plugins already speak, and the JSON API v1
// under /v1/ with API keys, Idempotency-Key and typed errors, documented
// by openapi.yaml (served at /v1/openapi.yaml).
//
// It is a thin layer over payments: it authenticates merchants, parses
// and validates their requests (errors name the parameter), translates
// them to payments calls and the results back to each API's words. The
// JSON API is strict. The RBS facade is as lenient as the gateway where
// nothing is lost (windows-1251 forms, nested jsonParams, phone numbers as
// people write them) and strict where money or safety is (amounts, a
// cart that must add up, callback hosts the merchant allows); it answers
// in the request's language. It owns no state but an in-memory set of
// idempotency keys in flight; idempotency records live in payments' store.
//
// What it must never do:
//   - journal, log or answer card data or credentials: paymentorder.do's
//     $PAN is masked and $CVC dropped before the request is journaled;
//     passwords and tokens never leave the request;
//   - answer before the answer's journal entries are durable;
//   - show one merchant another's order (it is "not found");
//   - touch links, saf or bbolt directly.
package api
