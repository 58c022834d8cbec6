package switchtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11/softhsm"
)

// EnvHSM, set to "pkcs11", makes Config put the switch's keys in a SoftHSM2
// token kept in the data directory (its role keys made on first use)
// instead of a key store file: the same tests then run on the PKCS#11
// module (switch/daemon's TestFaultSuiteOnPKCS11 does, for the fault
// suite). The token is found through SOFTHSM2_CONF, which Config sets
// for the test, so such tests cannot be parallel; tests that open the key
// store file themselves do not apply.
const EnvHSM = "TULPAR_TEST_HSM"

func tokenHSM(t testing.TB, dataDir string) hsm.Config {
	t.Helper()
	cfg := hsm.DefaultConfig()
	cfg.Kind = hsm.KindPKCS11
	cfg.PKCS11 = softhsm.TokenIn(t, filepath.Join(dataDir, "softhsm"))
	m, err := pkcs11.New(cfg)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.InitKeys(context.Background())
	require.NoError(t, err)
	t.Logf("switchtest: the switch's keys are in the SoftHSM2 token %s", cfg.PKCS11.TokenLabel)
	return cfg
}
