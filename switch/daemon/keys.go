package daemon

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/switch/links"
)

// keyImporter takes a MAC key a bank sends in an 0800 key change (DE70
// 161), wrapped under the zone master key its link names, into the
// security module; hsm checks the key check value before the new version
// replaces the old.
type keyImporter struct {
	soft *hsm.Soft
	zmk  map[string]string // MAC key id → zone master key id
}

func newKeyImporter(m hsm.Module, cfgs []links.Config) links.KeyImporter {
	soft, ok := m.(*hsm.Soft)
	if !ok {
		return nil
	}
	k := keyImporter{soft: soft, zmk: map[string]string{}}
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
	cur, err := k.soft.Store().Key(keyID)
	if err != nil {
		return fmt.Errorf("daemon: key change for %s: %w", keyID, err)
	}
	_, err = k.soft.ImportKey(ctx, hsm.ImportRequest{ZMK: zmk, KeyID: keyID, Type: hsm.KeyMAC, Algorithm: cur.Algorithm, Wrapped: raw, KCV: kcv})
	if err != nil {
		return fmt.Errorf("daemon: key change for %s: %w", keyID, err)
	}
	return nil
}
