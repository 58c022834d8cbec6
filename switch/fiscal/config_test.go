package fiscal

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func validMerchant() Merchant {
	rate := 12
	return Merchant{URL: "https://nurkassa.kz/", Login: "+77010000001", Password: "p", PosID: 7, SectionID: 1, TaxRate: &rate}
}

// Every refusal names the key, as the daemon's config file spells it.
func TestConfigErrorsNameKeys(t *testing.T) {
	over := func(f func(*Merchant)) Config {
		m := validMerchant()
		f(&m)
		return Config{Merchants: map[string]Merchant{"shop": m}}
	}
	bad := 101
	t.Setenv("TULPAR_TEST_EMPTY", "")
	t.Setenv("TULPAR_TEST_PW", "from-env")
	cases := []struct {
		name string
		cfg  Config
		want string // "" valid
	}{
		{"zero value", Config{}, ""},
		{"valid", over(func(*Merchant) {}), ""},
		{"password from the environment", over(func(m *Merchant) { m.Password, m.PasswordEnv = "", "TULPAR_TEST_PW" }), ""},
		{"negative max_attempts", Config{MaxAttempts: -1}, "fiscal: max_attempts: must not be negative"},
		{"negative timeout", Config{Timeout: -1}, "fiscal: timeout: must not be negative"},
		{"no url", over(func(m *Merchant) { m.URL = "" }), "fiscal: merchants.shop.url: required"},
		{"relative url", over(func(m *Merchant) { m.URL = "nurkassa.kz" }), "fiscal: merchants.shop.url: must be an absolute http or https URL"},
		{"no login", over(func(m *Merchant) { m.Login = "" }), "fiscal: merchants.shop.login: required"},
		{"no password", over(func(m *Merchant) { m.Password = "" }), "fiscal: merchants.shop.password: required"},
		{"both passwords", over(func(m *Merchant) { m.PasswordEnv = "X" }), "fiscal: merchants.shop.password: set, and password_env too"},
		{"empty variable", over(func(m *Merchant) { m.Password, m.PasswordEnv = "", "TULPAR_TEST_EMPTY" }), "fiscal: merchants.shop.password_env: variable TULPAR_TEST_EMPTY is not set or empty"},
		{"no pos_id", over(func(m *Merchant) { m.PosID = 0 }), "fiscal: merchants.shop.pos_id: required"},
		{"no section_id", over(func(m *Merchant) { m.SectionID = 0 }), "fiscal: merchants.shop.section_id: required"},
		{"no tax_rate", over(func(m *Merchant) { m.TaxRate = nil }), "fiscal: merchants.shop.tax_rate: required"},
		{"tax_rate over 100", over(func(m *Merchant) { m.TaxRate = &bad }), "fiscal: merchants.shop.tax_rate: 101 is not a percentage"},
		{"bad email", over(func(m *Merchant) { m.Email = "not an address" }), "fiscal: merchants.shop.email:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.want)
		})
	}
}

// A config printed by mistake shows no password.
func TestMerchantStringHidesPassword(t *testing.T) {
	m := validMerchant()
	m.Password = "s3cret-kassa"
	require.NotContains(t, m.String(), "s3cret-kassa")
	require.Contains(t, m.String(), "redacted")
}
