// Package acs is the simulated 3-D Secure world on the issuer's side: one
// HTTP server that plays both the card schemes' Directory Server (DS) and the
// issuing bank's Access Control Server (ACS).
//
// It owns the card → behaviour table (frictionless, challenge with a one-time
// code, failure, attempt, not enrolled, a 3-D Secure 1.0.2 password page),
// the challenge pages the buyer's browser is sent to, the in-memory
// transactions with their expiry, and the CAVV/AAV it signs with its own key
// (see CAVV and VerifyCAVV: the simulated bank may check what reaches it).
//
// It speaks to the switch only over HTTP, as a real DS and ACS would, and so
// must never import anything under switch/. The messages and the checks of
// their elements are emv3ds's, the wire it shares with the switch's
// requestor; this package decides only what the DS and the ACS answer.
//
// It never logs or shows a full PAN (first six and last four digits only),
// never logs a CAVV or a one-time code, and never stores a PAN: a
// transaction keeps a keyed digest of it, from which the CAVV is recomputed
// whenever the result is asked for.
//
// # HTTP API (JSON field names follow EMV 3-D Secure 2.2 where one exists)
//
//	POST /ds/authenticate                 AReq → ARes (transStatus Y, A, N, U, R or C)
//	GET  /ds/result/{threeDSServerTransID} final result (like RReq/RRes, server to server)
//	GET|POST /acs/challenge               the challenge page: creq (2.x) or PaReq+MD (1.0.2)
//	                                      to open it, then the buyer's code or password
//
// Errors are JSON "Erro" messages with an EMV-style errorCode: 201 a required
// element is missing, 203 an element is malformed, 301 the transaction is
// unknown or expired, 403 the simulator is full, with matching HTTP statuses.
//
// When a challenge ends (right code, third wrong code, or cancel) the ACS
// answers the browser with a page that auto-POSTs to the notification URL the
// AReq named: threeDSServerTransID, transStatus and cres (2.x), or PaRes and
// MD (1.0.2). Those come through the browser and prove nothing; the switch
// must ask /ds/result for the answer it acts on.
package acs
