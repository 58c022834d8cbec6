package daemon

import (
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// archiveEvery is how often the switch looks whether a business day has
// closed. Looking is one read of the live file's oldest entry.
const archiveEvery = time.Minute

// CloseJournalDays archives the journal's business days that have ended
// and prunes the archives past journal_archive.keep_days; the daemon does
// it every minute. A failure is logged and counted, and tried again at the
// next look: the entries stay in the live file meanwhile, nothing is lost.
func (d *Daemon) CloseJournalDays() { d.closeJournalDays() }

func (d *Daemon) closeJournalDays() {
	now := time.Now()
	if d.cfg.Clock != nil {
		now = d.cfg.Clock()
	}
	_, pruned, err := d.journal.CloseDays(now, d.archiveLoc, d.cfg.JournalArchive.KeepDays)
	for _, p := range pruned {
		d.log.Info().Str("path", p).Int("keep_days", d.cfg.JournalArchive.KeepDays).Msg("journal archive past retention removed")
	}
	if err != nil {
		d.archiveFailures.Inc()
		d.log.Error().Err(err).Msg("journal archive")
	}
}

// archiveMetrics resolves the business day's zone and registers the
// archives' count and size as they stand, and the archiving failures.
func (d *Daemon) archiveMetrics() error {
	// The zone is read once: Validate checked it, and the loop looks every
	// minute.
	loc, err := d.cfg.JournalArchive.Location()
	if err != nil {
		return fmt.Errorf("journal_archive.time_zone: %w", err)
	}
	d.archiveLoc = loc
	d.archiveFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tulpar_journal_archive_failures_total",
		Help: "Attempts to close a business day of the journal into an archive, or to prune archives, that failed.",
	})
	d.reg.MustRegister(d.archiveFailures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tulpar_journal_archives",
			Help: "Archive files of the journal the switch reads.",
		}, func() float64 { return float64(len(d.journal.Archives())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tulpar_journal_archive_bytes",
			Help: "Bytes of the journal's archive files.",
		}, func() float64 {
			var n int64
			for _, a := range d.journal.Archives() {
				n += a.Bytes
			}
			return float64(n)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tulpar_data_file_bytes",
			Help: "Size of the live data file.",
		}, func() float64 {
			fi, err := os.Stat(d.journal.DB().Path())
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		}),
	)
	return nil
}
