package cabinet_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/fiscal/fiscalsim"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestSpecialReportByMail: a merchant's user sends the filtered register
// by e-mail; it arrives through a real SMTP server with the CSV and XLSX
// of that filter, the merchant's orders only; bad addresses are refused
// by name.
func TestSpecialReportByMail(t *testing.T) {
	mp := switchtest.StartMailpit(t, switchtest.MailpitOptions{})
	s := newStack(t, func(c *daemon.Config) {
		c.Mail = mailer.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, Security: "none", From: "reports@tulpar.test"}
	})
	mine := s.paid(switchtest.Merchant, 12_345, false)
	s.paid(Rival, 777, false)
	c, token := s.signedIn(merchantLogin)

	page := c.get("/orders?lang=en")
	require.Contains(t, page.body, `id="email-report"`)
	bad := c.post("/orders/email", url.Values{"csrf": {token}, "filter": {"status=deposited"}, "to": {"not-an-address"}, "lang": {"en"}})
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, bad.body, "Check the e-mail addresses")

	p := c.post("/orders/email?lang=en", url.Values{"csrf": {token}, "filter": {"status=deposited"}, "to": {"books@shop.kz, cfo@shop.kz"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Contains(t, p.header.Get("Location"), "emailed=")
	require.Contains(t, c.get(p.header.Get("Location")).body, "books@shop.kz, cfo@shop.kz")

	var msg switchtest.MailMessage
	s.Eventually(func() bool {
		for _, m := range mp.Messages() {
			msg = mp.Message(m.ID)
			return true
		}
		return false
	}, "the special report's mail")
	require.Len(t, msg.To, 2)
	require.Len(t, msg.Attachments, 2)
	for _, a := range msg.Attachments {
		data := mp.Part(msg.ID, a.PartID)
		switch {
		case strings.HasSuffix(a.FileName, ".csv"):
			recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
			require.NoError(t, err)
			require.Len(t, recs, 2, "the header and the merchant's one deposited order: %v", recs)
			require.Equal(t, mine.Number, recs[1][0])
		case strings.HasSuffix(a.FileName, ".xlsx"):
			x, err := excelize.OpenReader(bytes.NewReader(data))
			require.NoError(t, err)
			rows, err := x.GetRows(x.GetSheetList()[0])
			require.NoError(t, err)
			require.Len(t, rows, 2)
			require.NoError(t, x.Close())
		default:
			t.Fatalf("unexpected attachment %s", a.FileName)
		}
	}
}

// TestFiscalFailuresWarned: a sale whose fiscal receipt went to the dead
// letters (the fiscal service down through every retry) puts a warning on
// the merchant's register, and not on another merchant's.
func TestFiscalFailuresWarned(t *testing.T) {
	sim, err := fiscalsim.Start("127.0.0.1:0", fiscalsim.Config{Users: map[string]string{"+77010000001": "kassa"}}, zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	sim.SetDown(true)
	rate := 12
	s := newStack(t, func(c *daemon.Config) {
		c.Fiscal = fiscal.Config{MaxAttempts: 2, Timeout: 2 * time.Second, Merchants: map[string]fiscal.Merchant{
			switchtest.Merchant: {URL: sim.URL(), Login: "+77010000001", Password: "kassa", PosID: 1, SectionID: 1, TaxRate: &rate},
		}}
	})
	s.paid(switchtest.Merchant, 5_000, false)
	s.Eventually(func() bool {
		dead, err := s.D.FiscalDeadLetters(switchtest.Merchant)
		require.NoError(t, err)
		return len(dead) == 1
	}, "the fiscal receipt in the dead letters")
	c, _ := s.signedIn(merchantLogin)
	page := c.get("/orders?lang=en")
	require.Contains(t, page.body, `id="alert"`)
	require.Contains(t, page.body, "1 fiscal receipt(s) could not be issued")
	r, _ := s.signedIn(rivalLogin)
	require.NotContains(t, r.get("/orders?lang=en").body, "fiscal receipt(s) could not be issued")
}
