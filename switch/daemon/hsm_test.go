//go:build cgo

package daemon_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11/softhsm"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// The zone master key both sides enter from the same two components (the
// textbook TDES test key, check value 08D7B4).
var zmkComponents = []string{"0123456789ABCDEF0000000000000000", "0000000000000000FEDCBA9876543210"}

// keyBank is a simulated bank whose security module holds the zone master
// key and two MAC keys; it signs and checks every message with the one in
// use, and can send the other to the switch in a key change.
type keyBank struct {
	*issuersim.Bank
	hsm *hsm.Soft
	mac atomic.Value // id of the MAC key in use
}

func newKeyBank(t *testing.T) *keyBank {
	t.Helper()
	soft, err := hsm.NewEphemeral()
	require.NoError(t, err)
	var comps [][]byte
	for _, c := range zmkComponents {
		b, _ := hex.DecodeString(c)
		comps = append(comps, b)
	}
	_, err = soft.Store().ImportComponents("zmk", hsm.KeyZMK, hsm.AlgTDES, comps, "08D7B4")
	require.NoError(t, err)
	for _, id := range []string{"mac-v1", "mac-v2"} {
		_, err = soft.Store().Create(id, hsm.KeyMAC, hsm.AlgRetailMAC)
		require.NoError(t, err)
	}
	kb := &keyBank{hsm: soft}
	kb.mac.Store("mac-v1")
	ctx := context.Background()
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Listen, bcfg.AcquirerID = switchtest.BankName, "127.0.0.1:0", "400123"
	bcfg.MAC = &issuersim.MACHooks{
		Generate: func(data []byte) ([]byte, error) { return soft.GenerateMAC(ctx, kb.mac.Load().(string), data) },
		Verify:   func(data, mac []byte) error { return soft.VerifyMAC(ctx, kb.mac.Load().(string), data, mac) },
	}
	kb.Bank, err = issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, kb.Start(ctx))
	t.Cleanup(func() { kb.Close() })
	return kb
}

// keyExchange is what the bank sends for MAC key id: under the ZMK, with
// its check value.
func (kb *keyBank) keyExchange(t *testing.T, id string) hsm.ImportRequest {
	t.Helper()
	wrapped, kcv, err := kb.hsm.ExportKey(context.Background(), "zmk", id)
	require.NoError(t, err)
	return hsm.ImportRequest{ZMK: "zmk", KeyID: "mac-link", Type: hsm.KeyMAC, Algorithm: hsm.AlgRetailMAC, Wrapped: wrapped, KCV: kcv}
}

// keyCeremony is what the switch's security officers do before the link
// opens, in either module: enter the ZMK from its components and take the
// bank's first MAC key under it.
type keyCeremony interface {
	ImportKey(context.Context, hsm.ImportRequest) (hsm.KeyInfo, error)
}

func ceremony(t *testing.T, kb *keyBank, enterZMK func([][]byte) error, m keyCeremony) {
	t.Helper()
	var comps [][]byte
	for _, c := range zmkComponents {
		b, _ := hex.DecodeString(c)
		comps = append(comps, b)
	}
	require.NoError(t, enterZMK(comps))
	_, err := m.ImportKey(context.Background(), kb.keyExchange(t, "mac-v1"))
	require.NoError(t, err)
}

// hsmSwitch starts the switch with the security module of the kind, its
// keys loaded by a ceremony, and a MAC'd link to kb whose key changes are
// unwrapped under the ZMK.
func hsmSwitch(t *testing.T, kind string, kb *keyBank) (*switchtest.Switch, string) {
	t.Helper()
	ctx := context.Background()
	var tokenHSM hsm.Config
	opts := switchtest.Options{DataDir: t.TempDir(), Bank: kb.Bank, Configure: func(c *daemon.Config) {
		if kind == hsm.KindPKCS11 {
			c.HSM = tokenHSM
		}
		l := &c.Links[0]
		l.MAC = links.MACConfig{Enabled: true, KeyID: "mac-link", ZMKID: "zmk"}
		l.SignOn = new(bool) // the bank MACs every message, sign-on included
	}}
	switch kind {
	case hsm.KindPKCS11:
		tokenHSM = softhsm.Config(t)
		tokenHSM.PKCS11.AllowHostUnwrap = true // SoftHSM2 2.6 cannot unwrap under TDES
		m, err := pkcs11.New(tokenHSM)
		require.NoError(t, err)
		_, err = m.InitKeys(ctx)
		require.NoError(t, err)
		ceremony(t, kb, func(c [][]byte) error {
			_, err := m.ImportComponents(ctx, "zmk", hsm.KeyZMK, hsm.AlgTDES, c, "08D7B4")
			return err
		}, m)
		require.NoError(t, m.Close())
	default:
		cfg, _ := switchtest.Config(t, opts, kb.Addr()) // creates the key files
		mk, err := hsm.LoadMasterKeyFile(cfg.HSM.MasterKeyFile)
		require.NoError(t, err)
		store, err := hsm.OpenKeyStore(cfg.HSM.KeyStore, mk)
		require.NoError(t, err)
		m, err := hsm.NewSoft(store, hsm.Config{})
		require.NoError(t, err)
		ceremony(t, kb, func(c [][]byte) error {
			_, err := store.ImportComponents("zmk", hsm.KeyZMK, hsm.AlgTDES, c, "08D7B4")
			return err
		}, m)
	}
	return switchtest.Run(t, opts), opts.DataDir
}

