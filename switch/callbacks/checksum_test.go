package callbacks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/callbacks"
)

// goldenParams and goldenChecksum are the package doc's example. The
// expected value was computed outside Go, with OpenSSL 3:
//
//	printf 'amount;150000;mdOrder;0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f;operation;deposited;orderNumber;A-1001;status;1;' \
//	  | openssl dgst -sha256 -hmac 'tulpar-test-secret' | awk '{print toupper($2)}'
var (
	goldenSecret = "tulpar-test-secret"
	goldenParams = map[string]string{
		"mdOrder":     "0190f3a2-7b1c-7d2e-9f00-4a5b6c7d8e9f",
		"orderNumber": "A-1001",
		"operation":   "deposited",
		"status":      "1",
		"amount":      "150000",
	}
	goldenChecksum = "599CF51DF8953CCAB28A7B618CE9CDC45EF74ACBB5ED6AE48EB242D374127611"
)

func TestChecksumGolden(t *testing.T) {
	require.Equal(t, goldenChecksum, callbacks.Checksum(goldenParams, goldenSecret))

	// A checksum already among the parameters is not signed over.
	withSum := clone(goldenParams)
	withSum[callbacks.ParamChecksum] = "anything"
	require.Equal(t, goldenChecksum, callbacks.Checksum(withSum, goldenSecret))

	// Same bytes signed by the test's own implementation.
	require.Equal(t, goldenChecksum, merchantChecksum(goldenParams, goldenSecret))
}

func TestVerify(t *testing.T) {
	signed := clone(goldenParams)
	signed[callbacks.ParamChecksum] = goldenChecksum
	tests := []struct {
		name   string
		params map[string]string
		secret string
		want   bool
	}{
		{"as sent", signed, goldenSecret, true},
		{"lower-case hex", with(signed, callbacks.ParamChecksum, strings.ToLower(goldenChecksum)), goldenSecret, true},
		{"wrong secret", signed, "other-secret", false},
		{"amount changed", with(signed, callbacks.ParamAmount, "150001"), goldenSecret, false},
		{"operation changed", with(signed, callbacks.ParamOperation, "refunded"), goldenSecret, false},
		{"parameter added", with(signed, "extra", "x"), goldenSecret, false},
		{"parameter dropped", without(signed, callbacks.ParamAmount), goldenSecret, false},
		{"no checksum", goldenParams, goldenSecret, false},
		{"not hex", with(signed, callbacks.ParamChecksum, "ZZ"+goldenChecksum[2:]), goldenSecret, false},
		{"truncated", with(signed, callbacks.ParamChecksum, goldenChecksum[:62]), goldenSecret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, callbacks.Verify(tt.params, tt.secret))
		})
	}
}

// FuzzChecksum holds Checksum, Verify and the merchant-side
// re-implementation together for any parameters.
func FuzzChecksum(f *testing.F) {
	f.Add("mdOrder", "x", "orderNumber", "1;2", "k")
	f.Add("", "", "b", "", "")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, secret string) {
		if n1 == callbacks.ParamChecksum || n2 == callbacks.ParamChecksum {
			return
		}
		p := map[string]string{n1: v1, n2: v2}
		sum := callbacks.Checksum(p, secret)
		require.Equal(t, merchantChecksum(p, secret), sum)
		p[callbacks.ParamChecksum] = sum
		require.True(t, callbacks.Verify(p, secret))
	})
}

// merchantChecksum is the merchant's side, written from the RBS
// description rather than from Checksum: sort the names, join
// "name;value;", HMAC-SHA256 with the secret, upper-case hex.
func merchantChecksum(params map[string]string, secret string) string {
	var names []string
	for name := range params {
		if name != "checksum" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var text strings.Builder
	for _, name := range names {
		fmt.Fprintf(&text, "%s;%s;", name, params[name])
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(text.String()))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func with(m map[string]string, k, v string) map[string]string {
	c := clone(m)
	c[k] = v
	return c
}

func without(m map[string]string, k string) map[string]string {
	c := clone(m)
	delete(c, k)
	return c
}
