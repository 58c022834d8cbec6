// Package reportmail e-mails each merchant that asked for it the daily
// report of its operations (the Processing.kz brochure's report, built by
// switch/audit) once the business day has closed, as CSV and XLSX
// attachments with a short summary in the merchant's language.
//
// Once per day, across restarts: the scheduler marks a merchant's day as
// queued in the same bbolt transaction that puts the report in the
// store-and-forward queue, so a restart neither loses nor repeats it; the
// queue retries a failed send (mail server down, refused) with its
// backoff and moves it to the dead letters the operator sees on
// /admin/saf after its attempts. Every send and its outcome are in the
// journal (channel "mail"). SMTP itself is at least once: a send whose
// answer was lost is sent again.
package reportmail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/audit"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// Config is the reports section of the daemon's config.
type Config struct {
	// TimeZone of the business day. Default Asia/Almaty.
	TimeZone string `yaml:"time_zone"`
	// CloseAfter is how long after midnight a day's report is made, so
	// that the last answers and queued advices of the day are in it.
	// Default 30m.
	CloseAfter time.Duration `yaml:"close_after"`
	// CheckInterval is how often the scheduler looks for a closed day.
	// Default 1m.
	CheckInterval time.Duration `yaml:"check_interval"`
	// Merchants maps a merchant id to who gets its daily report.
	Merchants map[string]Subscription `yaml:"merchants"`
}

// Subscription is one merchant's daily report.
type Subscription struct {
	Email []string `yaml:"email"`
	// Language of the subject and summary: ru (default), kk or en.
	Language string `yaml:"language"`
}

// Defaults.
const (
	DefaultTimeZone      = "Asia/Almaty"
	DefaultCloseAfter    = 30 * time.Minute
	DefaultCheckInterval = time.Minute
)

// Validate checks the section; errors name the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("reports: "+format, a...)) }
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			bad("time_zone: %q: %v", c.TimeZone, err)
		}
	}
	if c.CloseAfter < 0 || c.CloseAfter >= 24*time.Hour {
		bad("close_after: %s: between 0 and 24h", c.CloseAfter)
	}
	if c.CheckInterval < 0 {
		bad("check_interval: must not be negative")
	}
	ids := make([]string, 0, len(c.Merchants))
	for id := range c.Merchants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := c.Merchants[id]
		at := "merchants." + id
		if len(QueueKey(id)) > saf.MaxQueueLen {
			bad("%s: merchant id too long", at)
		}
		if len(s.Email) == 0 {
			bad("%s.email: at least one address", at)
		}
		for i, e := range s.Email {
			if a, err := mail.ParseAddress(e); err != nil || a.Name != "" {
				bad("%s.email[%d]: %q is not an e-mail address", at, i, e)
			}
		}
		if _, ok := texts[s.Language]; !ok && s.Language != "" {
			bad("%s.language: %q: want ru, kk or en", at, s.Language)
		}
	}
	return errors.Join(errs...)
}

// QueueKey is the store-and-forward queue of merchant's reports.
func QueueKey(merchant string) string { return "report:" + merchant }

// bucketQueued marks merchant\x00date as queued: the once-per-day record
// (listed with the data file's buckets in switch/journal's doc).
var bucketQueued = []byte("report_mail_queued")

// job is a queued report's payload: a merchant's day, or a special
// report someone asked for (Spec, rendered by the Renderer).
type job struct {
	Merchant string          `json:"merchant"`
	Date     string          `json:"date,omitempty"`
	To       []string        `json:"to,omitempty"`
	Spec     json.RawMessage `json:"spec,omitempty"`
}

// Renderer builds a special report's message from its spec (the
// cabinet's filtered register: it owns the filter and the columns).
type Renderer func(ctx context.Context, spec []byte) (mailer.Message, error)

// Sender schedules and sends the reports. It is the saf.Deliverer of
// order.KindReportMail items.
type Sender struct {
	cfg   Config
	loc   *time.Location
	mail  *mailer.Mailer
	j     *journal.Journal
	queue *saf.Queue
	log   zerolog.Logger
	now   func() time.Time

	checks, queued prometheus.Counter
	sent           *prometheus.CounterVec
	// render is set by the cabinet, which starts after the queue: a
	// special report due before then waits for it (Retry).
	render atomic.Pointer[Renderer]
}

