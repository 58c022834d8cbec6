package callbacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	ok := Target{URL: "https://shop.example.kz/callback", Secret: "s"}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" valid; otherwise a substring naming the key
	}{
		{"zero value", Config{}, ""},
		{"GET default", Config{Merchants: map[string]Target{"m1": ok}}, ""},
		{"POST", Config{Merchants: map[string]Target{"m1": {URL: "http://127.0.0.1:8080/cb?shop=7", Secret: "s", Method: "POST"}}}, ""},
		{"unsigned", Config{Merchants: map[string]Target{"m1": {URL: ok.URL, Unsigned: true}}}, ""},
		{"no url", Config{Merchants: map[string]Target{"m1": {Secret: "s"}}}, "merchants.m1.url: required"},
		{"relative url", Config{Merchants: map[string]Target{"m1": {URL: "/callback", Secret: "s"}}}, "merchants.m1.url: must be an absolute http or https URL"},
		{"ftp url", Config{Merchants: map[string]Target{"m1": {URL: "ftp://shop/cb", Secret: "s"}}}, "merchants.m1.url: must be an absolute http or https URL"},
		{"no host", Config{Merchants: map[string]Target{"m1": {URL: "https:///cb", Secret: "s"}}}, "merchants.m1.url: has no host"},
		{"bad url", Config{Merchants: map[string]Target{"m1": {URL: "https://shop/%zz", Secret: "s"}}}, "merchants.m1.url:"},
		{"no secret", Config{Merchants: map[string]Target{"m1": {URL: ok.URL}}}, "merchants.m1.secret: required"},
		{"secret and unsigned", Config{Merchants: map[string]Target{"m1": {URL: ok.URL, Secret: "s", Unsigned: true}}}, "merchants.m1.secret: set, but unsigned"},
		{"method", Config{Merchants: map[string]Target{"m1": {URL: ok.URL, Secret: "s", Method: "PUT"}}}, "merchants.m1.method:"},
		{"empty id", Config{Merchants: map[string]Target{"": ok}}, "merchants: empty merchant id"},
		{"long id", Config{Merchants: map[string]Target{strings.Repeat("m", 250): ok}}, "merchant id longer than"},
		{"negative timeout", Config{Timeout: -1}, "timeout: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.True(t, strings.HasPrefix(err.Error(), "callbacks: "), err.Error())
		})
	}
}

func TestTargetStringHidesSecret(t *testing.T) {
	s := fmt.Sprint(Target{URL: "https://shop/cb", Secret: "very-secret"})
	require.NotContains(t, s, "very-secret")
	require.Contains(t, s, "redacted")
}
