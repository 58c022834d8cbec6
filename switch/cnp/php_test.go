package cnp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/cnp"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestPHPSoapClient drives the service with PHP's SoapClient in WSDL mode,
// configured as the vendor's sample configures it (testdata/shop.php),
// through a whole purchase: start, the buyer pays on the hosted page,
// status, capture of less than the hold, refund; and two business errors
// that must come back as answers, not exceptions.
func TestPHPSoapClient(t *testing.T) {
	php := ensurePHP(t)
	const user, password = "php-shop", "5c8e1f0a9b7d4e2f8a6c3b1d0e9f7a5c"
	w := newWorld(t, func(c *daemon.Config) {
		c.CNP.Merchants[0].BasicAuth = cnp.BasicAuth{UserName: user, PasswordSHA256: sha256Hex(password)}
	})
	before := w.Account(switchtest.Visa)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, php, "testdata/shop.php", w.URL(), mid, user, password, w.shop)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var once sync.Once
	wait := func() error {
		var err error
		once.Do(func() { err = cmd.Wait() })
		return err
	}
	t.Cleanup(func() { stdin.Close(); _ = wait() })

	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	next := func(step string) map[string]any {
		t.Helper()
		require.True(t, lines.Scan(), "PHP printed %q; stderr: %s", step, stderr.String())
		var v struct {
			Step  string `json:"step"`
			Value any    `json:"value"`
		}
		require.NoError(t, json.Unmarshal(lines.Bytes(), &v), lines.Text())
		require.Equal(t, step, v.Step, "stderr: %s", stderr.String())
		if m, ok := v.Value.(map[string]any); ok {
			return m
		}
		return map[string]any{"": v.Value}
	}

	require.Equal(t, cnp.Version, next("version")[""])
	require.Contains(t, next("version_request")[""], "<SOAP-ENV:Body/>", "getVersion goes out with an empty Body")
	req := next("start_request")[""].(string)
	require.NotContains(t, req, "terminal", "the sample's terminalId never reaches the wire")
	require.Contains(t, req, `href="#ref1"`, "PHP wrote the repeated goods item as a multi-reference")
	start := next("start")
	require.Equal(t, true, start["success"], "%v", start)
	ref := start["customerReference"].(string)
	require.Regexp(t, `^TS[0-9A-Z]{10}$`, ref)
	redirect := start["redirectURL"].(string)
	id := redirect[strings.LastIndex(redirect, "/")+1:]
	o := w.Order(id)
	require.Len(t, o.Cart, 2, "the multi-referenced goods item twice")
	require.Equal(t, "Ручка шариковая", o.Cart[1].Name)
	require.True(t, strings.HasSuffix(o.ReturnURL, "&sessionID="+ref))

	newBuyer(t).pay(redirect, switchtest.Visa)
	_, err = io.WriteString(stdin, "paid\n")
	require.NoError(t, err)

	auth := next("authorised")
	require.Equal(t, "AUTHORISED", auth["transactionStatus"])
	require.Equal(t, "100000", auth["amountAuthorised"])
	require.Equal(t, "77", auth["orderId"])
	goods := auth["goods"].([]any)
	require.Len(t, goods, 2)
	require.Equal(t, "Ручка шариковая", goods[0].(map[string]any)["nameOfGoods"])
	require.Equal(t, "php", auth["additionalInformation"].(map[string]any)["value"], "PHP makes a one-item list an object")
	ext := next("extended")
	require.Equal(t, "411111******1111", ext["maskedCardNumber"])
	require.Equal(t, "NO", ext["verified3D"])

	require.Equal(t, true, next("complete")[""])
	paid := next("paid")
	require.Equal(t, "PAID", paid["transactionStatus"])
	require.Equal(t, "90000", paid["amountSettled"])
	require.Equal(t, true, next("refund")[""])
	refunded := next("refunded")
	require.Equal(t, "REFUNDED", refunded["transactionStatus"])
	require.Equal(t, "10000", refunded["amountRefunded"])

	refused := next("refused")
	require.Equal(t, false, refused["success"])
	require.Equal(t, "languageCode: not supported, supported: ru, kz, en", refused["errorDescription"])
	require.Nil(t, refused["redirectURL"])
	require.Equal(t, false, next("complete_unknown")[""])
	require.Equal(t, "NO_SUCH_TRANSACTION", next("unknown")["transactionStatus"])
	require.NoError(t, wait(), "stderr: %s", stderr.String())
	require.Empty(t, strings.TrimSpace(stderr.String()), "no PHP warnings")
	w.Books(switchtest.Visa, before)
}

var (
	phpOnce sync.Once
	phpPath string
	phpErr  error
)

// ensurePHP finds php with the soap extension, installing Debian's php-cli
// and php-soap when the test runs as root (CI does) and they are missing.
func ensurePHP(t *testing.T) string {
	t.Helper()
	phpOnce.Do(func() { phpPath, phpErr = findOrInstallPHP() })
	if phpErr != nil {
		t.Fatalf("PHP SoapClient test: %v", phpErr)
	}
	return phpPath
}

func phpWithSoap() string {
	p, err := exec.LookPath("php")
	if err != nil {
		return ""
	}
	out, err := exec.Command(p, "-r", "echo class_exists('SoapClient') ? 'yes' : 'no';").Output()
	if err != nil || string(out) != "yes" {
		return ""
	}
	return p
}

func findOrInstallPHP() (string, error) {
	if p := phpWithSoap(); p != "" {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("no php with the soap extension on PATH and not root, so it cannot be installed here: " +
			"run `apt-get install -y php-cli php-soap` as root and test again")
	}
	if err := switchtest.AptGet("cnp PHP test: php with SoapClient not found", false, func() bool { return phpWithSoap() != "" },
		"php-cli", "php-soap"); err != nil {
		return "", fmt.Errorf("installing php-cli php-soap: %w", err)
	}
	if p := phpWithSoap(); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("php-cli and php-soap installed, but no php with SoapClient on PATH")
}
