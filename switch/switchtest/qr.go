package switchtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ReadQR returns what the one QR code in the image img (PNG or any format
// zbar reads) says, read by zbar's zbarimg, which it installs when missing.
//
// zbar, not a Go decoder: gozxing v0.1.1, used before, failed to find or
// to correct about one in a hundred valid codes of receipt links even
// drawn at eight whole pixels a module (zbarimg read all of 400), which
// made the receipt and payment-link tests fail now and then.
func ReadQR(t testing.TB, img []byte) string {
	t.Helper()
	zbarimg := EnsureDebian(t, "zbarimg", "zbar-tools")
	file := filepath.Join(t.TempDir(), "qr.png")
	require.NoError(t, os.WriteFile(file, img, 0o600))
	out, err := exec.Command(zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file).Output()
	require.NoError(t, err, "zbarimg finds no QR code in the image")
	codes := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, codes, 1, "QR codes in the image: %q", codes)
	return codes[0]
}
