package hpp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" valid; else a key the error must name
	}{
		{"minimal", Config{PublicURL: "https://pay.example.kz"}, ""},
		{"with port, slash and secret", Config{PublicURL: "http://127.0.0.1:8080/", Secret: strings.Repeat("k", 16)}, ""},
		{"with a path", Config{PublicURL: "https://pay.example.kz/tulpar"}, "public_url"},
		{"missing public url", Config{}, "public_url: required"},
		{"relative public url", Config{PublicURL: "/pay"}, "public_url"},
		{"ftp public url", Config{PublicURL: "ftp://pay.example.kz"}, "public_url"},
		{"public url with query", Config{PublicURL: "https://pay.example.kz/?a=1"}, "public_url"},
		{"public url with credentials", Config{PublicURL: "https://u:p@pay.example.kz"}, "public_url"},
		{"short secret", Config{PublicURL: "https://pay.example.kz", Secret: "short"}, "secret"},
		{"long title", Config{PublicURL: "https://pay.example.kz", Title: strings.Repeat("T", 101)}, "title"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	// The secret is never in the error.
	err := Config{PublicURL: "https://x.kz", Secret: "s3cr3t"}.Validate()
	require.NotContains(t, err.Error(), "s3cr3t")
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1_500_000, "398", "15 000,00 ₸"},
		{5, "398", "0,05 ₸"},
		{0, "398", "0,00 ₸"},
		{123_456_789, "398", "1 234 567,89 ₸"},
		{99_900, "398", "999,00 ₸"},
		{100_000, "398", "1 000,00 ₸"},
		{1250, "840", "12,50 $"},
		{1000, "392", "1 000 ¥"},
		{1000, "999", "10,00 999"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.minor, tc.currency), func(t *testing.T) {
			got := formatAmount(tc.minor, tc.currency)
			require.Equal(t, tc.want, strings.ReplaceAll(got, "\u00a0", " "))
			require.NotContains(t, got, " ", "groups and the sign must not wrap apart")
		})
	}
}

func TestParseExpiry(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"12/28", "2812", true}, {"1228", "2812", true}, {"12 / 28", "2812", true}, {"01/2030", "3001", true},
		{"13/28", "", false}, {"00/28", "", false}, {"1/28", "", false}, {"", "", false}, {"12/2", "", false},
	}
	for _, tc := range tests {
		got, ok := parseExpiry(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	require.False(t, expired("2611", now), "good through the end of its month")
	require.True(t, expired("2610", now))
	require.False(t, expired("3012", now))
}

// TestCardFormBrands: the page takes a card of every brand routing knows,
// asks Amex for a 4-digit CVV2 and the others for 3, and refuses a valid card
// number that no brand claims.
func TestCardFormBrands(t *testing.T) {
	tests := []struct {
		name, pan, cvv string
		brand          string // "" for a card the page refuses as err_brand
	}{
		{"visa", "4111 1111 1111 1111", "917", routing.BrandVisa},
		{"mastercard 51-55", "5555 5555 5555 5599", "917", routing.BrandMastercard},
		{"mastercard 2221-2720", "2221 0000 0000 0009", "917", routing.BrandMastercard},
		{"mir", "2200 0000 0000 0004", "917", routing.BrandMir},
		{"amex", "3782 822463 10005", "5273", routing.BrandAmex},
		{"unionpay 19 digits", "6200 0000 0000 0000 000", "917", routing.BrandUnionPay},
		{"jcb", "3530 1113 3330 0000", "917", routing.BrandJCB},
		{"discover 6011", "6011 1111 1111 1117", "917", routing.BrandDiscover},
		{"discover 65", "6500 0000 0000 0002", "917", routing.BrandDiscover},
		{"diners 36", "3600 000000 0008", "917", routing.BrandDiners},
		{"diners 300-305", "3000 000000 0004", "917", routing.BrandDiners},
		{"no brand claims 9", "9000 0000 0000 0001", "917", ""},
		{"no brand claims 1", "1000 0000 0000 0008", "917", ""},
	}
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{fieldPAN: {tt.pan}, fieldExpiry: {"12/30"}, fieldCVV: {tt.cvv}, fieldHolder: {"AIGERIM N"}}
			f := parseCardForm(v.Get, now)
			require.Equal(t, tt.brand, routing.BrandOf(f.card.PAN))
			if tt.brand == "" {
				require.Equal(t, map[string]string{fieldPAN: "err_brand"}, f.errors)
				return
			}
			require.Empty(t, f.errors)
			require.NoError(t, payments.ValidateCard(f.card, now))

			wrong := "1234"
			if tt.brand == routing.BrandAmex {
				wrong = "123"
			}
			v.Set(fieldCVV, wrong)
			require.Equal(t, map[string]string{fieldCVV: "err_cvv"}, parseCardForm(v.Get, now).errors, "wrong CVV2 length for %s", tt.brand)
		})
	}
}

