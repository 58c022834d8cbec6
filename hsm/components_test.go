package hsm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestComponentsKnownAnswers enters keys whose check values are published
// or independently computed, from 2 and 3 components.
func TestComponentsKnownAnswers(t *testing.T) {
	tests := []struct {
		name, source string
		alg          Algorithm
		components   []string
		key          string // what the components XOR to
		kcv          string // the agreed check value, as an operator types it
		want         string
	}{
		{
			name: "TDES ZMK from 2 components", alg: AlgTDES,
			components: []string{"0123456789ABCDEF 0000000000000000", "0000000000000000 FEDCBA9876543210"},
			key:        "0123456789ABCDEF FEDCBA9876543210", kcv: "08D7B4", want: "08D7B4",
			source: "the textbook double-length test key; encrypting zeros under it gives 08D7B4FB629D0885, published as its " +
				"check value in HSM and POS vendor examples (e.g. QPOS SDK setMasterKey), recomputed with pyca/cryptography",
		},
		{
			name: "TDES ZMK from 3 components, check value sent as 4 lower-case digits", alg: AlgTDES,
			components: []string{"A5A5A5A5A5A5A5A5 5A5A5A5A5A5A5A5A", "0F0F0F0F0F0F0F0F F0F0F0F0F0F0F0F0", "AB89EFCD23016745 54761032DCFE98BA"},
			key:        "0123456789ABCDEF FEDCBA9876543210", kcv: "08d7", want: "08D7B4",
			source: "the same published key, split in three (the third component computed as key XOR the other two)",
		},
		{
			name: "AES-256 ZMK from 2 components, whole CMAC sent", alg: AlgAES256,
			components: []string{
				"00112233445566778899AABBCCDDEEFF 000102030405060708090A0B0C0D0E0F",
				"602CC923519F17C9A3EA044B49A0997E 1F342E043F640ED025911AA80519D1FB",
			},
			key: "603deb1015ca71be2b73aef0857d7781 1f352c073b6108d72d9810a30914dff4",
			kcv: "1A0B2DF26763CFD6AFB9D3B1A2A846DA", want: "1A0B2D",
			source: "the NIST SP 800-38B AES-256 example key; X9.24-1:2017 CMAC method over a zero block, " +
				"computed with pyca/cryptography (no published AES KCV for a public key was found)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var comps [][]byte
			for _, c := range tc.components {
				comps = append(comps, unhex(t, c))
			}
			key, err := combineComponents(tc.alg, comps, tc.kcv)
			require.NoError(t, err, tc.source)
			assert.Equal(t, unhex(t, tc.key), key, "the components XOR to the key")

			m, err := NewEphemeral()
			require.NoError(t, err)
			info, err := m.Store().ImportComponents("zmk-bank-a", KeyZMK, tc.alg, comps, tc.kcv)
			require.NoError(t, err)
			assert.Equal(t, tc.want, info.KCV, tc.source)
			assert.Equal(t, KeyZMK, info.Type)
			assert.Contains(t, info.Origin, "entered in clear")
		})
	}
}

func TestComponentsRefused(t *testing.T) {
	c1, c2 := unhex(t, "0123456789ABCDEF0000000000000000"), unhex(t, "0000000000000000FEDCBA9876543210")
	tests := []struct {
		name       string
		alg        Algorithm
		components [][]byte
		kcv, err   string
	}{
		{"wrong check value", AlgTDES, [][]byte{c1, c2}, "000000", "components combine to KCV 08D7B4, expected 000000; nothing stored"},
		{"check value differs past the 4th digit", AlgTDES, [][]byte{c1, c2}, "08D7B5", "key check value mismatch"},
		{"check value too short to compare", AlgTDES, [][]byte{c1, c2}, "08D", "at least 4 hex digits"},
		{"one component is no dual control", AlgTDES, [][]byte{c1}, "08D7B4", "dual control needs at least 2"},
		{"components of different lengths", AlgTDES, [][]byte{c1, c2[:8]}, "08D7B4", "component 2 has 8 bytes; tdes keys have 16"},
		{"components too short for the algorithm", AlgAES256, [][]byte{c1, c2}, "08D7B4", "component 1 has 16 bytes; aes-256 keys have 32"},
		{"unknown algorithm", "rot13", [][]byte{c1, c2}, "08D7B4", "unknown algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewEphemeral()
			require.NoError(t, err)
			_, err = m.Store().ImportComponents("zmk", KeyZMK, tc.alg, tc.components, tc.kcv)
			require.ErrorContains(t, err, tc.err)
			_, err = m.Store().Key("zmk")
			require.ErrorIs(t, err, ErrUnknownKey, "nothing stored")
		})
	}
	_, err := combineComponents(AlgTDES, [][]byte{c1, c2}, "000000")
	require.ErrorIs(t, err, ErrKCVMismatch)
}
