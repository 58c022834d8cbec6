package cnp

import (
	"errors"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// The follow-ups answer one boolean: true when what was asked stands
// (captured, or queued for the bank as an advice that cannot be refused;
// reversed; refunded), false otherwise. A false says nothing more on the
// wire, so the reason goes to the log line (and the journal keeps the
// request); the guide sends the shop to getTransactionStatus to learn
// where the transaction is (2.3.2).

// followUpFor finds the follow-up's transaction, answering false itself
// when there is none it may touch. nil, nil: answered.
func (c *call) followUpFor(mid, ref string) (*merchant, *order.Order) {
	m, o, status, err := c.find(mid, ref)
	switch {
	case errors.Is(err, errDenied):
		return nil, nil
	case err != nil:
		c.falseAnswer(c.flowRefusal(err))
		return nil, nil
	case o == nil:
		c.falseAnswer(refuse("referenceNr", status))
		return nil, nil
	}
	return m, o
}

// falseAnswer answers false, logging why.
func (c *call) falseAnswer(r *refusal) {
	if r.reason == msgUnavailable {
		c.unavailable()
		return
	}
	c.outcome = "false"
	c.s.log.Info().Str("operation", c.op).Str("order", c.orderID).Str("reason", r.Error()).Msg("cnp answers false")
	c.answer(boolResult(c.op, false))
}

// completeTransaction and completeTransactionEx: guide 2.3. true captures
// overrideAmount (all of the hold when absent) with a completion advice;
// false releases the hold with a reversal.
func (c *call) completeTransaction(body *node, ex bool) error {
	names := []string{"merchantId", "referenceNr", "transactionSuccess", "overrideAmount"}
	var lists []string
	if ex {
		names = append(names, "goods")
		lists = []string{"goods"}
	}
	ms, err := readMembers(body, c.op, nsOps, names, lists...)
	if err != nil {
		return err
	}
	req := &completion{}
	if err := ms.strs("merchantId", &req.MerchantID, "referenceNr", &req.ReferenceNr, "overrideAmount", &req.OverrideAmount); err != nil {
		return err
	}
	if req.Success, req.SuccessGiven, err = ms.xsBool("transactionSuccess"); err != nil {
		return err
	}
	if ex {
		goods := ms.list("goods")
		req.GoodsGiven = len(goods) > 0
		if req.Goods, err = readGoods(goods, c.op+".goods"); err != nil {
			return err
		}
	}
	c.journalRequest(req)
	m, o := c.followUpFor(req.MerchantID, req.ReferenceNr)
	if o == nil {
		return nil
	}
	if !req.SuccessGiven {
		c.falseAnswer(refuse("transactionSuccess", "required: true to settle, false to release the hold"))
		return nil
	}
	var amount int64
	if req.OverrideAmount != "" {
		var r *refusal
		if amount, r = parseMinor("overrideAmount", req.OverrideAmount, false); r != nil {
			c.falseAnswer(r)
			return nil
		}
	}
	if !req.Success {
		c.reverse(o)
		return nil
	}
	var cart []order.CartItem
	if req.GoodsGiven {
		var r *refusal
		if cart, r = m.goodsToCart("goods", req.Goods, o.Currency); r != nil {
			c.falseAnswer(r)
			return nil
		}
	}
	if !o.TwoStage && (o.Status == order.StatusDeposited || o.Status == order.StatusRefunded) {
		// An Auto Settlement merchant's payment was settled at
		// authorization: asking to settle it (the whole of it) again is
		// done already; anything else is for a refund.
		if amount == 0 || amount == o.Deposited {
			c.answer(boolResult(c.op, true))
			return nil
		}
		c.falseAnswer(refuse("overrideAmount", "the payment was settled at authorization (auto settlement): refund instead"))
		return nil
	}
	res, err := c.s.svc.Complete(c.r.Context(), payments.FollowUpRequest{
		OrderID: o.ID, Merchant: m.Merchant, Amount: amount, Cart: cart,
		Reply: c.reply(func(*order.Order) []byte { return boolResult(c.op, true) }),
	})
	if c.took(res) {
		return nil
	}
	if err != nil {
		c.falseAnswer(c.followUpRefusal(err))
		return nil
	}
	c.answer(boolResult(c.op, true)) // a replay: the same capture, done before
	return nil
}

// reverse releases the whole hold (transactionSuccess false). A reversal
// the bank could not be reached for still stands: its advice is queued.
func (c *call) reverse(o *order.Order) {
	res, err := c.s.svc.Cancel(c.r.Context(), payments.FollowUpRequest{
		OrderID: o.ID, Merchant: o.Merchant, Reply: payments.Reply{Request: c.reqPayload},
	})
	c.took(res)
	switch {
	case err != nil:
		c.falseAnswer(c.followUpRefusal(err))
	case res.Op == nil || (res.Op.Status != order.OpApproved && res.Op.Status != order.OpQueued):
		c.falseAnswer(refuse("", "the reversal did not go through"))
	default:
		c.answer(boolResult(c.op, true))
	}
}

// followUpRefusal words a follow-up's payments error for the log.
func (c *call) followUpRefusal(err error) *refusal {
	var te *order.TransitionError
	switch {
	case errors.As(err, &te):
		return refuse("", te.Reason)
	case errors.Is(err, order.ErrAmount):
		return refuse("amount", err.Error())
	case errors.Is(err, payments.ErrBankRefused):
		return refuse("", "the bank declined")
	case errors.Is(err, payments.ErrUnavailable):
		return refuse("", "the bank is unavailable")
	case errors.Is(err, order.ErrNotFound):
		return refuse("referenceNr", StatusNoSuchTransaction)
	case errors.Is(err, payments.ErrKeyReused):
		return refuse("additionalInformation", refundIDKey+" was used for a refund of another amount")
	}
	return c.flowRefusal(err)
}

// refundTransaction: guide 2.4. Full or partial, repeated up to what was
// settled; only for merchants whose config enables refunds (the vendor
// shipped it switched off). The API gives a refund no id of its own: a
// shop that sends one as the additionalInformation item externalRefundId
// can retry after a lost answer and get the first refund's outcome;
// without it a retry refunds again, as the vendor's does, so such a shop
// reads amountRefunded with getTransactionStatus before retrying.
func (c *call) refundTransaction(body *node) error {
	ms, err := readMembers(body, c.op, nsOps, []string{"merchantId", "password", "referenceNr", "refundAmount",
		"description", "goodsToRefund", "additionalInformation"}, "goodsToRefund", "additionalInformation")
	if err != nil {
		return err
	}
	req := &refund{}
	if err := ms.strs("merchantId", &req.MerchantID, "password", &req.Password, "referenceNr", &req.ReferenceNr,
		"refundAmount", &req.RefundAmount, "description", &req.Description); err != nil {
		return err
	}
	if req.GoodsToRefund, err = readGoods(ms.list("goodsToRefund"), c.op+".goodsToRefund"); err != nil {
		return err
	}
	if req.Info, err = readInfo(ms.list("additionalInformation"), c.op+".additionalInformation"); err != nil {
		return err
	}
	c.journalRequest(req)
	m, o := c.followUpFor(req.MerchantID, req.ReferenceNr)
	if o == nil {
		return nil
	}
	if !m.Refunds {
		c.falseAnswer(refuse("", "refunds are not enabled for this merchant"))
		return nil
	}
	amount, r := parseMinor("refundAmount", req.RefundAmount, false)
	if r == nil && req.Description == "" {
		r = refuse("description", "required: the reason of the refund")
	}
	if r == nil {
		r = text("description", req.Description, maxRefundText)
	}
	if r == nil {
		_, r = m.goodsToCart("goodsToRefund", req.GoodsToRefund, o.Currency)
	}
	if r == nil {
		for _, in := range req.Info {
			if in.Key == "" || in.Value == "" {
				r = refuse("additionalInformation", "key and value are required in every item")
				break
			}
		}
	}
	if r == nil {
		_, r = infoList("additionalInformation", req.Info)
	}
	var id string
	if r == nil {
		id, r = refundID("additionalInformation", req.Info)
	}
	if r != nil {
		c.falseAnswer(r)
		return nil
	}
	key := ""
	if id != "" {
		key = order.RefundIdemKey(id)
	}
	res, err := c.s.svc.Refund(c.r.Context(), payments.FollowUpRequest{
		OrderID: o.ID, Merchant: m.Merchant, Amount: amount, IdemKey: key, Reply: payments.Reply{Request: c.reqPayload},
	})
	c.took(res)
	switch {
	case err != nil:
		c.falseAnswer(c.followUpRefusal(err))
	case res.Op == nil || res.Op.Status != order.OpApproved:
		c.falseAnswer(refuse("", "the bank did not approve the refund"))
	default:
		c.answer(boolResult(c.op, true))
	}
	return nil
}
