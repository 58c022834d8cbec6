// Package qrcode draws QR codes for the switch's pages, PDFs and mails
// (receipts, payment links): SVG markup to inline in a page with no
// image request, and PNG with whole-pixel modules.
package qrcode

import (
	"fmt"
	"strings"

	skip2 "github.com/skip2/go-qrcode"
)

// PNG is a QR code of content as a PNG (for PDFs and mail), each module a
// whole number of pixels so that no edge is blurred when it is scaled.
func PNG(content string) ([]byte, error) {
	q, err := skip2.New(content, skip2.Medium)
	if err != nil {
		return nil, fmt.Errorf("qrcode: %w", err)
	}
	png, err := q.PNG(-8) // 8 pixels a module
	if err != nil {
		return nil, fmt.Errorf("qrcode: %w", err)
	}
	return png, nil
}

// SVG is a QR code of content as SVG markup, one path of unit squares:
// the page shows it inline, with no image request and no script.
func SVG(content string) (string, error) {
	q, err := skip2.New(content, skip2.Medium)
	if err != nil {
		return "", fmt.Errorf("qrcode: %w", err)
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
