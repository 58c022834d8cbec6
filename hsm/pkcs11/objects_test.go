//go:build cgo

package pkcs11

import (
	"context"
	"testing"

	p11 "github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11/softhsm"
)

// Every key object the module makes is sensitive, not extractable, and can
// do its own job only: reading its value is refused by the token.
func TestKeysNeverLeaveTheToken(t *testing.T) {
	ctx := context.Background()
	cfg := softhsm.Config(t)
	cfg.PKCS11.AllowHostUnwrap = true
	m, err := New(cfg)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.InitKeys(ctx)
	require.NoError(t, err)
	for _, alg := range hsm.Algorithms(hsm.KeyMAC) {
		_, err := m.Create(ctx, string(alg), hsm.KeyMAC, alg)
		require.NoError(t, err)
	}
	_, err = m.ImportComponents(ctx, "zmk", hsm.KeyZMK, hsm.AlgTDES,
		[][]byte{make([]byte, 16), {1, 35, 69, 103, 137, 171, 205, 239, 254, 220, 186, 152, 118, 84, 50, 16}}, "08D7B4")
	require.NoError(t, err)

	require.NoError(t, m.do(ctx, func(s p11.SessionHandle) error {
		hs, err := m.find(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY)})
		require.NoError(t, err)
		require.Len(t, hs, 3+4+2+1, "three role keys, four MAC keys (two retail, with their K‖K), one ZMK; no twin or session key left")
		for _, h := range hs {
			attrs, err := m.lib.GetAttributeValue(s, h, []*p11.Attribute{
				p11.NewAttribute(p11.CKA_LABEL, nil), p11.NewAttribute(p11.CKA_SENSITIVE, nil),
				p11.NewAttribute(p11.CKA_EXTRACTABLE, nil), p11.NewAttribute(p11.CKA_TOKEN, nil),
				p11.NewAttribute(p11.CKA_WRAP, nil), p11.NewAttribute(p11.CKA_DERIVE, nil),
			})
			require.NoError(t, err)
			label := string(attrs[0].Value)
			assert.Equal(t, []byte{1}, attrs[1].Value, "%s sensitive", label)
			assert.Equal(t, []byte{0}, attrs[2].Value, "%s not extractable", label)
			assert.Equal(t, []byte{1}, attrs[3].Value, "%s on the token", label)
			assert.Equal(t, []byte{0}, attrs[4].Value, "%s wraps nothing", label)
			assert.Equal(t, []byte{0}, attrs[5].Value, "%s derives nothing", label)
			_, err = m.lib.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
			assert.True(t, is(err, p11.CKR_ATTRIBUTE_SENSITIVE), "%s: reading the value: %v", label, err)
		}
		return nil
	}))
}

// An operation waits for a free session only as long as its context.
func TestSessionWaitBounded(t *testing.T) {
	cfg := softhsm.Config(t)
	cfg.PKCS11.Sessions = 1
	m, err := New(cfg)
	require.NoError(t, err)
	defer m.Close()
	s := <-m.sessions // all sessions busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = m.do(ctx, func(p11.SessionHandle) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)
	m.sessions <- s
	assert.NoError(t, m.do(context.Background(), func(p11.SessionHandle) error { return nil }))
}
