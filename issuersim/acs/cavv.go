package acs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// CAVVInput is what a CAVV/AAV is bound to: the card and amount that were
// authenticated, and the authentication it records. An issuer (the simulated
// bank) has all of it in the authorization: PAN, amount and currency in DE2,
// DE4 and DE49, the rest in the 3-D Secure private field.
type CAVVInput struct {
	PAN       string
	Amount    int64  // minor units
	Currency  string // ISO 4217 numeric
	DSTransID string // dsTransID (2.x) or XID (1.0.2)
	Version   string // messageVersion
	ECI       string
}

// cavvLen is the size of a CAVV/AAV: 20 bytes, 28 characters of base64.
const cavvLen = 20

// CAVV derives the CAVV/AAV for in under key: the first 20 bytes of an
// HMAC-SHA256, base64. Real CAVVs carry a scheme-specific layout around a
// cryptogram; the simulator keeps only the property the switch relies on: an
// opaque 20-byte value the issuer can verify and nobody else can forge.
func CAVV(key []byte, in CAVVInput) string {
	return cavvFrom(key, panBinding(key, in.PAN, in.Amount, in.Currency), in.DSTransID, in.Version, in.ECI)
}

// VerifyCAVV reports whether cavv is the CAVV of in under key.
func VerifyCAVV(key []byte, in CAVVInput, cavv string) bool {
	got, err := base64.StdEncoding.DecodeString(cavv)
	if err != nil || len(got) != cavvLen {
		return false
	}
	want, _ := base64.StdEncoding.DecodeString(CAVV(key, in))
	return hmac.Equal(got, want)
}

// panBinding is the keyed digest a transaction keeps instead of the PAN: it
// ties the CAVV to the card, amount and currency without the simulator
// holding card data in memory for the transaction's lifetime.
func panBinding(key []byte, pan string, amount int64, currency string) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tulpar-acs-pan/1\x00"))
	m.Write([]byte(pan))
	m.Write([]byte{0})
	m.Write(strconv.AppendInt(nil, amount, 10))
	m.Write([]byte{0})
	m.Write([]byte(currency))
	var b [sha256.Size]byte
	m.Sum(b[:0])
	return b
}

func cavvFrom(key []byte, binding [sha256.Size]byte, dsTransID, version, eci string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tulpar-acs-cavv/1\x00"))
	for _, s := range []string{version, dsTransID, eci} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	m.Write(binding[:])
	return base64.StdEncoding.EncodeToString(m.Sum(nil)[:cavvLen])
}