// Special sets the renderer of special reports.
func (s *Sender) Special(r Renderer) { s.render.Store(&r) }

// QueueSpecial queues a special report for to, journaled in the same
// transaction: it is built and sent by the queue, with its retries, after
// the browser that asked has gone.
func (s *Sender) QueueSpecial(ctx context.Context, merchant string, to []string, spec []byte) error {
	if s.render.Load() == nil {
		return errors.New("reports: no special reports here")
	}
	payload, err := json.Marshal(job{Merchant: merchant, To: to, Spec: spec})
	if err != nil {
		return err
	}
	entry, _ := json.Marshal(map[string]any{"kind": "special_report", "merchant": merchant, "to": to, "spec": json.RawMessage(spec), "outcome": "queued"})
	_, err = s.j.AppendTx(ctx, []journal.Entry{{Direction: journal.Internal, Channel: order.ChannelMail, Payload: entry}}, func(tx *bolt.Tx, _ []uint64) error {
		_, err := s.queue.EnqueueTx(tx, saf.Item{Queue: QueueKey(merchant), Kind: order.KindReportMail, Payload: payload})
		return err
	})
	if err != nil {
		return fmt.Errorf("reports: special report: %w", err)
	}
	s.queued.Inc()
	return nil
}

// New builds the Sender; queue must deliver order.KindReportMail items to
// it.
func New(cfg Config, m *mailer.Mailer, j *journal.Journal, q *saf.Queue, log zerolog.Logger, reg prometheus.Registerer, now func() time.Time) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TimeZone == "" {
		cfg.TimeZone = DefaultTimeZone
	}
	if cfg.CloseAfter == 0 {
		cfg.CloseAfter = DefaultCloseAfter
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("reports: time_zone: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	s := &Sender{cfg: cfg, loc: loc, mail: m, j: j, queue: q, log: log, now: now,
		checks: prometheus.NewCounter(prometheus.CounterOpts{Name: "tulpar_reports_checks_total",
			Help: "Times the scheduler looked for closed days whose daily reports to queue."}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "tulpar_reports_queued_total",
			Help: "Daily reports queued for e-mail (one per merchant and day)."}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tulpar_reports_sent_total",
			Help: "Daily report e-mail attempts, by outcome (sent, failed)."}, []string{"outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.checks, s.queued, s.sent} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("reports: metrics: %w", err)
			}
		}
	}
	return s, nil
}

// LastClosedDay is the latest business day whose report is due at now.
func (s *Sender) LastClosedDay(now time.Time) string {
	return now.Add(-s.cfg.CloseAfter).In(s.loc).AddDate(0, 0, -1).Format(time.DateOnly)
}

