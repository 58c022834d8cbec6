package daemon

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
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
	bcfg.Name, bcfg.Listen, bcfg.AcquirerID = "mac-sim", "127.0.0.1:0", "400999"
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
func macSwitch(t *testing.T, bank *issuersim.Bank, key []byte) *Daemon {
	t.Helper()
	dir := t.TempDir()
	mustKeyFiles(t, dir)
	mk, err := hsm.LoadMasterKeyFile(filepath.Join(dir, "master.key"))
	require.NoError(t, err)
	store, err := hsm.OpenKeyStore(filepath.Join(dir, "keys.json"), mk)
	require.NoError(t, err)
	_, err = store.ImportClear("mac-link", hsm.KeyMAC, hsm.AlgRetailMAC, key)
	require.NoError(t, err)

	cfg := crashConfig(dir, bank.Addr())
	l := links.DefaultConfig("mac-sim", "ascii", bank.Addr())
	l.AcquirerID, l.RequestTimeout = "400999", 2*time.Second
	l.MAC = links.MACConfig{Enabled: true, KeyID: "mac-link"}
	l.SignOn = new(bool) // the bank MACs every message, sign-on included; start traffic at once
	cfg.Links = []links.Config{l}
	cfg.Routing = routing.Config{Rules: []routing.RuleConfig{{Name: "all", Banks: []routing.BankConfig{{Name: "mac-sim"}}}}}
	cfg.Payments.Banks = nil
	cfg.Payments.ExchangeTimeout = time.Second
	cfg.Payments.Merchants = []payments.Merchant{{ID: crashMerchant, Name: "MAC Shop", MCC: "5411",
		Terminals: map[string]payments.Terminal{"mac-sim": {TerminalID: "TLPM0001", MerchantID: "000000000000999"}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := Start(ctx, cfg, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	require.NoError(t, d.Links().Get("mac-sim").WaitReady(ctx))
	return d
}

func payOnce(t *testing.T, d *Daemon, number string) *order.Order {
	t.Helper()
	ctx := context.Background()
	reg, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: crashMerchant, Number: number, Amount: 4200, ReturnURL: "https://x.kz/"})
	require.NoError(t, err)
	o := reg.Order
	res, err := d.Payments().Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: "4111111111111111", Expiry: "3012"}})
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
		bank := macBank(t, key)
		d := macSwitch(t, bank, key)
		o := payOnce(t, d, "mac-ok")
		require.Equal(t, order.StatusDeposited, o.Status, "%+v", o.Ops)
	})
	t.Run("different key", func(t *testing.T) {
		other := append([]byte(nil), key...)
		other[0] ^= 0xFF
		bank := macBank(t, other)
		d := macSwitch(t, bank, key)
		o := payOnce(t, d, "mac-bad")
		require.Equal(t, order.StatusDeclined, o.Status)
		// An answer whose MAC fails cannot be trusted: the outcome is
		// unknown, so the payment is declined and reversed.
		require.Equal(t, "timeout", o.DeclineReason)
		require.Equal(t, order.OpAutoReversal, o.Ops[len(o.Ops)-1].Type)
	})
}
