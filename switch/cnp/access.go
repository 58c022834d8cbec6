package cnp

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
)

// errDenied is returned by admit: the answer has been sent.
var errDenied = errors.New("access denied")

// admit checks that the request comes from merchant m's shop: every access
// method configured for it must pass. A refusal is logged and answered
// with a fault (HTTP 401 when Basic credentials are what is missing, 403
// otherwise); nothing of the request is acted on.
func (c *call) admit(m *merchant) error {
	c.merchant = m
	reason, status := m.check(c.r)
	if reason == "" {
		return nil
	}
	c.outcome = "denied"
	c.s.log.Warn().Str("merchant", m.Merchant).Str("merchant_id", m.MerchantID).Str("remote", clientIP(c.r)).
		Str("operation", c.op).Str("reason", reason).Msg("cnp access denied")
	if status == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Basic realm="CNPMerchantWebService", charset="UTF-8"`)
	}
	c.fault(&fault{sender: true, status: status, reason: "access denied for merchantId " + m.MerchantID})
	return errDenied
}

// check returns why r may not act for m ("" when it may) and the HTTP
// status to refuse with.
func (m *merchant) check(r *http.Request) (string, int) {
	if len(m.ips) > 0 {
		a, err := netip.ParseAddr(clientIP(r))
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
			return "wrong HTTP Basic credentials", http.StatusUnauthorized
		}
	}
	return "", 0
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
