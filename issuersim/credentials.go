package issuersim

import (
	"sync"
	"time"

	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/specs"
)

// Stored credentials (credential on file). The card schemes let a merchant
// keep a card for later payments only if every payment says how it uses
// it: the one that stores the card, a later one the cardholder starts, a
// later one the merchant starts alone. The dialect spells it (DE22 and a
// private-field indicator, specs.CredentialOnFile); the bank refuses a
// message whose marks contradict each other and keeps what it saw, so that
// a test can ask whether the bank was told.

// maxCredentialUses bounds the uses kept: a load run marks none, but a
// long-lived demo bank must not grow without end.
const maxCredentialUses = 10000

// CredentialUse is one authorization or purchase that stored or used a
// stored card, as the bank saw it.
type CredentialUse struct {
	Time time.Time `json:"time"`
	MTI  string    `json:"mti"`
	STAN string    `json:"stan"`
	PAN  string    `json:"pan"` // masked
	// MerchantID is DE42: stored credentials are the merchant's.
	MerchantID string `json:"merchant_id"`
	// Use is specs.StoredInitial, StoredCardholder or StoredMerchant.
	Use string `json:"use"`
	// POSEntryMode is DE22 as sent.
	POSEntryMode string `json:"pos_entry_mode"`
	Expiry       string `json:"-"` // DE14 as sent: the switch's view of the card (never served)
	CVV2         bool   `json:"cvv2"`
	ResponseCode string `json:"response_code"`
}

type credentialLog struct {
	mu   sync.Mutex
	uses []CredentialUse
}

func (l *credentialLog) add(u CredentialUse) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.uses) == maxCredentialUses {
		l.uses = append(l.uses[:0], l.uses[1:]...)
	}
	l.uses = append(l.uses, u)
}

func (l *credentialLog) all() []CredentialUse {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]CredentialUse(nil), l.uses...)
}

// CredentialUses lists the stored-credential payments the bank answered,
// oldest first.
func (b *Bank) CredentialUses() []CredentialUse { return b.creds.all() }

// checkStoredCredential returns 30 (format error) when an authorization or
// purchase marks its stored credential inconsistently: a later use of a
// stored card without the dialect's credential-on-file DE22, that DE22
// without saying which use, a card being stored with it (it is typed, not
// on file yet), or a merchant-initiated use carrying a CVV2, which nobody
// may keep and so no merchant can send alone.
func (b *Bank) checkStoredCredential(req *iso.Message) string {
	cof := req.POSEntryMode == b.codec.Dialect().CredentialOnFile.POSEntryMode
	switch req.StoredCredential {
	case "":
		if cof {
			return iso.RCFormatError
		}
	case specs.StoredInitial:
		if cof {
			return iso.RCFormatError
		}
	case specs.StoredCardholder:
		if !cof {
			return iso.RCFormatError
		}
	case specs.StoredMerchant:
		if !cof || req.CVV2 != "" {
			return iso.RCFormatError
		}
	}
	return ""
}

// recordCredential keeps what a stored-credential payment said and how it
// was answered.
func (b *Bank) recordCredential(req, resp *iso.Message) {
	b.creds.add(CredentialUse{
		Time: b.now(), MTI: req.MTI, STAN: req.STAN, PAN: iso.MaskPAN(req.PAN), MerchantID: req.MerchantID,
		Use: req.StoredCredential, POSEntryMode: req.POSEntryMode, Expiry: req.Expiry, CVV2: req.CVV2 != "",
		ResponseCode: resp.ResponseCode,
	})
}
