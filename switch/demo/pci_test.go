package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm/hsmtest"
	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
)

// TestNoCardDataOnDisk runs the whole demo (journal, order store, SAF,
// key store, debug logs) through the merchant API with every test card,
// including server-to-server card entry that carries the CVV2, then scans
// every byte it wrote: no clear PAN, no CVV2.
func TestNoCardDataOnDisk(t *testing.T) {
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "tulpar.log"))
	require.NoError(t, err)
	defer logFile.Close()
	log := zerolog.New(logFile).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", Log: log})
	require.NoError(t, err)
	require.NoError(t, d.WaitReady(ctx))

	rest := func(method string, form url.Values) map[string]any {
		form.Set("userName", d.Secrets.UserName)
		form.Set("password", d.Secrets.Password)
		resp, err := d.Client().PostForm(d.URL()+"/payment/rest/"+method, form)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	deposited := 0
	for i, pan := range hsmtest.TestPANs {
		reg := rest("registerPreAuth.do", url.Values{"orderNumber": {fmt.Sprintf("pci-%d", i)}, "amount": {"25000"},
			"returnUrl": {"https://shop.example.kz/ok"}})
		id, _ := reg["orderId"].(string)
		require.NotEmpty(t, id, "%v", reg)
		rest("paymentorder.do", url.Values{"MDORDER": {id}, "$PAN": {pan}, "$CVC": {"123"}, "YYYY": {"2030"}, "MM": {"12"},
			"TEXT": {"CARD HOLDER"}, "language": {"en"}})
		rest("deposit.do", url.Values{"orderId": {id}, "amount": {"0"}})
		if st := rest("getOrderStatusExtended.do", url.Values{"orderId": {id}}); st["orderStatus"] == float64(2) {
			deposited++
		}
	}
	require.GreaterOrEqual(t, deposited, 3, "card data really went through the switch to the banks")
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	require.NoError(t, d.Close(sctx))

	needles := append(hsmtest.Needles(), hsmtest.CVV2("123")...)
	files := hsmtest.ScanForSecrets(t, dir, needles...)
	require.GreaterOrEqual(t, files, 4, "the scan read the data file, the key store and the log")
	info, err := os.Stat(filepath.Join(dir, "data", journal.DataFile))
	require.NoError(t, err)
	require.Positive(t, info.Size())
	logInfo, err := logFile.Stat()
	require.NoError(t, err)
	require.Positive(t, logInfo.Size(), "debug logs were written and scanned")
}
