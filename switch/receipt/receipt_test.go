package receipt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/receipt"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

const terms = "https://shop.example.kz/returns"

// paidWithCart is a switch with one order of two cart lines paid (the
// lines' total 1 500,50 ₸) and a partial refund of 300,00 ₸.
type world struct {
	*switchtest.Switch
	id, refundOp string
}

func newWorld(t *testing.T, configure ...func(*daemon.Config)) *world {
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.Receipts = receipt.Config{Merchants: map[string]receipt.MerchantReceipt{switchtest.Merchant: {TermsURL: terms}}}
		for _, f := range configure {
			f(c)
		}
	}})
	reg, err := s.D.Payments().Register(context.Background(), payments.RegisterRequest{
		Merchant: switchtest.Merchant, Number: "R-2026-001", Amount: 150050, Language: "ru", ReturnURL: "https://shop.example.kz/ok",
		Email: "buyer@example.kz",
		Cart: []order.CartItem{
			{Name: "Қымыз, 1 л (кумыс)", Quantity: 2, Price: 50025, Amount: 100050},
			{Name: "Доставка по Алматы", Quantity: 1, Price: 50000, Amount: 50000},
		},
	})
	require.NoError(t, err)
	id := reg.Order.ID
	require.EqualValues(t, 0, s.Pay(id, "4111111111111111")["errorCode"])
	ans, err := s.RBS("refund", url.Values{"orderId": {id}, "amount": {"30000"}}, 0)
	require.NoError(t, err)
	require.EqualValues(t, "0", fmt.Sprint(ans["errorCode"]), "refund: %v", ans)
	o := s.Order(id)
	w := &world{Switch: s, id: id}
	for _, op := range o.Ops {
		if op.Type == order.OpRefund {
			w.refundOp = op.ID
		}
	}
	require.NotEmpty(t, w.refundOp)
	return w
}

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// TestReceiptPage: the payment's receipt shows every field the brochure
// lists, in the order's language and in the others, with the cart and a
// QR code; a refund has its own receipt; a wrong or another order's token
// shows nothing.
func TestReceiptPage(t *testing.T) {
	w := newWorld(t)
	o := w.Order(w.id)
	link := w.D.Receipts().URL(w.id, "")
	require.True(t, strings.HasPrefix(link, w.URL()+"/receipt/"+w.id+"?t="), link)

	status, body, h := get(t, link)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	op := purchase(t, o)
	shop, _ := w.D.Payments().Merchant(switchtest.Merchant)
	for _, want := range []string{"Торговый чек", shop.Name, "R-2026-001", "1\u00a0500,50\u00a0₸", "Оплата",
		op.RRN, op.ApprovalCode, "411111******1111", "TEST BUYER", "Қымыз, 1 л (кумыс)", "1\u00a0000,50\u00a0₸", "Доставка по Алматы",
		terms, "<svg", "format=pdf"} {
		require.Contains(t, body, want)
	}
	_, en, _ := get(t, link+"&lang=en")
	for _, want := range []string{"Sales receipt", "KZT 1,500.50", "Authorization code", "Return and refund conditions"} {
		require.Contains(t, en, want)
	}
	_, kk, _ := get(t, link+"&lang=kk")
	require.Contains(t, kk, "Сауда чегі")
	require.Contains(t, kk, "Авторизация коды")

	status, refund, _ := get(t, w.D.Receipts().URL(w.id, w.refundOp))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, refund, "Чек возврата")
	require.Contains(t, refund, "300,00\u00a0₸")

	// The JSON API gives each receipted operation its receipt's link.
	req, err := http.NewRequest(http.MethodGet, w.URL()+"/v1/orders/"+w.id, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+w.Secrets.APIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var got struct {
		Operations []struct {
			Type       string `json:"type"`
			ReceiptURL string `json:"receipt_url"`
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	links := map[string]string{}
	for _, op := range got.Operations {
		links[op.Type] = op.ReceiptURL
	}
	require.Equal(t, w.D.Receipts().URL(w.id, op.ID), links["purchase"])
	require.Equal(t, w.D.Receipts().URL(w.id, w.refundOp), links["refund"])
	status, _, _ = get(t, links["purchase"])
	require.Equal(t, http.StatusOK, status)

	// The payment's token does not open the refund, nor another order.
	status, _, _ = get(t, strings.Replace(link, "?t=", "?op="+w.refundOp+"&t=", 1))
	require.Equal(t, http.StatusNotFound, status)
	other := w.Register("R-2026-002", 1000, false)
	status, body, _ = get(t, strings.Replace(link, w.id, other, 1))
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, body, "Чек не найден")
	// An order that is not paid has no receipt, even with its own link.
	status, body, _ = get(t, w.D.Receipts().URL(other, ""))
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, body, "пока нет чека")
}

