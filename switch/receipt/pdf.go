package receipt

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"

	"codeberg.org/go-pdf/fpdf"

	"github.com/tulpar-switch/tulpar/switch/qrcode"
)

// DejaVu Sans (fonts/LICENSE: the Bitstream Vera licence) has every
// Kazakh and Russian letter and the tenge sign; the PDF's core fonts have
// none of them. Embedded, so the switch needs no font on its machine.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

// WritePDF writes v as an A5 PDF: the same fields as the page, the cart
// as a table and the QR code of the receipt's link.
func WritePDF(w io.Writer, v *View) error {
	qr, err := qrcode.PNG(v.URL)
	if err != nil {
		return err
	}
	f := fpdf.New("P", "mm", "A5", "")
	f.SetTitle(title(v), true)
	f.SetCreator("Tulpar", true)
	f.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	f.AddUTF8FontFromBytes("dejavu", "B", fontBold)
	f.SetMargins(12, 12, 12)
	f.SetAutoPageBreak(true, 12)
	f.AddPage()
	width, _ := f.GetPageSize()
	inner := width - 24

	f.SetFont("dejavu", "B", 15)
	f.CellFormat(inner, 8, title(v), "", 1, "L", false, 0, "")
	f.SetFont("dejavu", "", 9)
	f.SetTextColor(90, 90, 90)
	f.CellFormat(inner, 5, v.Shop.Name, "", 1, "L", false, 0, "")
	f.SetTextColor(0, 0, 0)
	f.Ln(3)

	row := func(label, value string) {
		if value == "" {
			return
		}
		f.SetFont("dejavu", "", 9)
		f.SetTextColor(90, 90, 90)
		f.CellFormat(45, 6, label, "", 0, "L", false, 0, "")
		f.SetTextColor(0, 0, 0)
		f.SetFont("dejavu", "B", 9)
		f.MultiCell(inner-45, 6, value, "", "L", false)
	}
	t := v.T
	row(t.Merchant, v.Shop.Name)
	row(t.Site, v.Shop.Site)
	row(t.Order, v.Number)
	row(t.OpType, v.OpType)
	row(t.Amount, v.Amount)
	row(t.Time, v.Time)
	row(t.RRN, v.RRN)
	row(t.Auth, v.AuthCode)
	row(t.Card, v.Card)
	row(t.Buyer, v.Buyer)
	if v.Fiscal != nil {
		row(t.FiscalSign, v.Fiscal.Sign)
		row(t.FiscalLink, v.Fiscal.Link)
	}

	if len(v.Items) > 0 {
		f.Ln(3)
		f.SetFont("dejavu", "B", 10)
		f.CellFormat(inner, 7, t.Items, "", 1, "L", false, 0, "")
		cols := []float64{inner - 72, 26, 16, 30}
		f.SetFont("dejavu", "B", 8)
		f.SetFillColor(240, 240, 240)
		for i, h := range []string{t.Name, t.Price, t.Quantity, t.Total} {
			align := "R"
			if i == 0 {
				align = "L"
			}
			f.CellFormat(cols[i], 6, h, "B", 0, align, true, 0, "")
		}
		f.Ln(-1)
		f.SetFont("dejavu", "", 8)
		for _, it := range v.Items {
			// Long names wrap; the row is as tall as its name.
			lines := f.SplitText(it.Name, cols[0]-2)
			h := 5 * float64(max(1, len(lines)))
			x, y := f.GetXY()
			f.MultiCell(cols[0], 5, it.Name, "", "L", false)
			f.SetXY(x+cols[0], y)
			f.CellFormat(cols[1], h, it.Price, "", 0, "R", false, 0, "")
			f.CellFormat(cols[2], h, it.Quantity, "", 0, "R", false, 0, "")
			f.CellFormat(cols[3], h, it.Total, "", 1, "R", false, 0, "")
		}
		f.SetFont("dejavu", "B", 9)
		f.CellFormat(inner-cols[3], 7, t.Total, "T", 0, "R", false, 0, "")
		f.CellFormat(cols[3], 7, v.Total, "T", 1, "R", false, 0, "")
	}

	f.Ln(4)
	y := f.GetY()
	f.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	f.ImageOptions("qr", 12, y, 32, 32, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, v.URL)
	text := inner - 36
	if v.Fiscal != nil && v.Fiscal.QR != "" {
		// The fiscal receipt's own QR code, at the right: the buyer checks
		// the receipt with the tax authority's app.
		fqr, err := qrcode.PNG(v.Fiscal.QR)
		if err != nil {
			return err
		}
		f.RegisterImageOptionsReader("fiscal-qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(fqr))
		f.ImageOptions("fiscal-qr", width-12-32, y, 32, 32, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, v.Fiscal.Link)
		text -= 36
	}
	f.SetXY(48, y+2)
	f.SetFont("dejavu", "", 8)
	f.MultiCell(text, 4.5, t.QR+":\n"+v.URL, "", "L", false)
	if v.Shop.TermsURL != "" {
		f.SetX(48)
		f.MultiCell(text, 4.5, t.Terms+":\n"+v.Shop.TermsURL, "", "L", false)
	}
	f.SetY(y + 36)
	f.SetTextColor(120, 120, 120)
	f.SetFont("dejavu", "", 7)
	f.MultiCell(inner, 4, t.Footer, "", "L", false)
	if err := f.Output(w); err != nil {
		return fmt.Errorf("receipt: pdf: %w", err)
	}
	return nil
}

func title(v *View) string {
	if v.Refund {
		return v.T.RefundTitle
	}
	return v.T.Title
}
