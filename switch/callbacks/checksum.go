package callbacks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// ParamChecksum is the parameter that carries the signature. It is never
// part of the signed text.
const ParamChecksum = "checksum"

// Checksum signs a callback's parameters as the RBS gateway does: every
// parameter except checksum, sorted by name (byte order, which for RBS's
// ASCII names is alphabetical), written as "name;value;" one after another,
// HMAC-SHA256 keyed with the merchant's secret, in upper-case hex.
//
// The text is not an injective encoding (a value holding ';' could shift a
// boundary); the gateway defined it so and merchants' plugins verify it so.
// The switch's own parameters never contain ';' except orderNumber, which the
// merchant chose itself.
func Checksum(params map[string]string, secret string) string {
	return strings.ToUpper(hex.EncodeToString(mac(params, secret)))
}

// Verify reports whether params carries a checksum that Checksum computes
// from its other parameters with secret. The hex is accepted in either case
// and compared in constant time. A merchant's server does exactly this on
// every callback before trusting it.
func Verify(params map[string]string, secret string) bool {
	got, err := hex.DecodeString(params[ParamChecksum])
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, mac(params, secret))
}

func mac(params map[string]string, secret string) []byte {
	names := make([]string, 0, len(params))
	for name := range params {
		if name != ParamChecksum {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	h := hmac.New(sha256.New, []byte(secret))
	for _, name := range names {
		h.Write([]byte(name))
		h.Write([]byte{';'})
		h.Write([]byte(params[name]))
		h.Write([]byte{';'})
	}
	return h.Sum(nil)
}
