// Package cnp is the Processing.kz merchant web service
// (CNPMerchantWebService): the SOAP API of the gateway Kazakh shops were
// built against (CNP Merchant Integration Guide 1.18 and the vendor's
// WSDL), over the same orders, state machine, journal, hosted page and
// callbacks as the RBS and JSON dialects of switch/api. One order is seen
// the same from all three: a transaction's customerReference is its order
// number there.
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
//
// # For shops: what changes, and the answers to what the guide leaves open
//
// A shop changes only the host (and the scheme and port) it calls; its
// merchantId, its client code and its WSDL stay. The numbers below are
// the open questions of the contract (§7 of the summary of the guide the
// switch was built from); each answer is what the switch does, and the
// test that shows it is named where there is one.
//
// Wire and endpoint
//
//  1. SOAP 1.1 and 1.2, on every address, each answered in its own
//     version (text/xml, or application/soap+xml with the action
//     parameter); the WSDL's HTTP binding too (the wrapper element as the
//     body, no envelope). The vendor's PHP client really sends 1.1 (its
//     'soap_version' => 'SOAP 1.2' is a string PHP ignores).
//     TestGetVersionAndSOAP12, TestPHPSoapClient.
//  2. The vendor's layout: the service at
//     /CNPMerchantWebServices/services/CNPMerchantWebService, the WSDL at
//     ?wsdl there (any case) and at
//     /CNPMerchantWebServices/CNPMerchantWebService.wsdl (where the PHP
//     client loads it), the Axis2 port addresses
//     …/CNPMerchantWebService.CNPMerchantWebServiceHttpsSoap11Endpoint/
//     and …Soap12Endpoint/, and the HTTP binding's
//     …/CNPMerchantWebService.CNPMerchantWebServiceHttpsEndpoint/{operation}
//     (and …/CNPMerchantWebService/{operation}). TestWSDL.
//  3. The operation is the Body's element. An empty Body (getVersion's)
//     is named by SOAPAction (SOAP 1.2: the action parameter): "urn:op",
//     quoted or not, a bare "op" or a URI ending in "/op". An empty
//     SOAPAction with a Body: the Body decides. A SOAPAction naming
//     another operation than the Body's: a Client fault (which one did
//     the shop mean?). An empty Body with no action, or with the action of
//     an operation that takes a request: a Client fault.
//  4. The newer vendor WSDL (the one the live server served, with
//     getExtendedTransactionStatus), byte for byte but for its three port
//     addresses, which name this switch's public URL (on the TLS listener,
//     that listener's). Answers carry only the WSDL's elements, in its
//     order, in the vendor's namespaces (prefixes ns, ax21, ax23 as Axis2
//     writes them): no cardHolder, no RRN. Optional members with nothing
//     to say are left out; StartTransactionResult's four are always there,
//     xsi:nil when empty.
//  5. Faults, SOAP 1.1 Client/Server (HTTP 500, or the HTTP layer's own
//     413, 415, 401, 403, 503) or SOAP 1.2 Sender (400) / Receiver (500),
//     only for: not XML or malformed XML, a DTD (so no entity can
//     expand), an encoding other than UTF-8, a body over max_body_bytes
//     (256 KiB), more than 24 levels or 5000 elements, not an Envelope of
//     the announced version (VersionMismatch), a header that must be
//     understood (MustUnderstand), an unknown operation or namespace, an
//     element the WSDL's type does not declare (PHP's terminalId spelling
//     included) or given twice, elements where a value belongs, an
//     xs:boolean or xs:int that is none, an href naming nothing, the
//     access refusals of 6, and "temporarily unavailable" on a query
//     (which has no word for it). Every business error is success=false,
//     false or a status value. TestProtocolFaults.
//  6. The API has no credential (merchantId is printed on receipts), so
//     each merchant is configured with at least one of: allowed_ips (the
//     client's address: the connection's peer, or the client a proxy in
//     http.trusted_proxies names in X-Forwarded-For), basic_auth
//     (HTTP Basic, as PHP's SoapClient sends with its login and password
//     options; the password is a random secret stored as its SHA-256) and
//     client_cert_sha256 (pinned TLS client certificates, on the
//     service's own TLS listener, cnp.tls, which asks every client for
//     one). Every method configured must pass. A refusal is a fault (401
//     with WWW-Authenticate for Basic, 403 otherwise) and a warning in the
//     log naming the merchant, the address and why; nothing is done. An
//     unknown merchantId is INVALID_MID (or "merchantId: unknown
//     merchant"), logged too. refundTransaction's undocumented password
//     is no credential: it is read, ignored and never journaled.
//     TestAccessControl, TestClientCertificates.
//
// startTransaction
//
//  7. orderId need not be unique: the guide asks uniqueness of the
//     reference only, and the OpenCart module starts a new transaction
//     with the same order id when a payment is retried. The reference is
//     the key. TestReferences.
//  8. customerReference: ^[0-9A-Za-z ]{1,12}$ as the regular expression
//     says (1 to 12; "12 characters" is the generated ones' length), its
//     surrounding spaces trimmed like every value. Unique per merchant for
//     ever (the order store's number index is never pruned: beyond six
//     months); another merchant may use the same. The same reference with
//     the same request again (a retry after a lost answer) answers the
//     first answer; with another request, success=false
//     "customerReference: already used by another transaction of this
//     merchant". Generated ones are the merchant's reference_prefix
//     (default "TP") and ten random capital letters and digits, drawn
//     again on a clash. TestReferences, TestPurchaseLifecycle.
//  9. Amounts are whole minor units as text: digits only, no decimal
//     point, sign, space or leading zero, at most 10^12; totalAmount,
//     overrideAmount and refundAmount more than 0, a goods amount 0 or
//     more. A GoodsItem is one line of the cart with the amount shown
//     beside it (there is no quantity); goods in another currency are
//     shown in theirs; the list is never summed against the total. The
//     guide makes goodsList mandatory: at least one item, at most 100.
//     TestStartRefusals.
//  10. Each merchant's currencies (currencies; default 398 only); another
//     is success=false "currencyCode: 840 is not enabled for this
//     merchant, enabled: 398". TestStartRefusals.
//  11. ru, kz and en, in any case, and kk (ISO 639-1's Kazakh) as kz; kz
//     shows the hosted page in Kazakh. Anything else: "languageCode: not
//     supported, supported: ru, kz, en". TestKazakhAndCyrillic.
//  12. merchantLocalDateTime must be a real dd.mm.yyyy hh24:mi:ss; it is
//     kept as sent and shown back, never compared with the switch's
//     clock.
//  13. terminalID is never required (the PHP client cannot send it);
//     when sent it must be one of the merchant's terminal_ids (default:
//     its bank terminal ids, DE41). It is kept with the transaction;
//     routing chooses the bank as for any payment.
//  14. Over-long fields are refused, naming the field and its limit
//     (nameOfGoods and purchaser fields 255, merchantsGoodsID 256,
//     additional information key 40 and value 4000, description 512,
//     orderId 64, returnURL 2048), never truncated: a shop reads back
//     what it sent. TestStartRefusals.
//  15. returnURL: absolute http or https, no credentials, no fragment. The
//     switch calls it itself (17), so with return_hosts configured its
//     host must be one of them (or under one); without, it must not be
//     localhost or a loopback, private or link-local address, and the call
//     itself dials public addresses only, checked on the address dialled
//     (a name cannot point it inward). Ports are not restricted.
//     TestPrivateReturnURLs.
//
// returnURL
//
//  16. The reference (URL-encoded) is appended whenever returnURL ends
//     with "=", the shop's own reference as well as a generated one: the
//     shop always reads it the same way (OpenCart: &sessionID=).
//  17. The automatic call (switch/callbacks, on by default,
//     return_url_call: false turns it off): a GET of returnURL (with the
//     reference appended) as soon as the payment is decided: approved
//     (AUTHORISED, or PAID for auto settlement), declined (by the bank,
//     by 3-D Secure, for a bank timeout), and declined at the end of the
//     transaction's lifetime; never for the shop's own completions,
//     reversals and refunds. The shop's query is kept byte for byte; the
//     callback parameters follow it (mdOrder, orderNumber = the
//     reference, operation, status, amount, and the checksum when
//     callback_secret is set: see switch/callbacks). 10 s per attempt
//     (callbacks.timeout), retried with the store-and-forward backoff
//     until a 2xx or 3xx (a return page that redirects the browser has
//     run), across restarts, up to saf.max_attempts, then the dead
//     letters; redirects are not followed; TLS certificates are verified;
//     it leaves from the switch's own address. The buyer's browser comes
//     back to the same URL (with the hosted page's orderId added).
//     TestReturnURLCalledBySwitch.
//
// Life cycle
//
//  18. PENDING_CUSTOMER_INPUT lasts the order lifetime
//     (payments.order_lifetime, 20 minutes by default); then the
//     transaction is DECLINED (the guide has no EXPIRED) and its returnURL
//     is called. TestAbandoned.
//  19. Holds are not reversed by age: a hold lasts as long as the issuer
//     keeps it, and completeTransaction is taken at any age (its
//     completion advice goes to the bank, which decides). Not tested.
//  20. auto_settlement, per merchant: the payment is a one-stage purchase,
//     PAID at authorization. completeTransaction(true) then answers true
//     without an overrideAmount or with the amount settled (it is done),
//     false for another amount or for false (refund instead).
//     TestAutoSettlement.
//  21. overrideAmount absent, nil or empty is the whole hold; it must be
//     more than 0 (false releases a hold, not 0) and at most what is
//     authorized. One settlement: the same one again answers true and
//     sends nothing, another amount false. TestPurchaseLifecycle.
//  22. transactionSuccess (and registrationSuccess) omitted: false, and
//     nothing is done; the log line says why. TestCompleteTransactionEx.
//  23. Before the card is entered, getTransactionStatus answers the
//     status alone; from then on the amounts always, the other optional
//     members when known. TestPurchaseLifecycle.
//  24. amountAuthorised is 0 once reversed (and when declined); after a
//     capture it stays what was authorized, and amountSettled is what was
//     captured. TestReversal.
//  25. Another merchant's reference is NO_SUCH_TRANSACTION, and its
//     follow-ups answer false. TestNoTransactionToShow.
//  26. disabled: true blocks a merchant: MID_DISABLED for queries,
//     success=false "merchantId: the merchant is disabled", false for the
//     rest. errorDescription texts are English, name the field (1-based:
//     goodsList.2.amount) and use only letters, digits, spaces and
//     ".,:()-_/", never quoting what the shop sent: the OpenCart module
//     puts them into a URL unescaped. TestNoTransactionToShow,
//     TestStartRefusals.
//
// Refunds
//
//  27. refunds: true enables refundTransaction per merchant (off, it
//     answers false, as the vendor shipped it). From PAID or REFUNDED
//     only (an AUTHORISED hold is released with completeTransaction
//     false); partial and repeated, up to amountSettled less
//     amountRefunded; description is required; goodsToRefund and
//     additionalInformation (key and value required) are checked and
//     journaled. The API gives a refund no id; the switch takes one from
//     the additionalInformation item externalRefundId (at most 64
//     characters, once): the same id again answers the first refund's
//     outcome and sends nothing to the bank, another amount under it is
//     false, and RBS refund.do's externalRefundId is the same id on the
//     same order. Without one a retry after a lost answer refunds again,
//     as the vendor's does, so such a shop reads amountRefunded before
//     retrying. TestPurchaseLifecycle, TestRefundID.
//
// getExtendedTransactionStatus
//
//  28. return is nil (xsi:nil) for an unknown or another merchant's
//     reference, an unknown or disabled merchant, and before the card is
//     entered: the OpenCart module tests the return itself. Then:
//     cardIssuerCountry is a country name from the issuer_countries BIN
//     prefixes configured, "UNKNOWN" otherwise (the switch keeps no issuer
//     table); maskedCardNumber is the first six digits, asterisks and the
//     last four (411111******1111); verified3D is YES when 3-D Secure
//     authenticated the buyer (ECI 05 or 02), NO otherwise (an attempt
//     included); purchaserIpAddress is the buyer's address on the hosted
//     page (the connection's peer, or as a trusted proxy names it).
//     TestPurchaseLifecycle, TestDeclined.
//  29. No RRN is invented: the WSDL has authCode only (the RBS and JSON
//     views of the same order show the RRN).
//
// Card registration (WSDL only)
//
//  30. Supported. startRegistration starts a transaction whose
//     totalAmount (required, more than 0) the bank authorizes as a
//     verification hold when the buyer enters the card on the hosted page;
//     transactionStatus tells the hold (AUTHORISED, then REVERSED), and
//     registrationStatus the card: PENDING (not entered, or not decided),
//     REGISTERED (kept), CANCELLED (completeRegistration false), DECLINED
//     (the verification failed or lapsed). completeRegistration(true)
//     releases the hold and keeps the card, which gets its cardId (a
//     random UUID, the merchant's own: another merchant's cardId names
//     nothing); false releases the hold and keeps nothing; the same
//     decision again answers true, the other false; a reversal the bank
//     declines decides nothing. A verification hold is never settled. A
//     later startTransaction with cardId sends the buyer to a page that
//     shows the card masked and asks for its CVV2 alone. The card is kept
//     as every card: an hsm token and the PAN encrypted through hsm.
//     paymentType is accepted and ignored. TestCardRegistration.
//
// Miscellaneous
//
//  31. Status words exactly as the guide spells them, AUTHORISED
//     included.
//  32. UTF-8 throughout; Cyrillic and Kazakh letters come back as sent.
//     TestKazakhAndCyrillic, TestPHPSoapClient.
//  33. PHP's multi-references (id="ref1" and href="#ref1", written for the
//     same object put twice into a list) are resolved; an href must name
//     an element that refers no further and does not contain it, at most
//     100 of them. TestPHPMultiReference, TestPHPSoapClient.
package cnp
