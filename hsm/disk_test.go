package hsm_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
	"github.com/tulpar-switch/tulpar/iso"
)

// payment is what a later journal or order store would keep about a card:
// never the PAN or the CVV2 in clear.
type payment struct {
	PANCiphertext []byte `json:"pan_ct"` // encoding/json writes base64
	Token         string `json:"token"`
	Masked        string `json:"masked"`
	Expiry        string `json:"expiry"`
	MAC           string `json:"mac"`
}

// cardBookEntry is the issuer simulator's card: a keyed CVV2 hash only.
type cardBookEntry struct {
	PANCiphertext []byte `json:"pan_ct"`
	Masked        string `json:"masked"`
	Expiry        string `json:"expiry"`
	CVVHash       string `json:"cvv2_hash"`
}

// TestNoCardDataOnDisk runs the card data paths the way the switch and the
// simulator will, writing a real bbolt file, a zerolog log, the key store and
// the master key file into one directory, and then scans every byte in it for
// the test PANs and CVV2s. Later issues add their own writers to this test
// (or call hsmtest.ScanForSecrets on their own directories).
func TestNoCardDataOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	mk, err := hsm.GenerateMasterKey()
	require.NoError(t, err)
	require.NoError(t, hsm.WriteMasterKeyFile(filepath.Join(dir, "master.key"), mk))
	store, err := hsm.CreateKeyStore(filepath.Join(dir, "keys.json"), mk)
	require.NoError(t, err)
	for _, k := range []struct {
		id  string
		typ hsm.KeyType
		alg hsm.Algorithm
	}{{"dek", hsm.KeyDEK, ""}, {"token", hsm.KeyToken, ""}, {"cvk", hsm.KeyCVK, ""}, {"mac-bank-a", hsm.KeyMAC, hsm.AlgRetailMAC}} {
		_, err := store.Create(k.id, k.typ, k.alg)
		require.NoError(t, err)
	}
	cfg := hsm.DefaultConfig()
	cfg.KeyStore = filepath.Join(dir, "keys.json")
	cfg.MasterKeyFile = filepath.Join(dir, "master.key")
	m, err := hsm.Open(cfg)
	require.NoError(t, err)

	logFile, err := os.OpenFile(filepath.Join(dir, "tulpar.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	log := zerolog.New(logFile).With().Timestamp().Logger()

	db, err := bolt.Open(filepath.Join(dir, "journal.db"), 0o600, nil)
	require.NoError(t, err)

	// Halfway through, the data key rotates: both versions end up on disk.
	for i, pan := range hsmtest.TestPANs {
		if i == len(hsmtest.TestPANs)/2 {
			_, err := m.Store().Rotate("dek")
			require.NoError(t, err)
		}
		cvv := hsmtest.TestCVV2s[i%len(hsmtest.TestCVV2s)]
		ct, err := m.EncryptPAN(ctx, pan)
		require.NoError(t, err)
		tok, err := m.TokenizePAN(ctx, pan)
		require.NoError(t, err)
		cvvHash, err := m.HashCVV(ctx, pan, "2812", cvv)
		require.NoError(t, err)
		require.NoError(t, m.VerifyCVV(ctx, pan, "2812", cvv, cvvHash))

		// The bytes a link MACs carry the PAN only as the protected form
		// here; the MAC itself is a function of them and reveals nothing.
		isoLike := append([]byte("0200"), ct...)
		mac, err := m.GenerateMAC(ctx, "mac-bank-a", isoLike)
		require.NoError(t, err)

		p := payment{PANCiphertext: ct, Token: tok, Masked: iso.MaskPAN(pan), Expiry: "2812", MAC: hex.EncodeToString(mac)}
		card := cardBookEntry{PANCiphertext: ct, Masked: iso.MaskPAN(pan), Expiry: "2812", CVVHash: cvvHash}
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			for name, v := range map[string]any{"payments": p, "cards": card} {
				b, err := tx.CreateBucketIfNotExists([]byte(name))
				if err != nil {
					return err
				}
				data, err := json.Marshal(v)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(tok), data); err != nil {
					return err
				}
			}
			raw, err := tx.CreateBucketIfNotExists([]byte("raw"))
			if err != nil {
				return err
			}
			return raw.Put([]byte(tok), ct) // the binary form too
		}))

		log.Info().Str("pan", iso.MaskPAN(pan)).Str("token", tok).Hex("mac", mac).Bytes("pan_ct", ct).Msg("authorization")

		// Errors from the card data paths go to the log as they are.
		_, err = m.EncryptPAN(ctx, pan+"0000")
		log.Warn().Err(err).Msg("encrypt rejected")
		bad := append([]byte(nil), ct...)
		bad[len(bad)-1] ^= 1
		_, err = m.DecryptPAN(ctx, bad)
		log.Warn().Err(err).Msg("decrypt rejected")
		err = m.VerifyCVV(ctx, pan, "2812", "000", cvvHash)
		log.Warn().Err(err).Str("pan", iso.MaskPAN(pan)).Msg("cvv2 check failed")

		// Follow-up messages decrypt: the clear PAN exists only in memory.
		back, err := m.DecryptPAN(ctx, ct)
		require.NoError(t, err)
		require.Equal(t, pan, back)
	}
	require.NoError(t, db.Close())
	require.NoError(t, logFile.Close())

	files := hsmtest.ScanForSecrets(t, dir)
	assert.GreaterOrEqual(t, files, 4, "master key, key store, bbolt file and log were all scanned")
}
