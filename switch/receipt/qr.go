package receipt

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// QRPNG is a QR code of content as a PNG (the PDF's), each module a
// whole number of pixels so that no edge is blurred when it is scaled.
func QRPNG(content string) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("receipt: qr: %w", err)
	}
	png, err := q.PNG(-8) // 8 pixels a module
	if err != nil {
		return nil, fmt.Errorf("receipt: qr: %w", err)
	}
	return png, nil
}

// QRSVG is a QR code of content as SVG markup, one path of unit squares:
// the page shows it inline, with no image request and no script.
func QRSVG(content string) (string, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("receipt: qr: %w", err)
	}
	bits := q.Bitmap() // with the quiet zone
	n := len(bits)
	var p strings.Builder
	for y, row := range bits {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1 // dark modules in a row are one rectangle
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&p, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img"><rect width="%d" height="%d" fill="#fff"/><path d="%s" fill="#000"/></svg>`,
		n, n, n, n, p.String()), nil
}