func TestPayErrorNamesTheField(t *testing.T) {
	now := time.Now()
	tests := []struct {
		card  payments.CardInput
		field string
		key   string
	}{
		{payments.CardInput{PAN: "4111111111111112", Expiry: "3012"}, fieldPAN, "err_pan"},
		{payments.CardInput{PAN: "4111111111111111", Expiry: "3013"}, fieldExpiry, "err_expiry"},
		{payments.CardInput{PAN: "4111111111111111", Expiry: "2001"}, fieldExpiry, "err_expired"},
		{payments.CardInput{PAN: "4111111111111111", Expiry: "3012", CVV2: "12"}, fieldCVV, "err_cvv"},
	}
	for _, tc := range tests {
		err := payments.ValidateCard(tc.card, now)
		require.Error(t, err)
		field, key, ok := payError(fmt.Errorf("pay: %w", err))
		require.True(t, ok)
		require.Equal(t, tc.field, field, err.Error())
		require.Equal(t, tc.key, key, err.Error())
	}
	_, _, ok := payError(errors.New("something else"))
	require.False(t, ok)
}

func TestBackURL(t *testing.T) {
	const id = "0190f3c2-0000-7000-8000-000000000000"
	tests := map[string]string{
		"https://shop.kz/ok":                "https://shop.kz/ok?orderId=" + id,
		"https://shop.kz/ok?cart=7":         "https://shop.kz/ok?cart=7&orderId=" + id,
		"https://shop.kz/ok?orderId=forged": "https://shop.kz/ok?orderId=" + id,
		"http://shop.kz:8080/r#frag":        "http://shop.kz:8080/r?orderId=" + id + "#frag",
		"javascript:alert(document.cookie)": "",
		"//evil.example/":                   "",
		"/relative":                         "",
		"":                                  "",
		"data:text/html,<script>x</script>": "",
	}
	for in, want := range tests {
		require.Equal(t, want, backURL(in, id), in)
	}
}

// FuzzCardForm: whatever a browser posts, parsing neither panics nor lets
// through a card that payments would refuse for its form.
func FuzzCardForm(f *testing.F) {
	f.Add("4111 1111 1111 1111", "12/30", "917", "AIGERIM N", "a@b.kz")
	f.Add("5555-5555-5555-5599", "1230", "384", "Ə Ғ", "")
	f.Add("", "", "", "", "")
	f.Add("378282246310005", "01/2031", "5273", "O'NEIL-SMITH", "x@y")
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, pan, exp, cvv, holder, email string) {
		v := url.Values{fieldPAN: {pan}, fieldExpiry: {exp}, fieldCVV: {cvv}, fieldHolder: {holder}, fieldEmail: {email}}
		form := parseCardForm(v.Get, now)
		if len(form.errors) > 0 {
			for field, key := range form.errors {
				require.Contains(t, []string{fieldPAN, fieldExpiry, fieldCVV, fieldHolder, fieldEmail}, field)
				_, known := texts[key]
				require.True(t, known, "unknown text key %q", key)
			}
			return
		}
		require.NoError(t, payments.ValidateCard(form.card, now))
		require.NotEmpty(t, routing.BrandOf(form.card.PAN))
	})
}
