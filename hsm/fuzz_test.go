package hsm

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzDecryptPAN feeds arbitrary bytes where a stored PAN ciphertext belongs:
// the parser and the decryption must reject them without panicking, and
// anything accepted must be a PAN the module itself encrypted.
func FuzzDecryptPAN(f *testing.F) {
	ctx := context.Background()
	m := MustEphemeral(f)
	for _, pan := range testPANs {
		ct, err := m.EncryptPAN(ctx, pan)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 3, 'd', 'e', 'k', 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParsePANCiphertext(b)
		if err == nil && !ValidKeyID(c.KeyID) {
			t.Fatalf("parsed an invalid key id %q", c.KeyID)
		}
		pan, err := m.DecryptPAN(ctx, b)
		if err == nil && !validPAN(pan) {
			t.Fatalf("decrypted to something that is not a PAN")
		}
	})
}

// FuzzLoadKeyStore feeds arbitrary bytes as a key store file.
func FuzzLoadKeyStore(f *testing.F) {
	mk := MustMasterKey(f)
	s, err := NewMemoryKeyStore(mk)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range []struct {
		t KeyType
		a Algorithm
	}{{KeyMAC, AlgRetailMAC}, {KeyDEK, AlgAES256}, {KeyZMK, AlgTDES}} {
		if _, err := s.Create(string(c.t), c.t, c.a); err != nil {
			f.Fatal(err)
		}
	}
	good, err := json.Marshal(s.file)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"tulpar-keystore/1","master_kcv":"` + mk.KCV() + `","keys":[]}`))
	f.Add([]byte(`{"format":"tulpar-keystore/1","master_kcv":"` + mk.KCV() + `","keys":[{"id":"a","type":"mac","alg":"iso9797-3","versions":[{"version":1,"wrapped":"AAAA"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s2, err := NewMemoryKeyStore(mk)
		if err != nil {
			t.Fatal(err)
		}
		if err := s2.load(data); err != nil {
			return
		}
		for _, info := range s2.Keys() {
			if !ValidKeyID(info.ID) || len(info.KCV) != 6 {
				t.Fatalf("loaded a bad key record %+v", info)
			}
		}
	})
}

// FuzzParseMasterKey feeds arbitrary text as a master key file or variable.
func FuzzParseMasterKey(f *testing.F) {
	f.Add("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF")
	f.Add("ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		mk, err := ParseMasterKey(s)
		if err == nil && len(mk.KCV()) != 6 {
			t.Fatal("accepted a key without a check value")
		}
	})
}