// TestPaymentSuiteOnEitherHSM runs the payment suite once with each
// security module, the PKCS#11 one on a real SoftHSM2 token: a purchase, a
// hold with its completion and a refund, all over a MAC'd bank link, and
// the bank's key change (0800, DE70 161) taken under the zone master key,
// after which both sides MAC with the new key. Both modules give the same
// outcomes; the books and the reconciliation agree with the bank's; no
// card data is on disk.
func TestPaymentSuiteOnEitherHSM(t *testing.T) {
	outcomes := map[string][]string{}
	for _, kind := range []string{hsm.KindSoft, hsm.KindPKCS11} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			kb := newKeyBank(t)
			s, dataDir := hsmSwitch(t, kind, kb)
			before := s.Account(visa)
			var got []string
			note := func(what string, v any) { got = append(got, fmt.Sprintf("%s: %v", what, v)) }

			id := s.Register("purchase-1", 4200, false)
			require.Equal(t, "0", errorCode(s.Pay(id, visa)))
			o := s.Order(id)
			note("purchase", o.Status)
			require.Equal(t, order.StatusDeposited, o.Status, "%+v", o.Ops)
			wantFormat := map[string]byte{hsm.KindSoft: hsm.PANFormatSoft, hsm.KindPKCS11: hsm.PANFormatPKCS11}[kind]
			require.Equal(t, wantFormat, o.Card.Ciphertext[0], "the PAN is kept encrypted by the module in use")

			hold := s.Register("hold-1", 5000, true)
			require.Equal(t, "0", errorCode(s.Pay(hold, visa)))
			note("hold", s.Order(hold).Status)
			ans, err := s.RBS("deposit", url.Values{"orderId": {hold}, "amount": {"0"}}, 0)
			require.NoError(t, err)
			require.Equal(t, "0", errorCode(ans), "%v", ans)
			s.SAFDrained()
			note("completion", s.Order(hold).Status)
			ans, err = s.RBS("refund", url.Values{"orderId": {hold}, "amount": {"1500"}}, 0)
			require.NoError(t, err)
			require.Equal(t, "0", errorCode(ans), "%v", ans)
			o = s.Order(hold)
			note("refund", fmt.Sprint(o.Status, " ", o.Refunded))
			require.Equal(t, int64(1500), o.Refunded)

			// The bank's key change: a wrong check value is refused, the
			// right one taken; then both sides MAC with the new key only.
			wrong := kb.keyExchange(t, "mac-v2")
			kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			rc, err := kb.SendKeyChange(kctx, hex.EncodeToString(wrong.Wrapped), "000000")
			require.NoError(t, err)
			note("key change, wrong KCV", rc)
			require.Equal(t, iso.RCSecurityViolation, rc)
			next := kb.keyExchange(t, "mac-v2")
			rc, err = kb.SendKeyChange(kctx, hex.EncodeToString(next.Wrapped), next.KCV)
			require.NoError(t, err)
			note("key change", rc)
			require.Equal(t, iso.RCApproved, rc)
			kb.mac.Store("mac-v2")

			id = s.Register("purchase-2", 4300, false)
			require.Equal(t, "0", errorCode(s.Pay(id, visa)), "the new MAC key on both sides")
			note("purchase after the key change", s.Order(id).Status)

			s.Books(visa, before)
			s.Stop()
			hsmtest.ScanForSecrets(t, dataDir)
			outcomes[kind] = got
		})
	}
	require.Equal(t, outcomes[hsm.KindSoft], outcomes[hsm.KindPKCS11], "the same outcomes with either module")
}

// faultSuite is faults_test.go: the tests that hold the money promises
// when a shop, the bank or the process fails.
var faultSuite = []string{
	"TestShopHangsUpDuringPayment", "TestBuyerDoubleClick", "TestShopHangsUpDuringFollowUps",
	"TestPartialAndMismatchedApprovals", "TestPartialReversal", "TestAdviceRefusedStaysQueued",
	"TestAdviceNeverTakenGoesToDeadLetters", "TestNotReadyUntilBankSignedOn", "TestKillDuringFollowUps",
}

// TestFaultSuiteOnPKCS11 runs the fault suite again with the switch's keys
// in a SoftHSM2 token (switchtest.EnvHSM): this test binary run once more,
// with only those tests and the variable set, since the token is found
// through the process's environment.
func TestFaultSuiteOnPKCS11(t *testing.T) {
	if os.Getenv(switchtest.EnvHSM) != "" {
		return // this is the run below: the suite itself runs here
	}
	softhsm.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^("+strings.Join(faultSuite, "|")+"|TestFaultChild)$",
		"-test.v", "-test.count=1", "-test.timeout=9m")
	cmd.Env = append(os.Environ(), switchtest.EnvHSM+"="+hsm.KindPKCS11)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the fault suite on the PKCS#11 module:\n%s", out)
	require.Contains(t, string(out), "the switch's keys are in the SoftHSM2 token")
	for _, name := range faultSuite {
		require.Contains(t, string(out), "--- PASS: "+name+" ", "%s passed on the PKCS#11 module", name)
	}
}
