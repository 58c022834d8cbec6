package cnp

import (
	"errors"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// readLookup reads the request of the operations that name a transaction.
func readLookup(body *node, op string) (*lookup, error) {
	ms, err := readMembers(body, op, nsOps, []string{"merchantId", "referenceNr"})
	if err != nil {
		return nil, err
	}
	l := &lookup{}
	return l, ms.strs("merchantId", &l.MerchantID, "referenceNr", &l.ReferenceNr)
}

// find returns the merchant's transaction by reference. status is the
// guide's answer when there is none to show: INVALID_MID, MID_DISABLED or
// NO_SUCH_TRANSACTION. Another merchant's reference is no transaction of
// this one. errDenied: the fault is sent; other errors are the switch's.
func (c *call) find(mid, ref string) (m *merchant, o *order.Order, status string, err error) {
	if mid == "" {
		return nil, nil, StatusInvalidMID, nil
	}
	m, err = c.merchantFor(mid)
	var r *refusal
	switch {
	case errors.Is(err, errDenied):
		return nil, nil, "", err
	case errors.As(err, &r):
		return m, nil, StatusMIDDisabled, nil
	case m == nil:
		return nil, nil, StatusInvalidMID, nil
	case ref == "":
		return m, nil, StatusNoSuchTransaction, nil
	}
	o, err = c.s.svc.ByNumber(c.r.Context(), m.Merchant, ref)
	switch {
	case errors.Is(err, order.ErrNotFound):
		return m, nil, StatusNoSuchTransaction, nil
	case err != nil:
		return m, nil, "", err
	}
	c.orderID = o.ID
	return m, o, TransactionStatus(o), nil
}

// switchFault answers an error of the switch's own on a query: a query has
// no "failed" word of its own.
func (c *call) switchFault(err error) {
	if errors.Is(err, payments.ErrStorage) {
		c.unavailable()
		return
	}
	c.s.log.Error().Err(err).Str("operation", c.op).Msg("cnp query")
	c.fault(&fault{reason: "internal error, try again later"})
}

// getTransactionStatus: guide 2.2.
func (c *call) getTransactionStatus(body *node) error {
	l, err := readLookup(body, c.op)
	if err != nil {
		return err
	}
	c.journalRequest(l)
	m, o, status, err := c.find(l.MerchantID, l.ReferenceNr)
	switch {
	case errors.Is(err, errDenied):
		return nil
	case err != nil:
		c.switchFault(err)
		return nil
	}
	f := statusFields{o: o, status: status}
	if m != nil && m.pay != nil {
		f.url = m.pay.URL
	}
	if o == nil {
		f.status = status
	}
	c.answer(statusResult(f))
	return nil
}

// getExtendedTransactionStatus: guide 2.5. Until a card is entered, and
// for a transaction that is not there, return is nil: the OpenCart module
// tests `if ($tranResult->return)`, and nothing here is known yet.
func (c *call) getExtendedTransactionStatus(body *node) error {
	l, err := readLookup(body, c.op)
	if err != nil {
		return err
	}
	c.journalRequest(l)
	_, o, _, err := c.find(l.MerchantID, l.ReferenceNr)
	switch {
	case errors.Is(err, errDenied):
		return nil
	case err != nil:
		c.switchFault(err)
		return nil
	case o == nil || o.Card == nil:
		c.answer(nilResult(c.op))
		return nil
	}
	c.answer(extendedResult(extendedFields{
		country: c.s.issuerCountry(o.Card.Masked), masked: o.Card.Masked, ip: o.IP, verified3D: verified3D(o),
	}))
	return nil
}

// issuerCountry names the card's issuer country from the configured BIN
// prefixes (longest first), "UNKNOWN" when none matches: the switch has
// no issuer country table of its own.
func (s *Server) issuerCountry(masked string) string {
	best, name := 0, "UNKNOWN"
	for bin, n := range s.cfg.IssuerCountries {
		if len(bin) > best && strings.HasPrefix(masked, bin) {
			best, name = len(bin), n
		}
	}
	return name
}

// getVersion: WSDL only; the Body is empty.
func (c *call) getVersion(*node) error {
	c.journalRequest(nil)
	c.answer(versionResult())
	return nil
}
