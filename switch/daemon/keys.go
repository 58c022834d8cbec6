package daemon

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
	"github.com/tulpar-switch/tulpar/switch/links"
)

// openHSM opens the security module the config's kind names.
func openHSM(cfg hsm.Config) (hsm.Module, error) {
	if cfg.Kind == hsm.KindPKCS11 {
		m, err := pkcs11.Open(cfg)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return m, nil
	}
	return hsm.Open(cfg)
}

// keyImporter takes a MAC key a bank sends in an 0800 key change (DE70
// 161), wrapped under the zone master key its link names, into the
// security module; hsm checks the key check value before the new version
// replaces the old.
type keyImporter struct {
	m   hsm.Module
	zmk map[string]string // MAC key id → zone master key id
}

func newKeyImporter(m hsm.Module, cfgs []links.Config) links.KeyImporter {
	k := keyImporter{m: m, zmk: map[string]string{}}
	for _, c := range cfgs {
		if c.MAC.KeyID != "" && c.MAC.ZMKID != "" {
			k.zmk[c.MAC.KeyID] = c.MAC.ZMKID
		}
	}
	if len(k.zmk) == 0 {
		return nil
	}
	return k
}

func (k keyImporter) ImportKey(ctx context.Context, keyID, wrapped, kcv string) error {
	zmk, ok := k.zmk[keyID]
	if !ok {
		return fmt.Errorf("daemon: key change for %s: no link names a zmk_id for it", keyID)
	}
	raw, err := hex.DecodeString(wrapped)
	if err != nil {
		return fmt.Errorf("daemon: key change for %s: key under ZMK: not hex", keyID)
	}
	// No algorithm: the key changes, its algorithm does not; a key the
	// module does not hold yet is refused.
	_, err = k.m.ImportKey(ctx, hsm.ImportRequest{ZMK: zmk, KeyID: keyID, Type: hsm.KeyMAC, Wrapped: raw, KCV: kcv})
	if err != nil {
		return fmt.Errorf("daemon: key change for %s: %w", keyID, err)
	}
	return nil
}