// TestReceiptPDF: the PDF, rendered to an image by poppler, has the fields
// as text and a QR code that decodes to the receipt's link.
func TestReceiptPDF(t *testing.T) {
	switchtest.EnsureDebian(t, "pdftoppm", "poppler-utils")
	w := newWorld(t)
	link := w.D.Receipts().URL(w.id, "")
	status, pdf, h := get(t, link+"&format=pdf")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/pdf", h.Get("Content-Type"))
	dir := t.TempDir()
	file := filepath.Join(dir, "receipt.pdf")
	require.NoError(t, os.WriteFile(file, []byte(pdf), 0o600))

	text, err := exec.Command("pdftotext", "-layout", file, "-").Output()
	require.NoError(t, err)
	o := w.Order(w.id)
	for _, want := range []string{"Торговый чек", "R-2026-001", "1 500,50 ₸", purchase(t, o).RRN, "Қымыз, 1 л (кумыс)", "Итого", terms} {
		require.Contains(t, strings.ReplaceAll(string(text), "\u00a0", " "), strings.ReplaceAll(want, "\u00a0", " "))
	}

	out, err := exec.Command("pdftoppm", "-png", "-gray", "-r", "300", "-singlefile", file, filepath.Join(dir, "page")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	f, err := os.ReadFile(filepath.Join(dir, "page.png"))
	require.NoError(t, err)
	if d := os.Getenv("TULPAR_SCREENSHOTS"); d != "" {
		require.NoError(t, os.WriteFile(filepath.Join(d, "receipt-pdf.png"), f, 0o644))
	}
	require.Equal(t, link, switchtest.ReadQR(t, f), "the QR code is the receipt's link")
}

// TestReceiptLinksSurviveRestarts: the link key is kept in the data file,
// so a link given out before a restart opens the receipt after it.
func TestReceiptLinksSurviveRestarts(t *testing.T) {
	w := newWorld(t)
	path := strings.TrimPrefix(w.D.Receipts().URL(w.id, ""), w.URL())
	w.Restart() // on another port: the path and its token are what was given out
	require.Equal(t, w.URL()+path, w.D.Receipts().URL(w.id, ""))
	status, _, _ := get(t, w.URL()+path)
	require.Equal(t, http.StatusOK, status)
}

// purchase is the order's approved purchase.
func purchase(t *testing.T, o *order.Order) order.Operation {
	t.Helper()
	for _, op := range o.Ops {
		if op.Type == order.OpPurchase && op.Status == order.OpApproved {
			return op
		}
	}
	t.Fatal("no approved purchase")
	return order.Operation{}
}

func TestMoney(t *testing.T) {
	require.Equal(t, "1\u00a0234\u00a0567,08\u00a0₸", receipt.Money(123456708, "398", "ru"))
	require.Equal(t, "KZT 1,234,567.08", receipt.Money(123456708, "398", "en"))
	require.Equal(t, "0,05\u00a0$", receipt.Money(5, "840", "kk"))
	require.Equal(t, "-300,00\u00a0₸", receipt.Money(-30000, "398", "ru"))
}

// TestFiscalOnTheReceipt: once the fiscal service issued the operation's
// fiscal receipt, the receipt shows its fiscal sign, link and QR code.
func TestFiscalOnTheReceipt(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	o := &order.Order{ID: "o1", Number: "N1", Currency: "398", Language: "kk",
		Ops:    []order.Operation{{ID: "op1", Type: order.OpPurchase, Status: order.OpApproved, Amount: 1000, Time: at}},
		Fiscal: []order.FiscalReceipt{{OpID: "op1", Kind: order.FiscalSale, FiscalSign: "7401238830", Link: "https://ofd.example.kz/t/7401238830", QR: "https://ofd.example.kz/t?i=7401238830"}}}
	op, err := receipt.Operation(o, "")
	require.NoError(t, err)
	almaty, err := time.LoadLocation("Asia/Almaty")
	require.NoError(t, err)
	v := receipt.Build(o, op, receipt.Shop{Name: "Shop"}, o.Language, almaty, "https://pay.example.kz/receipt/o1?t=x", "")
	require.Equal(t, &receipt.Fiscal{Sign: "7401238830", Link: "https://ofd.example.kz/t/7401238830", QR: "https://ofd.example.kz/t?i=7401238830"}, v.Fiscal)
	require.Equal(t, "05.12.2026 14:30:00", v.Time, "Almaty time")
	require.Equal(t, "Фискалдық белгі", v.T.FiscalSign)
	var pdf bytes.Buffer
	require.NoError(t, receipt.WritePDF(&pdf, v))
	require.True(t, bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")))
	_, err = receipt.Operation(o, "op-unknown")
	require.ErrorIs(t, err, receipt.ErrNoReceipt)
}

// TestReceiptsMailedToTheBuyer: with email_buyer, the payment's receipt
// and the refund's reach the buyer through a real SMTP server, each once
// (a restart queues none again), with the PDF attached and the link.
func TestReceiptsMailedToTheBuyer(t *testing.T) {
	mp := switchtest.StartMailpit(t, switchtest.MailpitOptions{})
	w := newWorld(t, func(c *daemon.Config) {
		c.Mail = mailer.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, Security: "none", From: "receipts@tulpar.test"}
		c.Receipts.Merchants[switchtest.Merchant] = receipt.MerchantReceipt{TermsURL: terms, EmailBuyer: true}
	})
	wait := func(n int) []switchtest.MailSummary {
		var got []switchtest.MailSummary
		w.Eventually(func() bool { got = mp.Messages(); return len(got) >= n }, "the receipts' mail")
		return got
	}
	got := wait(2)
	subjects := map[string]switchtest.MailSummary{}
	for _, m := range got {
		subjects[strings.SplitN(m.Subject, " · ", 2)[0]] = m
	}
	require.Contains(t, subjects, "Торговый чек")
	require.Contains(t, subjects, "Чек возврата")
	msg := mp.Message(subjects["Торговый чек"].ID)
	require.Equal(t, "buyer@example.kz", msg.To[0].Address)
	require.Contains(t, msg.Text, w.D.Receipts().URL(w.id, purchase(t, w.Order(w.id)).ID))
	require.Len(t, msg.Attachments, 1)
	require.True(t, bytes.HasPrefix(mp.Part(msg.ID, msg.Attachments[0].PartID), []byte("%PDF-")))

	// A later change of the order (a second partial refund) mails its own
	// receipt only; a restart mails nothing again.
	w.Restart()
	ans, err := w.RBS("refund", url.Values{"orderId": {w.id}, "amount": {"10000"}}, 0)
	require.NoError(t, err)
	require.EqualValues(t, "0", fmt.Sprint(ans["errorCode"]), "refund: %v", ans)
	require.Len(t, wait(3), 3)
	w.SAFDrained()
	require.Len(t, mp.Messages(), 3, "one mail per receipt")
}
