package switchtest

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// PaymentsConfig is payments' default config with a profile for each bank
// (acquirer 400123) and the test merchant, Merchant, with a terminal at
// each. The test merchant allows one payment attempt per order, so that a
// decline ends an order as tests of one exchange expect; tests of retries
// raise MaxAttempts.
func PaymentsConfig(banks ...string) payments.Config {
	cfg := payments.DefaultConfig()
	m := payments.Merchant{ID: Merchant, Name: "Test Shop", MCC: "5411", City: "Almaty", MaxAttempts: 1,
		URL: "https://shop.example.kz/", Terminals: map[string]payments.Terminal{}}
	for i, b := range banks {
		cfg.Banks = append(cfg.Banks, payments.BankProfile{Name: b, AcquirerID: "400123"})
		m.Terminals[b] = payments.Terminal{TerminalID: fmt.Sprintf("TLP%05d", i+1), MerchantID: fmt.Sprintf("%015d", 1234+i)}
	}
	cfg.Merchants = []payments.Merchant{m}
	return cfg
}

// NewService runs the payment core alone, for unit tests of the flows that
// need no bank on the wire: a real journal in t.TempDir() and, for each
// collaborator deps leaves nil, this package's fake with its defaults (a
// bank that approves, routing to BankName, an ephemeral security module,
// an in-memory queue); ThreeDS stays as deps has it (nil: no 3-D Secure).
// cfg is usually PaymentsConfig(...). Cleanup checks the journal
// (MustVerify).
func NewService(t testing.TB, cfg payments.Config, deps payments.Deps) *payments.Service {
	t.Helper()
	if deps.Journal == nil {
		j, err := journal.Open(filepath.Join(t.TempDir(), journal.DataFile), journal.Options{})
		require.NoError(t, err)
		t.Cleanup(func() {
			MustVerify(t, j)
			require.NoError(t, j.Close())
		})
		deps.Journal = j
	}
	if deps.Banks == nil {
		deps.Banks = &Banks{}
	}
	if deps.Router == nil {
		deps.Router = &Router{}
	}
	if deps.Vault == nil {
		deps.Vault = &Vault{}
	}
	if deps.SAF == nil {
		deps.SAF = &Queue{}
	}
	svc, err := payments.New(cfg, deps)
	require.NoError(t, err)
	return svc
}
