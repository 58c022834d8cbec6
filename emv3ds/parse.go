package emv3ds

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// ParseAReq decodes a JSON AReq and checks it (AReq.Check). The error is
// always a *FieldError, so the DS can answer it with an Erro.
func ParseAReq(body []byte) (AReq, error) {
	var r AReq
	if err := json.Unmarshal(body, &r); err != nil {
		return r, invalid("", "not a JSON AReq")
	}
	return r, r.Check()
}

// ParseResult decodes a JSON ARes or RRes (messageType says which is
// wanted) and checks it (Result.Check). On error it returns the zero
// Result: nothing of a bad answer is to be acted on.
func ParseResult(body []byte, messageType string) (Result, error) {
	var r Result
	if err := json.Unmarshal(body, &r); err != nil {
		return Result{}, invalid("", "not JSON")
	}
	if err := r.Check(messageType); err != nil {
		return Result{}, err
	}
	return r, nil
}

// ParseErro decodes a JSON Erro. Only its messageType is checked: its texts
// come from outside and are free, so whoever logs them must bound and
// clean them.
func ParseErro(body []byte) (Erro, error) {
	var e Erro
	if err := json.Unmarshal(body, &e); err != nil {
		return Erro{}, invalid("", "not JSON")
	}
	if e.MessageType != MessageTypeErro {
		return Erro{}, invalid("messageType", "want Erro")
	}
	return e, nil
}

// maxFormValue bounds a creq, cres, PaReq or PaRes form value. Real ones
// are a few hundred bytes; they come through a browser, from anyone.
const maxFormValue = 8 << 10

// FormValue is c as the browser carries it to the ACS: the value of the
// form field creq (2.x: JSON in base64url without padding, as EMV 3DS
// specifies), or for messageVersion 1.x the field PaReq (standard base64
// in the simulator; XML in real 3-D Secure 1).
func (c CReq) FormValue() string { return formValue(c, c.MessageVersion) }

// FormValue is c as the browser carries it back to the notification URL:
// the value of the form field cres (2.x, base64url without padding) or
// PaRes (1.x, standard base64).
func (c CRes) FormValue() string { return formValue(c, c.MessageVersion) }

func formValue(v any, version string) string {
	b, err := json.Marshal(v)
	if err != nil {
		// CReq and CRes hold only strings: Marshal cannot fail.
		panic("emv3ds: " + err.Error())
	}
	if strings.HasPrefix(version, "1.") {
		return base64.StdEncoding.EncodeToString(b)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCReq reads a creq or PaReq form value and checks its transaction ids
// (CReq.Check). It accepts either base64 alphabet, padded or not: senders
// differ, and the content is checked anyway.
func ParseCReq(formValue string) (CReq, error) {
	var c CReq
	if err := parseFormValue(formValue, &c); err != nil {
		return CReq{}, err
	}
	if err := c.Check(); err != nil {
		return CReq{}, err
	}
	return c, nil
}

// ParseCRes reads a cres or PaRes form value and checks its
// threeDSServerTransID, the one element the requestor reads from it (to
// know which transaction to ask the DS about). Its transStatus is the
// browser's claim and is not checked: it decides nothing.
func ParseCRes(formValue string) (CRes, error) {
	var c CRes
	if err := parseFormValue(formValue, &c); err != nil {
		return CRes{}, err
	}
	if !ValidTransID(c.ThreeDSServerTransID) {
		return CRes{}, invalid("threeDSServerTransID", "want 1 to 64 letters, digits, '-', '_' or '.'")
	}
	return c, nil
}

var formEncodings = []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding}

func parseFormValue(s string, v any) error {
	if len(s) > maxFormValue {
		return invalid("", "longer than "+strconv.Itoa(maxFormValue)+" bytes")
	}
	var raw []byte
	var err error
	for _, enc := range formEncodings {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return invalid("", "not base64")
	}
	if json.Unmarshal(raw, v) != nil {
		return invalid("", "not JSON")
	}
	return nil
}
