package daemon

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/switch/links"
)

// softWith is a security module holding a zone master key (clear value zmk)
// and a retail-MAC key.
func softWith(t *testing.T, zmk []byte) *hsm.Soft {
	t.Helper()
	mk, err := hsm.GenerateMasterKey()
	require.NoError(t, err)
	store, err := hsm.NewMemoryKeyStore(mk)
	require.NoError(t, err)
	_, err = store.ImportClear("zmk-bank", hsm.KeyZMK, hsm.AlgTDES, zmk)
	require.NoError(t, err)
	_, err = store.Create("mac-link", hsm.KeyMAC, hsm.AlgRetailMAC)
	require.NoError(t, err)
	cfg := hsm.DefaultConfig()
	cfg.PANKey, cfg.TokenKey, cfg.CVVKey = "", "", ""
	s, err := hsm.NewSoft(store, cfg)
	require.NoError(t, err)
	return s
}

// TestKeyChangeFromTheBank: the bank's new MAC key, wrapped under the zone
// master key both sides share, becomes the switch's current MAC key when
// its check value agrees, and is refused when it does not.
func TestKeyChangeFromTheBank(t *testing.T) {
	ctx := context.Background()
	zmk, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	ours, bank := softWith(t, zmk), softWith(t, zmk)
	cfg := links.DefaultConfig("b", "ascii", "127.0.0.1:1")
	cfg.MAC = links.MACConfig{Enabled: true, KeyID: "mac-link", ZMKID: "zmk-bank"}
	imp := newKeyImporter(ours, []links.Config{cfg})
	require.NotNil(t, imp)

	wrapped, kcv, err := bank.ExportKey(ctx, "zmk-bank", "mac-link")
	require.NoError(t, err)
	before, err := ours.KCV(ctx, "mac-link")
	require.NoError(t, err)
	require.NotEqual(t, kcv, before)

	require.Error(t, imp.ImportKey(ctx, "mac-link", hex.EncodeToString(wrapped), "000000"), "a wrong check value is refused")
	require.Error(t, imp.ImportKey(ctx, "mac-link", "not hex", kcv))
	require.Error(t, imp.ImportKey(ctx, "other", hex.EncodeToString(wrapped), kcv), "no link names a ZMK for it")
	require.NoError(t, imp.ImportKey(ctx, "mac-link", hex.EncodeToString(wrapped), kcv))
	after, err := ours.KCV(ctx, "mac-link")
	require.NoError(t, err)
	require.Equal(t, kcv, after, "the bank's key is the switch's current MAC key")

	data := []byte("0200 message bytes")
	mac, err := bank.GenerateMAC(ctx, "mac-link", data)
	require.NoError(t, err)
	require.NoError(t, ours.VerifyMAC(ctx, "mac-link", data, mac), "both sides now MAC alike")

	require.Nil(t, newKeyImporter(ours, []links.Config{links.DefaultConfig("b", "ascii", "x:1")}), "no zmk_id: key changes refused")
}
