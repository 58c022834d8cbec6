package hpp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// csrfCookie holds the per-browser nonce; csrfField carries the token.
const (
	csrfCookie = "tulpar_hpp"
	csrfField  = "csrf"
	nonceBytes = 16
)

// csrf issues and checks the form tokens (see the package doc).
type csrf struct {
	key    []byte
	secure bool // Secure cookies: the public URL is https
}

// token is HMAC-SHA256(key, orderID "|" nonce), base64url. Binding the
// order id makes a token stolen for one order useless for another.
func (c csrf) token(orderID, nonce string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(orderID))
	m.Write([]byte{'|'})
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns the token for the form of orderID, reusing the browser's
// nonce for this order when it has a well-formed one (so two tabs of the
// same order both work) and setting a new cookie otherwise.
func (c csrf) issue(w http.ResponseWriter, r *http.Request, orderID string) string {
	nonce := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && validNonce(ck.Value) {
		nonce = ck.Value
	} else {
		b := make([]byte, nonceBytes)
		_, _ = rand.Read(b)
		nonce = base64.RawURLEncoding.EncodeToString(b)
	}
	// Set it every time: the GET from the merchant's site is a cross-site
	// navigation that does not carry a SameSite=Strict cookie, so the
	// browser may hold one this response does not know about.
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: nonce, Path: "/pay/" + orderID,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode,
	})
	return c.token(orderID, nonce)
}

// check reports whether the POST carries the token of its cookie's nonce.
func (c csrf) check(r *http.Request, orderID string) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || !validNonce(ck.Value) {
		return false
	}
	got := r.PostForm.Get(csrfField)
	if got == "" {
		return false
	}
	return hmac.Equal([]byte(got), []byte(c.token(orderID, ck.Value)))
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == nonceBytes
}