// Run queues each closed day's reports as it comes, until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.CheckInterval)
	defer t.Stop()
	for {
		if err := s.Schedule(ctx); err != nil {
			s.log.Error().Err(err).Msg("daily reports not queued; trying again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Schedule queues the last closed day's report of every subscribed
// merchant that does not have it queued yet. Only that day: a switch that
// was down for several days sends the reports of the missed days when an
// operator asks (`tulpar report daily`), not a burst of old mail.
func (s *Sender) Schedule(ctx context.Context) error {
	date := s.LastClosedDay(s.now())
	ids := make([]string, 0, len(s.cfg.Merchants))
	for id := range s.cfg.Merchants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	defer s.checks.Inc()
	var due []string
	err := s.j.DB().View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueued)
		for _, id := range ids {
			if b == nil || b.Get(queuedKey(id, date)) == nil {
				due = append(due, id)
			}
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return err
	}
	// The queued mark, the queue item and a journal entry saying so
	// commit together. Only this goroutine writes the bucket, so what the
	// read above found missing is still missing here.
	entries := make([]journal.Entry, len(due))
	for i, id := range due {
		p, _ := json.Marshal(map[string]string{"kind": "daily_report", "merchant": id, "date": date, "outcome": "queued"})
		entries[i] = journal.Entry{Direction: journal.Internal, Channel: order.ChannelMail, Payload: p}
	}
	_, err = s.j.AppendTx(ctx, entries, func(tx *bolt.Tx, _ []uint64) error {
		b, err := tx.CreateBucketIfNotExists(bucketQueued)
		if err != nil {
			return err
		}
		for _, id := range due {
			payload, _ := json.Marshal(job{Merchant: id, Date: date})
			if _, err := s.queue.EnqueueTx(tx, saf.Item{Queue: QueueKey(id), Kind: order.KindReportMail, Payload: payload}); err != nil {
				return fmt.Errorf("reports: queue %s %s: %w", id, date, err)
			}
			if err := b.Put(queuedKey(id, date), []byte(s.now().UTC().Format(time.RFC3339))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reports: %s: %w", date, err)
	}
	for _, id := range due {
		s.queued.Inc()
		s.log.Info().Str("merchant", id).Str("date", date).Msg("daily report queued")
	}
	return nil
}

func queuedKey(merchant, date string) []byte { return []byte(merchant + "\x00" + date) }

// Deliver sends one queued report: built from the journal now (the
// queue may send it hours after it was queued; the day is closed, so it
// reads the same), journaled before and after the send.
func (s *Sender) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var jb job
	if err := json.Unmarshal(it.Payload, &jb); err != nil || jb.Merchant == "" || (jb.Date == "" && jb.Spec == nil) {
		return saf.Rejected, fmt.Errorf("reports: item %d: undecodable payload", it.ID)
	}
	kind := "daily_report"
	var msg mailer.Message
	var err error
	if jb.Spec != nil {
		kind = "special_report"
		render := s.render.Load()
		if render == nil {
			return saf.Retry, fmt.Errorf("reports: item %d: special reports not ready yet", it.ID)
		}
		if msg, err = (*render)(ctx, jb.Spec); err == nil {
			msg.To = jb.To
		}
	} else {
		sub, ok := s.cfg.Merchants[jb.Merchant]
		if !ok {
			return saf.Rejected, fmt.Errorf("reports: item %d: merchant %s no longer subscribed", it.ID, jb.Merchant)
		}
		msg, err = s.Build(ctx, jb.Merchant, jb.Date, sub)
	}
	log := s.log.With().Str("merchant", jb.Merchant).Str("date", jb.Date).Str("kind", kind).Int("attempt", it.Attempts).Logger()
	if err != nil {
		log.Error().Err(err).Msg("report not built")
		return saf.Retry, err
	}
	out, _ := json.Marshal(map[string]any{"kind": kind, "merchant": jb.Merchant, "date": jb.Date,
		"to": msg.To, "subject": msg.Subject, "attachments": attachmentNames(msg), "repeat": repeat})
	if _, err := s.j.Append(ctx, journal.Entry{Direction: journal.Out, Channel: order.ChannelMail, Payload: out}); err != nil {
		return saf.Retry, fmt.Errorf("reports: journal: %w", err)
	}
	sendErr := s.mail.Send(ctx, msg)
	outcome := saf.Delivered
	result := map[string]any{"kind": kind, "merchant": jb.Merchant, "date": jb.Date, "outcome": "sent"}
	if sendErr != nil {
		outcome, result["outcome"], result["error"] = saf.Retry, "failed", sendErr.Error()
	}
	s.sent.WithLabelValues(result["outcome"].(string)).Inc()
	in, _ := json.Marshal(result)
	if _, err := s.j.Append(ctx, journal.Entry{Direction: journal.In, Channel: order.ChannelMail, Payload: in}); err != nil && outcome == saf.Delivered {
		// Sent, but not recorded: send again rather than lose the record
		// (mail is at least once).
		outcome, sendErr = saf.Retry, fmt.Errorf("reports: journal: %w", err)
	}
	if sendErr != nil {
		log.Warn().Err(sendErr).Msg("report not sent; the queue retries")
		return outcome, sendErr
	}
	log.Info().Int("recipients", len(msg.To)).Msg("report sent")
	return outcome, nil
}

// Build makes the report's message: the summary in the subscriber's
// language, the report as CSV and XLSX.
func (s *Sender) Build(ctx context.Context, merchant, date string, sub Subscription) (mailer.Message, error) {
	reps, err := audit.DailyReports(ctx, &audit.Data{DB: s.j.DB(), Journal: s.j}, date, s.loc, merchant, nil)
	if err != nil {
		return mailer.Message{}, fmt.Errorf("reports: %s %s: %w", merchant, date, err)
	}
	r := reps[0]
	var csv, xlsx bytes.Buffer
	if err := r.WriteCSV(&csv); err != nil {
		return mailer.Message{}, err
	}
	if err := r.WriteXLSX(&xlsx); err != nil {
		return mailer.Message{}, err
	}
	t := texts[sub.Language]
	if sub.Language == "" {
		t = texts["ru"]
	}
	var body strings.Builder
	fmt.Fprintf(&body, t.greeting+"\n\n", merchant, date, s.loc)
	fmt.Fprintf(&body, "%s: %d\n", t.transactions, r.Transactions)
	for _, tt := range r.Totals {
		fmt.Fprintf(&body, "%s: %d, %s\n", t.types[tt.Type], tt.Count, audit.FormatAmount(tt.Amount, currencyOf(r)))
	}
	fmt.Fprintf(&body, "%s: %d\n\n%s\n", t.declined, r.Declined, t.footer)
	base := fmt.Sprintf("tulpar-%s-%s", merchant, date)
	return mailer.Message{
		To:      sub.Email,
		Subject: fmt.Sprintf(t.subject, date, merchant),
		Text:    body.String(),
		Attachments: []mailer.Attachment{
			{Name: base + ".csv", ContentType: "text/csv", Data: csv.Bytes()},
			{Name: base + ".xlsx", ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Data: xlsx.Bytes()},
		},
	}, nil
}

func currencyOf(r *audit.Report) string {
	if len(r.Lines) > 0 {
		return r.Lines[0].Currency
	}
	return "398"
}

func attachmentNames(m mailer.Message) []string {
	names := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		names[i] = a.Name
	}
	return names
}

// text is a language's wording of the report mail.
type text struct {
	subject, greeting, transactions, declined, footer string
	types                                             map[string]string
}

var texts = map[string]text{
	"ru": {
		subject:      "Отчёт об операциях за %s (%s)",
		greeting:     "Отчёт об операциях магазина %s за %s (%s) во вложении: CSV и XLSX.",
		transactions: "Платежей", declined: "Отклонено",
		footer: "Письмо отправлено автоматически, отвечать на него не нужно.",
		types: map[string]string{audit.TypeAuthorization: "Авторизации (A)", audit.TypeFinancial: "Списания (F)",
			audit.TypeReversal: "Отмены (R)", audit.TypeCredit: "Возвраты (C)"},
	},
	"kk": {
		subject:      "%s күнгі операциялар есебі (%s)",
		greeting:     "%s дүкенінің %s (%s) күнгі операциялар есебі тіркемеде: CSV және XLSX.",
		transactions: "Төлемдер", declined: "Қабылданбады",
		footer: "Хат автоматты түрде жіберілді, оған жауап берудің қажеті жоқ.",
		types: map[string]string{audit.TypeAuthorization: "Авторизациялар (A)", audit.TypeFinancial: "Есептен шығару (F)",
			audit.TypeReversal: "Болдырмау (R)", audit.TypeCredit: "Қайтарулар (C)"},
	},
	"en": {
		subject:      "Operations report for %s (%s)",
		greeting:     "The operations report of %s for %s (%s) is attached as CSV and XLSX.",
		transactions: "Payments", declined: "Declined",
		footer: "This message was sent automatically; there is no need to reply.",
		types: map[string]string{audit.TypeAuthorization: "Authorizations (A)", audit.TypeFinancial: "Captures (F)",
			audit.TypeReversal: "Reversals (R)", audit.TypeCredit: "Refunds (C)"},
	},
}
