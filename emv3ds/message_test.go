package emv3ds

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestWireNames holds the JSON names and omissions of every message to
// golden files, written from the two copies of the wire this package
// replaced: the names are EMV 3DS's and what the other side reads, so a
// renamed field or a changed omitempty must be a deliberate -update.
func TestWireNames(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"areq", AReq{MessageType: MessageTypeAReq, MessageVersion: Version220, ThreeDSServerTransID: "order-1",
			AcctNumber: "4111111111111111", CardExpiryDate: "2812", PurchaseAmount: "100", PurchaseCurrency: "398",
			PurchaseExponent: "2", MerchantName: "Shop", AcquirerBIN: "400000", AcquirerMerchantID: "M1",
			NotificationURL: "https://shop.example/notify", DeviceChannel: "02", BrowserAcceptHeader: "text/html",
			BrowserUserAgent: "UA", BrowserLanguage: "en", BrowserIP: "192.0.2.1"}},
		{"areq-zero", AReq{}},
		{"result", Result{MessageType: MessageTypeARes, MessageVersion: Version220, ThreeDSServerTransID: "order-1",
			DSTransID: "ds-1", ACSTransID: "acs-1", TransStatus: TransStatusChallenge, TransStatusReason: "01", ECI: "05",
			AuthenticationValue: "AAABBEg0VhI0VniQEjRWAAAAAAA=", ACSURL: "https://acs.example/acs/challenge"}},
		{"result-zero", Result{}},
		{"erro", Erro{MessageType: MessageTypeErro, ErrorCode: ErrorCodeInvalid, ErrorComponent: ErrorComponentDS,
			ErrorDescription: "bad", ErrorDetail: "acctNumber", ThreeDSServerTransID: "order-1"}},
		{"erro-zero", Erro{}},
		{"creq", CReq{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1", MessageType: MessageTypeCReq,
			MessageVersion: Version220, ChallengeWindowSize: "05"}},
		{"creq-zero", CReq{}},
		{"cres", CRes{ThreeDSServerTransID: "order-1", ACSTransID: "acs-1", MessageType: MessageTypeCRes,
			MessageVersion: Version220, TransStatus: TransStatusAuthenticated, ChallengeCompletionInd: "Y"}},
		{"cres-zero", CRes{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.MarshalIndent(tc.v, "", "\t")
			require.NoError(t, err)
			golden(t, tc.name+".json", append(b, '\n'))
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), string(got), "differs from %s (go test -update to accept)", path)
}
