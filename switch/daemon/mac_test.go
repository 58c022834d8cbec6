package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// macBank is a simulated bank that checks and signs DE64/DE128 with the
// retail MAC (ISO 9797-1 algorithm 3) under key, through its own security
// module, as the bank's HSM would.
func macBank(t *testing.T, key []byte) *issuersim.Bank {
	t.Helper()
	mk, err := hsm.GenerateMasterKey()
	require.NoError(t, err)
	store, err := hsm.NewMemoryKeyStore(mk)
	require.NoError(t, err)
	_, err = store.ImportClear("mac-link", hsm.KeyMAC, hsm.AlgRetailMAC, key)
	require.NoError(t, err)
	cfg := hsm.DefaultConfig()
	cfg.PANKey, cfg.TokenKey, cfg.CVVKey = "", "", ""
	bankHSM, err := hsm.NewSoft(store, cfg)
	require.NoError(t, err)
	ctx := context.Background()
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Listen, bcfg.AcquirerID = switchtest.BankName, "127.0.0.1:0", "400123"
	bcfg.MAC = &issuersim.MACHooks{
		Generate: func(data []byte) ([]byte, error) { return bankHSM.GenerateMAC(ctx, "mac-link", data) },
		Verify:   func(data, mac []byte) error { return bankHSM.VerifyMAC(ctx, "mac-link", data, mac) },
	}
	b, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { b.Close() })
	return b
}

// macSwitch runs the switch with a MAC'd link to bank, the MAC key loaded
// into its key store as a key ceremony would.
func macSwitch(t *testing.T, bank *issuersim.Bank, key []byte) *switchtest.Switch {
	t.Helper()
	opts := switchtest.Options{DataDir: t.TempDir(), Bank: bank, Configure: func(c *daemon.Config) {
		l := &c.Links[0]
		l.RequestTimeout = 2 * time.Second
		l.MAC = links.MACConfig{Enabled: true, KeyID: "mac-link"}
		l.SignOn = new(bool) // the bank MACs every message, sign-on included; start traffic at once
		c.Payments.ExchangeTimeout = time.Second
	}}
	cfg, _ := switchtest.Config(t, opts, bank.Addr()) // creates the key files
	mk, err := hsm.LoadMasterKeyFile(cfg.HSM.MasterKeyFile)
	require.NoError(t, err)
	store, err := hsm.OpenKeyStore(cfg.HSM.KeyStore, mk)
	require.NoError(t, err)
	_, err = store.ImportClear("mac-link", hsm.KeyMAC, hsm.AlgRetailMAC, key)
	require.NoError(t, err)
	return switchtest.Run(t, opts)
}

func payOnce(t *testing.T, s *switchtest.Switch, number string) *order.Order {
	t.Helper()
	ctx := context.Background()
	reg, err := s.D.Payments().Register(ctx, payments.RegisterRequest{Merchant: switchtest.Merchant, Number: number, Amount: 4200, ReturnURL: "https://x.kz/"})
	require.NoError(t, err)
	res, err := s.D.Payments().Pay(ctx, payments.PayRequest{OrderID: reg.Order.ID, Card: payments.CardInput{PAN: visa, Expiry: switchtest.Expiry}})
	require.NoError(t, err)
	return res.Order
}

// TestMACOnTheLink: with the same retail-MAC key on both sides, payments
// go through; when the bank's key differs, the bank refuses the request's
// MAC and the switch refuses the answer's, so the payment is never
// approved and a reversal is queued.
func TestMACOnTheLink(t *testing.T) {
	key := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	t.Run("same key", func(t *testing.T) {
		s := macSwitch(t, macBank(t, key), key)
		o := payOnce(t, s, "mac-ok")
		require.Equal(t, order.StatusDeposited, o.Status, "%+v", o.Ops)
	})
	t.Run("different key", func(t *testing.T) {
		other := append([]byte(nil), key...)
		other[0] ^= 0xFF
		s := macSwitch(t, macBank(t, other), key)
		o := payOnce(t, s, "mac-bad")
		require.Equal(t, order.StatusDeclined, o.Status)
		// An answer whose MAC fails cannot be trusted: the outcome is
		// unknown, so the payment is declined and reversed.
		require.Equal(t, "timeout", o.DeclineReason)
		require.Equal(t, order.OpAutoReversal, o.Ops[len(o.Ops)-1].Type)
	})
}
