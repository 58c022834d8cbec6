// Package payments is the switch itself: merchants' orders, the state
// machine that governs them, the order store, and the flows that turn a
// merchant's operation into ISO 8583 exchanges with the bank that routing
// chose.
//
// Invariants it keeps:
//   - every order is in a definite state (package doc of Status); an
//     exchange whose outcome is unknown is declined for the merchant and
//     reversed through store-and-forward, never reported approved;
//   - a bank exchange is recorded durably (journal and order store in one
//     bbolt transaction) before the message leaves, and its outcome before
//     the merchant hears it, so a crash at any point leaves a record that
//     recovery can finish;
//   - once written ahead, an exchange runs to its outcome on the switch's
//     own context (flows detach from the caller's cancellation): a merchant
//     hanging up never cuts it short between the bank's answer and its
//     record;
//   - an outcome the journal cannot record (disk full) is answered
//     ErrStorage, kept in memory and settled when the journal writes again
//     (ResolveUnrecorded): what the merchant never heard as done is
//     reversed; while it waits, the order answers ErrInProgress;
//   - the same operation asked twice answers the first answer and sends
//     nothing new;
//   - an approval is read with its amount: less than asked is kept only for
//     a merchant that accepts partial approvals, another amount is
//     reversed; no capture or refund exceeds what the bank approved;
//   - follow-ups (completion, reversal, refund) go to the bank that
//     authorized, whatever routing says now;
//   - a full PAN exists only in memory and, encrypted through hsm, at rest;
//     CVV2 only in memory, for as long as one authorization needs it;
//   - a card is kept for later payments only as a stored card
//     (order.StoredCard, cards.go), held by the order that stored it and
//     changed only through that order; every payment that stores one or
//     pays with one is marked to the bank as its dialect marks stored
//     credentials (specs.CredentialOnFile).
//
// It knows nothing of HTTP: the merchant APIs and the hosted page call it.
package payments
