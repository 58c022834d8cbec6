package issuersim

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/iso"
)

// answer decides the answer to a parsed request. o is what a knob rule
// changes (the zero value: nothing).
func (b *Bank) answer(ctx context.Context, s *session, req *iso.Message, o override) *iso.Message {
	switch req.MTI {
	case iso.MTINetworkManagement:
		return b.network(ctx, s, req, o.decline())
	case iso.MTIAuthorization, iso.MTIFinancial, iso.MTICompletionAdvice, iso.MTICompletionAdviceRepeat,
		iso.MTIReversal, iso.MTIReversalAdvice, iso.MTIReversalAdviceRepeat:
	default:
		return respond(req, iso.RCInvalidTxn)
	}
	if rc := b.checkFormat(req); rc != "" {
		return respond(req, rc)
	}
	if !s.open(b.cfg.RequireSignOn) {
		return respond(req, iso.RCIssuerDown)
	}
	if !initiates(req) {
		return b.books.process(ctx, req, o, b.precheck)
	}
	if rc := b.checkStoredCredential(req); rc != "" {
		return respond(req, rc)
	}
	resp := b.books.process(ctx, req, o, b.precheck)
	if req.StoredCredential != "" {
		b.recordCredential(req, resp)
	}
	return resp
}

// checkFormat returns 30 when a financial request lacks what the bank
// needs to identify and apply it, 03 when it comes from another acquirer.
func (b *Bank) checkFormat(req *iso.Message) string {
	switch {
	case req.PAN == "", len(req.ProcessingCode) != 6, !req.HasAmount, len(req.STAN) != 6, req.TerminalID == "":
		return iso.RCFormatError
	case req.Expiry != "" && !validExpiry(req.Expiry):
		return iso.RCFormatError
	case req.Currency != "" && len(req.Currency) != 3:
		return iso.RCFormatError
	case b.cfg.AcquirerID != "" && req.AcquirerID != "" && trimLeadingZeros(req.AcquirerID) != trimLeadingZeros(b.cfg.AcquirerID):
		return "03"
	}
	return ""
}

func trimLeadingZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// initiates reports whether req starts a new transaction on the card
// (authorization or purchase), the only requests the card checks apply
// to: completions, reversals and refunds follow an approval already given.
func initiates(req *iso.Message) bool {
	switch req.MTI {
	case iso.MTIAuthorization:
		return true
	case iso.MTIFinancial:
		return !iso.IsRefund(req.ProcessingCode) && (req.Original == nil || req.Original.MTI != iso.MTIAuthorization)
	}
	return false
}

// precheck runs the checks that need no books, in the order a host runs
// them: unknown card 14, card state (41, 43, 54, 57, 62, 05), expiry 54,
// CVV2 (N7 on Visa, 82 otherwise), currency 57. "" passes.
func (b *Bank) precheck(ctx context.Context, req *iso.Message) string {
	a, ok := b.books.accounts[req.PAN]
	if !ok {
		return iso.RCInvalidCard
	}
	if !initiates(req) {
		return ""
	}
	if rc := stateCodes[a.state]; rc != iso.RCApproved {
		return rc
	}
	if expired(a.expiry, b.now().In(b.loc)) || (req.Expiry != "" && req.Expiry != a.expiry) {
		return iso.RCExpiredCard
	}
	if req.CVV2 != "" {
		if err := b.cvv.VerifyCVV(ctx, a.pan, a.expiry, req.CVV2, a.cvvHash); err != nil {
			if !errors.Is(err, hsm.ErrCVVMismatch) {
				b.log.Error().Str("pan", iso.MaskPAN(a.pan)).Str("error", scrub(err.Error())).Msg("CVV2 check failed; declining")
			}
			return cvvDecline(a.pan)
		}
	}
	if req.Currency != "" && req.Currency != a.currency {
		return iso.RCNotPermitted
	}
	return ""
}

// cvvDecline is the DE39 of a wrong CVV2: Visa hosts answer N7, others 82.
// Both mean incorrect_cvc to the merchant.
func cvvDecline(pan string) string {
	if pan[0] == '4' {
		return "N7"
	}
	return iso.RCBadCVV2
}

// expired reports whether a YYMM expiry is before now's month: a card is
// good through the last day of its expiry month.
func expired(yymm string, now time.Time) bool {
	yy, _ := strconv.Atoi(yymm[:2])
	mm, _ := strconv.Atoi(yymm[2:])
	end := time.Date(2000+yy, time.Month(mm)+1, 1, 0, 0, 0, 0, now.Location())
	return !now.Before(end)
}

// network answers an 0800. Sign-off closes the session to financial
// requests (answered 91) until the next sign-on; echo and key change are
// answered whatever the session's state.
func (b *Bank) network(ctx context.Context, s *session, req *iso.Message, forced string) *iso.Message {
	if forced != "" {
		return respond(req, forced)
	}
	if len(req.STAN) != 6 {
		return respond(req, iso.RCFormatError)
	}
	switch req.NetworkCode {
	case iso.NetSignOn:
		s.mu.Lock()
		s.signedOn, s.signedOff = true, false
		s.mu.Unlock()
		b.log.Info().Str("conn", s.name).Msg("signed on")
	case iso.NetSignOff:
		s.mu.Lock()
		s.signedOn, s.signedOff = false, true
		s.mu.Unlock()
		b.log.Info().Str("conn", s.name).Msg("signed off")
	case iso.NetEcho:
	case iso.NetKeyChange:
		if req.KeyUnderZMK == "" || req.KeyCheckValue == "" {
			return respond(req, iso.RCFormatError)
		}
		if b.cfg.KeyChange != nil {
			if err := b.cfg.KeyChange(ctx, req.KeyUnderZMK, req.KeyCheckValue); err != nil {
				b.log.Warn().Str("conn", s.name).Str("kcv", req.KeyCheckValue).Str("error", scrub(err.Error())).Msg("key change refused")
				return respond(req, iso.RCSecurityViolation)
			}
		}
		s.mu.Lock()
		s.kcv = req.KeyCheckValue
		s.mu.Unlock()
		// A check value identifies a key without revealing it: safe to log.
		b.log.Info().Str("conn", s.name).Str("kcv", req.KeyCheckValue).Msg("key changed")
	case "":
		return respond(req, iso.RCFormatError)
	default:
		return respond(req, iso.RCInvalidTxn)
	}
	return respond(req, iso.RCApproved)
}
