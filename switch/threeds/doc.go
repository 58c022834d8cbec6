// Package threeds is the switch's side of 3-D Secure: the requestor (the
// "3DS Server" of EMV 3-D Secure 2, the MPI of 3-D Secure 1) that asks a
// Directory Server to authenticate the buyer, sends the buyer's browser to
// the issuer's ACS when a challenge is needed, and returns the ECI and
// CAVV/AAV the authorization carries to the bank.
//
// The payments core declares the interface it needs (payments.Authenticator:
// Begin and Result), so a real 3-D Secure server can replace Client, which
// talks to Tulpar's simulated DS and ACS (issuersim/acs) over HTTP. The
// client is stateless: between Begin and Result the order is in status 5,
// "3-D Secure in progress", in the payments core's store.
//
// A challenge runs through the buyer's browser:
//
//  1. Begin answers ChallengeRequired with ChallengeURL and ChallengeForm;
//     the hosted payment page writes them with ChallengePage, which
//     auto-POSTs the browser to the ACS (the CReq, or the 1.0.2 PaReq).
//  2. The ACS POSTs the browser back to the Request's NotificationURL;
//     ParseNotification reads which transaction it was.
//  3. The core calls Result. What the browser brought is never trusted:
//     only Result's answer, fetched server to server, decides.
//
// Of Tulpar's packages it imports only emv3ds, the messages and field checks
// it shares with the simulated DS and ACS, and never issuersim (the two
// sides of 3-D Secure meet only over HTTP). It never puts a PAN in an error,
// never stores a CAVV, and an Outcome prints and logs without its CAVV.
// Mapping an Outcome to the ISO 8583 private field (iso.ThreeDS: ECI, CAVV,
// TransactionID = DSTransID, Version) is the payments core's job.
package threeds
