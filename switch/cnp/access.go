package cnp

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/tulpar-switch/tulpar/switch/clientip"
)

// reasonWrongBasic is a guess: it counts towards the lockout.
const reasonWrongBasic = "wrong HTTP Basic credentials"

// errDenied is returned by admit: the answer has been sent.
var errDenied = errors.New("access denied")

// admit checks that the request comes from merchant m's shop: every access
// method configured for it must pass. A refusal is logged and answered
// with a fault (HTTP 401 when Basic credentials are what is missing, 403
// otherwise); nothing of the request is acted on.
//
// Wrong HTTP Basic passwords count against the merchantId and the client
// address (the service's authguard): past the limit the shop is refused
// before any check, with HTTP 429 and when to retry, until the lock ends.
func (c *call) admit(m *merchant) error {
	c.merchant = m
	ip := clientip.Host(c.r)
	var reason string
	var status int
	if wait, ok := c.s.guard.Allow(m.MerchantID, ip); !ok && m.password != nil {
		secs := int(wait.Seconds() + 0.999)
		reason, status = fmt.Sprintf("too many failed sign-ins; retry in %d s", secs), http.StatusTooManyRequests
		c.w.Header().Set("Retry-After", strconv.Itoa(secs))
	} else {
		reason, status = m.check(c.r)
	}
	switch {
	case reason == "":
		if m.password != nil {
			c.s.guard.Succeeded(m.MerchantID, ip)
		}
		return nil
	case status == http.StatusUnauthorized && reason == reasonWrongBasic:
		c.s.guard.Failed(m.MerchantID, ip)
	}
	c.outcome = "denied"
	c.s.log.Warn().Str("merchant", m.Merchant).Str("merchant_id", m.MerchantID).Str("remote", ip).
		Str("operation", c.op).Str("reason", reason).Msg("cnp access denied")
	if status == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Basic realm="CNPMerchantWebService", charset="UTF-8"`)
	}
	msg := "access denied for merchantId " + m.MerchantID
	if status == http.StatusTooManyRequests {
		msg += ": " + reason
	}
	c.fault(&fault{sender: true, status: status, reason: msg})
	return errDenied
}

// check returns why r may not act for m ("" when it may) and the HTTP
// status to refuse with.
func (m *merchant) check(r *http.Request) (string, int) {
	if len(m.ips) > 0 {
		a, err := netip.ParseAddr(clientip.Host(r))
		ok := false
		if err == nil {
			for _, p := range m.ips {
				ok = ok || p.Contains(a.Unmap())
			}
		}
		if !ok {
			return "client address not allowed", http.StatusForbidden
		}
	}
	if len(m.certs) > 0 {
		if !m.certs.Match(r.TLS) {
			return "no pinned client certificate", http.StatusForbidden
		}
	}
	if m.password != nil {
		user, pw, ok := r.BasicAuth()
		if !ok {
			return "no HTTP Basic credentials", http.StatusUnauthorized
		}
		sum := sha256.Sum256([]byte(pw))
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(m.BasicAuth.UserName)) == 1
		if pwOK := subtle.ConstantTimeCompare(sum[:], m.password) == 1; !userOK || !pwOK {
			return reasonWrongBasic, http.StatusUnauthorized
		}
	}
	return "", 0
}
