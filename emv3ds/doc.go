// Package emv3ds is the 3-D Secure wire: the EMV 3-D Secure 2.2 messages
// Tulpar's two sides of 3-D Secure exchange over HTTP, and the checks every
// element must pass before anyone acts on it.
//
// It owns the message types (AReq, Result for the ARes and the result the
// requestor asks for, Erro, CReq and CRes, which also carry the simulator's
// 3-D Secure 1.0.2 PaReq and PaRes), their JSON names, which are the
// specification's and must not change, the protocol's constants
// (messageType, messageVersion, transStatus, errorCode), the element checks
// (ValidTransID, ValidURL, ValidCAVV, ...), the message checks built on them
// (AReq.Check, Result.Check), and the base64 encoding a CReq or CRes has in
// a browser form (FormValue, ParseCReq, ParseCRes).
//
// Two packages speak it: switch/threeds, the switch's requestor (the 3DS
// Server), and issuersim/acs, the simulated Directory Server and ACS. Both
// sides apply the same checks, so what the switch sends is what the
// simulator accepts, and what the simulator answers is what the switch can
// act on.
//
// What it must never do:
//   - import anything of Tulpar's, or anything but the standard library
//     (switch/daemon's layering test holds this): issuersim may never import
//     switch/..., so the wire both share has to sit below both;
//   - decide anything: which card is challenged, what an outcome means for a
//     payment, when to retry, are the two sides' business. This package says
//     only whether a message is well formed and self-consistent;
//   - do I/O, log, or keep state;
//   - quote a value in an error: an element may be a PAN (acctNumber) or a
//     cryptogram (authenticationValue), and errors end up in logs. A
//     FieldError names the element and what was wanted, never what came.
package emv3ds
