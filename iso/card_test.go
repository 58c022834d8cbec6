package iso

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLuhn(t *testing.T) {
	for _, pan := range []string{"4111111111111111", "5555555555555599", "4444555511113333", "4012001038166662",
		"5168494895055780", "4000001111111118", "79927398713", "0"} {
		require.True(t, Luhn(pan), pan)
	}
	for _, pan := range []string{"", "4111111111111112", "79927398710", "4111 1111 1111 1111", "411111111111111x"} {
		require.False(t, Luhn(pan), pan)
	}
}

func TestValidPAN(t *testing.T) {
	tests := []struct {
		name, pan string
		want      error
	}{
		{"visa 16", "4111111111111111", nil},
		{"13 digits, the shortest", "4222222222222", nil},
		{"19 digits, the longest", "6200000000000000000", nil},
		{"amex 15", "378282246310005", nil},
		{"no known brand is still a valid PAN", "9000000000000001", nil},
		{"empty", "", ErrPANDigits},
		{"12 digits, Luhn-valid", "411111000005", ErrPANDigits},
		{"20 digits, Luhn-valid", "41111100000000000005", ErrPANDigits},
		{"spaces are the caller's to remove", "4111 1111 1111 1111", ErrPANDigits},
		{"a letter", "411111111111111x", ErrPANDigits},
		{"a non-ASCII digit", "411111111111111١", ErrPANDigits},
		{"Luhn, last digit wrong", "4111111111111112", ErrPANLuhn},
		{"Luhn, two digits swapped", "4102001038166662", ErrPANLuhn},
		{"Luhn, 19 digits", "6200000000000000001", ErrPANLuhn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidPAN(tt.pan)
			require.ErrorIs(t, err, tt.want)
			if err != nil && len(tt.pan) >= 4 {
				require.NotContains(t, err.Error(), tt.pan[len(tt.pan)-4:], "the error names the reason, not the digits")
			}
		})
	}
}

// The error reads as the reason after a field name, as payments and the
// web service show it: "pan: fails the Luhn check".
func TestValidPANErrorText(t *testing.T) {
	require.Equal(t, "must be 13 to 19 digits", ValidPAN("4111").Error())
	require.Equal(t, "fails the Luhn check", ValidPAN("4111111111111112").Error())
}

func TestMaskPAN(t *testing.T) {
	tests := []struct{ name, pan, want string }{
		{"16 digits", "4111111111111111", "411111******1111"},
		{"another 16", "5555000011114444", "555500******4444"},
		{"12 digits, the shortest shown", "411111111111", "411111**1111"},
		{"19 digits", "4111111111111111111", "411111*********1111"},
		{"Luhn is not masking's business", "4111111111111112", "411111******1112"},
		{"11 digits are hidden", "41111111111", "***********"},
		{"20 digits are hidden", "41111111111111111111", "********************"},
		{"short", "1234", "****"},
		{"spaces: hidden whole", "4111 1111 1111 1111", "*******************"},
		{"a letter: hidden whole", "411111111111111x", "****************"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, MaskPAN(tt.pan))
		})
	}
}

// FuzzCardHelpers holds ValidPAN and MaskPAN to their definitions for any
// input: ValidPAN accepts exactly 13 to 19 digits that pass Luhn, and
// MaskPAN keeps the length and never shows more than the first six and the
// last four characters.
func FuzzCardHelpers(f *testing.F) {
	for _, s := range []string{"4111111111111111", "4111111111111112", "4222222222222", "6200000000000000000",
		"411111000005", "4111 1111 1111 1111", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits := strings.Trim(s, "0123456789") == ""
		want := len(s) >= 13 && len(s) <= 19 && digits && Luhn(s)
		require.Equal(t, want, ValidPAN(s) == nil)

		m := MaskPAN(s)
		require.Len(t, m, len(s))
		if strings.Trim(m, "*") != "" {
			require.Equal(t, s[:6], m[:6])
			require.Equal(t, s[len(s)-4:], m[len(m)-4:])
			require.Equal(t, strings.Repeat("*", len(s)-10), m[6:len(m)-4])
		}
	})
}

func BenchmarkValidPAN(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if ValidPAN("4111111111111111") != nil {
			b.Fatal("valid PAN refused")
		}
	}
}
