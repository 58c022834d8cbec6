package switchtest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// MustVerify checks a data file the way every test of the switch ends:
// bbolt's consistency check passes, the journal's hash chain verifies, and
// replaying the journal gives the order store exactly. Read it at rest (Run
// does, after shutdown): a delivery or settlement committing between the
// journal's read and the store's would show as a difference.
func MustVerify(t testing.TB, j *journal.Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	MustCheckDB(t, j.DB())
	require.NoError(t, j.Verify(ctx), "journal chain intact")
	rebuilt, err := payments.Rebuild(j)
	require.NoError(t, err)
	store, err := payments.NewStore(j.DB())
	require.NoError(t, err)
	diffs, err := payments.Diff(rebuilt, store)
	require.NoError(t, err)
	require.Empty(t, diffs, "the journal rebuilds the order store")
}

// MustCheckDB fails t when bbolt's consistency check finds anything wrong
// with db's pages.
func MustCheckDB(t testing.TB, db journal.Transactor) {
	t.Helper()
	var errs []error
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() { // drained: the checker sends every finding
			errs = append(errs, err)
		}
		return nil
	}))
	require.Empty(t, errs, "bbolt check")
}

// LogBuffer collects a test's log lines. Any number of goroutines may
// write to it (zerolog writes each event with one Write); a bytes.Buffer
// alone would race.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines are the lines written so far, without their newlines.
func (l *LogBuffer) Lines() []string {
	s := strings.TrimSuffix(l.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Counter is the value of counter (or gauge) name summed over the series that have
// every pair of labels ("name", "value", ...); 0 when there is none.
func Counter(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	require.Zero(t, len(labels)%2, "labels come in name, value pairs")
	mfs, err := g.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] { // absent is "", as in Prometheus
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
