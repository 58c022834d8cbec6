package reportmail_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/reportmail"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

const shopMail = "finance@shop.example.kz"

// TestDailyReportByMail: once the business day has closed, the merchant's
// report of it goes out through a real SMTP server, CSV and XLSX attached
// with the day's operations and totals, the summary in the merchant's
// language. The mail server is down at first: the queue retries until it
// is up. A restart sends it no second time; the next day's comes next.
func TestDailyReportByMail(t *testing.T) {
	smtpPort := switchtest.FreePort(t) // nothing listens there yet: an outage
	s := switchtest.Run(t, switchtest.Options{Configure: func(c *daemon.Config) {
		c.Mail = mailer.Config{Host: "127.0.0.1", Port: smtpPort, Security: "none", From: "Tulpar <reports@tulpar.test>", Timeout: 5 * time.Second}
		c.Reports = reportmail.Config{TimeZone: "Asia/Almaty", CheckInterval: 10 * time.Millisecond,
			Merchants: map[string]reportmail.Subscription{switchtest.Merchant: {Email: []string{shopMail}, Language: "en"}}}
	}})
	paid := s.Register("report-1", 150050, false)
	require.EqualValues(t, 0, s.Pay(paid, "4111111111111111")["errorCode"])
	declined := s.Register("report-2", 2000, false)
	s.Pay(declined, "4000000000000044") // the lost card: declined

	// Move to half past midnight after the payments' day, Almaty time.
	almaty, err := time.LoadLocation("Asia/Almaty")
	require.NoError(t, err)
	opTime := s.Order(paid).Ops[0].Time.In(almaty)
	day := opTime.Format(time.DateOnly)
	midnight := time.Date(opTime.Year(), opTime.Month(), opTime.Day()+1, 0, 0, 0, 0, almaty)
	s.Advance(time.Until(midnight.Add(31 * time.Minute)))

	s.Eventually(func() bool {
		stats, err := s.D.SAF().Stats()
		require.NoError(t, err)
		for _, q := range stats {
			if q.Queue == reportmail.QueueKey(switchtest.Merchant) && q.HeadLastError != "" {
				return true
			}
		}
		return false
	}, "the send failed while the mail server is down, and stays queued")

	mp := switchtest.StartMailpit(t, switchtest.MailpitOptions{SMTPPort: smtpPort})
	subject := "Operations report for " + day + " (" + switchtest.Merchant + ")"
	var msg switchtest.MailMessage
	s.Eventually(func() bool {
		for _, m := range mp.Messages() {
			if m.Subject == subject {
				msg = mp.Message(m.ID)
				return true
			}
		}
		return false
	}, "the report arrived once the mail server was up")
	require.Equal(t, shopMail, msg.To[0].Address)
	require.Contains(t, msg.Text, "Payments: 2")
	require.Contains(t, msg.Text, "Captures (F): 1, 1500.50")
	require.Contains(t, msg.Text, "Declined: 1")
	require.Len(t, msg.Attachments, 2)

	parts := map[string][]byte{}
	for _, a := range msg.Attachments {
		parts[a.FileName[strings.LastIndex(a.FileName, ".")+1:]] = mp.Part(msg.ID, a.PartID)
	}
	cr := csv.NewReader(bytes.NewReader(parts["csv"]))
	cr.FieldsPerRecord = -1 // title, columns, lines, totals
	rows, err := cr.ReadAll()
	require.NoError(t, err)
	require.Equal(t, "Date Time", rows[1][0])
	byNumber := map[string][]string{}
	for _, r := range rows[2:] {
		if len(r) > 1 {
			byNumber[r[1]] = r
		}
	}
	require.Equal(t, "1500.50", byNumber["report-1"][4], "amount answered")
	require.Equal(t, "F", byNumber["report-1"][5])
	require.Equal(t, "Decline", byNumber["report-2"][6])
	require.Contains(t, rows, []string{"Total transactions", "2"})

	x, err := excelize.OpenReader(bytes.NewReader(parts["xlsx"]))
	require.NoError(t, err)
	xrows, err := x.GetRows(x.GetSheetList()[0])
	require.NoError(t, err)
	require.Len(t, xrows, len(rows), "the workbook has the CSV's rows")
	require.NoError(t, x.Close())

	// A restart on the same day queues nothing again; the next day's
	// report, queued after it in the merchant's FIFO, proves the scheduler
	// ran after the restart.
	s.Restart()
	s.Eventually(func() bool { return switchtest.Counter(t, s.D.Registry(), "tulpar_reports_checks_total") >= 1 },
		"the scheduler ran after the restart, at the same time")
	require.Zero(t, switchtest.Counter(t, s.D.Registry(), "tulpar_reports_queued_total"), "and queued nothing")
	s.Advance(24 * time.Hour)
	next := midnight.Format(time.DateOnly)
	s.Eventually(func() bool {
		for _, m := range mp.Messages() {
			if strings.Contains(m.Subject, next) {
				return true
			}
		}
		return false
	}, "the next day's report")
	n := 0
	for _, m := range mp.Messages() {
		if m.Subject == subject {
			n++
		}
	}
	require.Equal(t, 1, n, "one report per day, across the restart")
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg  reportmail.Config
		want string
	}{
		{reportmail.Config{TimeZone: "Mars/Olympus"}, `reports: time_zone: "Mars/Olympus"`},
		{reportmail.Config{CloseAfter: 25 * time.Hour}, "reports: close_after: 25h0m0s: between 0 and 24h"},
		{reportmail.Config{Merchants: map[string]reportmail.Subscription{"m1": {}}}, "reports: merchants.m1.email: at least one address"},
		{reportmail.Config{Merchants: map[string]reportmail.Subscription{"m1": {Email: []string{"nobody"}}}}, `reports: merchants.m1.email[0]: "nobody" is not an e-mail address`},
		{reportmail.Config{Merchants: map[string]reportmail.Subscription{"m1": {Email: []string{"a@b.kz"}, Language: "de"}}}, `reports: merchants.m1.language: "de": want ru, kk or en`},
	} {
		require.ErrorContains(t, tc.cfg.Validate(), tc.want)
	}
}
