package payments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var cardNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestValidateCard(t *testing.T) {
	good := CardInput{PAN: "4111111111111111", Expiry: "2812", CVV2: "123"}
	require.NoError(t, ValidateCard(good, cardNow))
	cases := []struct {
		name string
		edit func(*CardInput)
		want string
	}{
		{"luhn", func(c *CardInput) { c.PAN = "4111111111111112" }, "pan: fails the Luhn check"},
		{"short", func(c *CardInput) { c.PAN = "411111" }, "pan: must be 13 to 19 digits"},
		{"letters", func(c *CardInput) { c.PAN = "4111x11111111111" }, "pan"},
		{"expiry format", func(c *CardInput) { c.Expiry = "12/28" }, "expiry: must be YYMM"},
		{"expiry month", func(c *CardInput) { c.Expiry = "2813" }, "expiry: month"},
		{"expired", func(c *CardInput) { c.Expiry = "2610" }, "expiry: the card has expired"},
		{"cvv", func(c *CardInput) { c.CVV2 = "12" }, "cvv2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := ValidateCard(c, cardNow)
			require.ErrorIs(t, err, ErrCard)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "4111111111111112")
		})
	}
	require.NoError(t, ValidateCard(CardInput{PAN: "4111111111111111", Expiry: "2611"}, cardNow), "valid through the end of its month")
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.Banks = []BankProfile{{Name: "a", AcquirerID: "400123"}}
		c.Merchants = []Merchant{{ID: "m", Name: "Shop", MCC: "5411", Terminals: map[string]Terminal{"a": {"TLP00001", "000000000001234"}}}}
		return c
	}
	c := good()
	require.NoError(t, c.Validate())
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"lifetime", func(c *Config) { c.OrderLifetime = 0 }, "order_lifetime"},
		{"bank name", func(c *Config) { c.Banks[0].Name = "" }, "banks[0].name"},
		{"acquirer", func(c *Config) { c.Banks[0].AcquirerID = "x" }, "banks[0].acquirer_id"},
		{"mcc", func(c *Config) { c.Merchants[0].MCC = "54" }, "merchants[0].mcc"},
		{"terminal bank", func(c *Config) { c.Merchants[0].Terminals["zz"] = Terminal{"TLP00002", "1"} }, "merchants[0].terminals.zz: unknown bank"},
		{"terminal id", func(c *Config) { c.Merchants[0].Terminals["a"] = Terminal{"T1", "1"} }, "terminal_id"},
		{"dup merchant", func(c *Config) { c.Merchants = append(c.Merchants, c.Merchants[0]) }, "merchants[1].id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}

func TestMerchantNameIsASCII(t *testing.T) {
	cases := []struct{ name, city, want string }{
		{"Demo Shop", "Almaty", "Demo Shop                Almaty       KZ"},
		{"Магазин Әлем", "Алматы", "Magazin Alem             Almaty       KZ"},
		{"Қазақ Шоп™", "Шымкент", "Qazaq Shop?              Shymkent     KZ"},
		{"A very long merchant name over twenty-five", "Nur-Sultan city", "A very long merchant nameNur-Sultan ciKZ"},
	}
	for _, tc := range cases {
		got := merchantName(&Merchant{Name: tc.name, City: tc.city})
		require.Len(t, got, 40)
		require.Equal(t, tc.want, got)
	}
}
