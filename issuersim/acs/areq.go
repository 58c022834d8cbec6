package acs

import (
	"strconv"

	"github.com/tulpar-switch/tulpar/emv3ds"
)

// areq is a checked AReq and its amount.
type areq struct {
	emv3ds.AReq
	amount int64
}

// parseAReq decodes and checks an AReq (emv3ds.AReq.Check). The error is
// an *emv3ds.FieldError, which names the element, never its value.
func parseAReq(body []byte) (areq, error) {
	r, err := emv3ds.ParseAReq(body)
	if err != nil {
		return areq{AReq: r}, err
	}
	// Check allows only 1 to 12 digits: the amount fits.
	amount, _ := strconv.ParseInt(r.PurchaseAmount, 10, 64)
	return areq{AReq: r, amount: amount}, nil
}
