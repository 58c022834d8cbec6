package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/iso"
)

func TestConfigValidate(t *testing.T) {
	start := func(context.Context) (*System, error) { return nil, errors.New("not started in this test") }
	load := Options{Model: Closed{Clients: 1}, Requests: 1}
	tests := []struct {
		name string
		c    Config
		err  string // "" valid
	}{
		{"e2e", Config{Scenario: ScenarioE2E, Load: load, Mix: DefaultMix}, ""},
		{"e2e with a mix that does not add up", Config{Scenario: ScenarioE2E, Load: load, Mix: Mix{Purchase: 50}}, "add up to 100"},
		{"iso at an address", Config{Scenario: ScenarioISO, Load: load, ISOAddr: "127.0.0.1:1"}, ""},
		{"iso through a system", Config{Scenario: ScenarioISO, Load: load, Start: start}, ""},
		{"iso at nothing", Config{Scenario: ScenarioISO, Load: load}, "iso: --iso-addr or --self required"},
		{"sim needs a system", Config{Scenario: ScenarioSim, Load: load, ISOAddr: "127.0.0.1:1"}, "sim: needs --self"},
		{"sim", Config{Scenario: ScenarioSim, Load: load, Start: start}, ""},
		{"reference", Config{Scenario: ScenarioReference, Load: load}, ""},
		{"unknown scenario", Config{Scenario: "nope", Load: load}, `scenario: "nope" is not e2e, iso, sim, reference or disk`},
		{"disk", Config{Scenario: ScenarioDisk, Load: load, Dir: "/var/lib/tulpar"}, ""},
		{"disk needs a directory", Config{Scenario: ScenarioDisk, Load: load}, "disk: --data required"},
		{"disk without the switch", Config{Scenario: ScenarioDisk, Load: load, Dir: "/d", Start: start}, "disk: measures the disk of --data alone; without --self"},
		{"disk with too many pages", Config{Scenario: ScenarioDisk, Load: load, Dir: "/d", Pages: 9000}, "disk: --pages: 9000 is not between 1 and 8192"},
		{"disk has no reference", Config{Scenario: ScenarioDisk, Load: load, Dir: "/d", Reference: true}, "disk: --reference compares authorizations"},
		{"half of the peak", Config{Scenario: ScenarioISO, Load: load, Start: start, HalfPeak: true}, ""},
		{"half of the peak sets the rate", Config{Scenario: ScenarioISO, Load: Options{Model: Open{Rate: 10}, Requests: 1}, Start: start, HalfPeak: true},
			"half-peak: sets the rate itself, at half of the measured peak; drop --rate"},
		{"half of the reference", Config{Scenario: ScenarioReference, Load: load, HalfPeak: true}, "half-peak: the reference scenario is a peak itself"},
		{"half of the disk", Config{Scenario: ScenarioDisk, Load: load, Dir: "/d", HalfPeak: true}, "half-peak: the disk scenario has no system"},
		{"a peak without half of it", Config{Scenario: ScenarioISO, Load: load, Start: start, PeakDuration: time.Second},
			"half-peak: a peak's duration and an open loop's workers are set only for --half-peak"},
		{"half of the peak with negative workers", Config{Scenario: ScenarioISO, Load: load, Start: start, HalfPeak: true, Workers: -1},
			"workers: must not be negative"},
		{"half of a negative peak", Config{Scenario: ScenarioISO, Load: load, Start: start, HalfPeak: true, PeakDuration: -time.Second},
			"half-peak: the peak's duration must not be negative"},
		{"bad load", Config{Scenario: ScenarioReference, Load: Options{Model: Closed{}, Requests: 1}}, "clients: must be at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestJournalStats(t *testing.T) {
	js := journalStats(JournalSample{Entries: 100, Commits: 10, CommitSeconds: 1, Reopens: 1, ReopenSeconds: 0.001},
		JournalSample{Entries: 700, Commits: 110, CommitSeconds: 3, Reopens: 5, ReopenSeconds: 0.009}, 200, 4*time.Second)
	require.Equal(t, &JournalStats{Before: 100, After: 700, Written: 600, PerOperation: 3, Commits: 100,
		EntriesPerCommit: 6, CommitsPerOperation: 0.5, MeanCommit: 20 * time.Millisecond, WriterBusy: 0.5,
		Reopens: 4, MeanReopen: 2 * time.Millisecond}, js)
	// No commit counters: entries only.
	js = journalStats(JournalSample{Entries: 5}, JournalSample{Entries: 9}, 0, time.Second)
	require.Equal(t, &JournalStats{Before: 5, After: 9, Written: 4}, js)
}

// fakeSystem is a system under test in memory: a link that approves every
// 0100 and writes two journal entries for it.
type fakeSystem struct {
	mu              sync.Mutex
	entries         uint64
	data            int64 // the data file: 100 bytes per 0100
	queued          int   // SAF items: one per 0100, ten sent per sample
	started, closed int
	rrns            map[string]bool
}

func (f *fakeSystem) start(context.Context) (*System, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	return &System{
		Link: "bank-a", LinkDialect: "ascii",
		Send: func(_ context.Context, m *iso.Message) (*iso.Message, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.entries += 2
			f.data += 100
			f.queued++
			f.rrns[m.RRN] = true
			return &iso.Message{ResponseCode: iso.RCApproved}, nil
		},
		Journal: func() (JournalSample, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			s := JournalSample{Entries: f.entries, DataBytes: f.data, SAFDepth: f.queued}
			f.queued = max(0, f.queued-10)
			return s, nil
		},
		Notes: []string{"all in memory"},
		Close: func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.closed++
		},
	}, nil
}

// TestExecuteISOThroughASystem: the iso scenario goes through the
// system's link, the journal entries it wrote are counted, its notes
// reported, the reference measured first, and the system stopped once.
func TestExecuteISOThroughASystem(t *testing.T) {
	sys := &fakeSystem{rrns: map[string]bool{}}
	var progress bytes.Buffer
	c := Config{
		Scenario: ScenarioISO, Load: Options{Model: Closed{Clients: 2}, Requests: 50},
		Reference: true, Dialect: "ascii", AcquirerID: "400001", Conns: 1, Amount: 100,
		Progress:   &progress,
		MemProfile: filepath.Join(t.TempDir(), "heap.pprof"),
		Start:      sys.start,
	}
	rep, err := Execute(context.Background(), c)
	require.NoError(t, err)
	require.Equal(t, ScenarioISO, rep.Scenario)
	require.Contains(t, rep.Target, "Tulpar's link bank-a (links.Link.Send)")
	require.Equal(t, int64(50), rep.Result.OK)
	require.False(t, rep.Failed())
	require.NotNil(t, rep.Reference, "the reference was measured")
	require.Positive(t, rep.Ratio)
	require.NotNil(t, rep.Journal)
	require.Equal(t, float64(2), rep.Journal.PerOperation, "two entries per operation")
	require.Equal(t, float64(100), rep.Cost.DataFileGrowthPerOp)
	require.Positive(t, rep.Cost.CPUMicrosPerOp)
	require.Equal(t, 50, rep.Drain.DepthAtEnd, "the queue as the run ended")
	require.Zero(t, rep.Drain.DepthAfter, "drained")
	require.False(t, rep.Drain.TimedOut)
	require.Less(t, rep.Drain.Sustained, rep.AuthorizationsPerSecond, "the drain counts")
	require.Equal(t, []string{"all in memory"}, rep.Notes)
	require.Equal(t, 1, sys.started)
	require.Equal(t, 1, sys.closed)
	require.Len(t, sys.rrns, 50, "each 0100 has its own RRN")
	require.FileExists(t, c.MemProfile)
	require.Equal(t, 2, strings.Count(progress.String(), "\n"), "the reference's and the scenario's progress lines are ended")
}

// TestExecuteHalfPeak: --half-peak measures the closed loop's peak on
// the system first, then runs the measured load as an open loop at half
// of it on the same system; the reference is compared with the peak, and
// the report shows both runs. The reference lasts as long as the peak.
func TestExecuteHalfPeak(t *testing.T) {
	sys := &fakeSystem{rrns: map[string]bool{}}
	c := Config{
		Scenario: ScenarioISO, Load: Options{Model: Closed{Clients: 2}, Duration: 600 * time.Millisecond},
		HalfPeak: true, PeakDuration: 300 * time.Millisecond, Workers: 8,
		Reference: true, Dialect: "ascii", AcquirerID: "400001", Conns: 1, Amount: 100,
		Start: sys.start,
	}
	c.DrainTimeout = time.Millisecond // the fake queue drains ten a sample, and the peak left thousands
	rep, err := Execute(context.Background(), c)
	require.NoError(t, err)
	require.NotNil(t, rep.Peak)
	require.Equal(t, "closed", rep.Peak.Model)
	require.Equal(t, 2, rep.Peak.Clients)
	require.Positive(t, rep.Peak.OK)
	require.Less(t, rep.Peak.Elapsed, c.Load.Duration, "the peak runs for its own duration")
	require.Equal(t, "open", rep.Result.Model)
	require.InDelta(t, rep.Peak.Throughput/2, rep.Result.Rate, 1e-9, "the run's rate is half of the peak's throughput")
	require.Equal(t, 8, rep.Result.Workers)
	require.Positive(t, rep.Result.OK)
	require.Equal(t, rep.Peak.Throughput, rep.PeakAuthorizationsPerSecond)
	require.InDelta(t, rep.Peak.Throughput/rep.Reference.Throughput, rep.Ratio, 1e-9, "the reference is compared with the peak")
	require.Less(t, rep.Reference.Elapsed, c.Load.Duration, "and lasts as long as the peak run, not as the measured one")
	require.GreaterOrEqual(t, rep.Result.Elapsed, 600*time.Millisecond)
	require.False(t, rep.Failed())
	require.Len(t, rep.Notes, 2, "the system's note, and the peak's queues the drain gave up on")
	require.Contains(t, rep.Notes[1], "the peak run's queues still held")
	require.Contains(t, rep.Notes[1], "the run at half of it started with them")
	require.Equal(t, 1, sys.started, "one system for both runs")
	require.Equal(t, 1, sys.closed)
	var out bytes.Buffer
	rep.Write(&out)
	require.Contains(t, out.String(), "peak first, on the same system: closed loop, 2 clients")
	require.Contains(t, out.String(), fmt.Sprintf("the run at half of its %.0f operations/s:", rep.Peak.Throughput))
	require.Contains(t, out.String(), "authorizations/s at the peak over")

	rep.Peak.Errors, rep.Peak.ErrorKinds = 1, map[string]int64{"timeout": 1}
	require.True(t, rep.Failed(), "a failed operation of the peak run fails the bench")
	out.Reset()
	rep.Write(&out)
	require.Contains(t, out.String(), "the peak's errors by kind: timeout=1", "and the report says so")
}

// TestExecuteStopsAtAFailedStart: a system that fails to start fails the
// run, after the reference and before any load.
func TestExecuteStopsAtAFailedStart(t *testing.T) {
	_, err := Execute(context.Background(), Config{Scenario: ScenarioSim, Load: Options{Model: Closed{Clients: 1}, Requests: 1},
		Start: func(context.Context) (*System, error) { return nil, errors.New("no bank today") }})
	require.ErrorContains(t, err, "no bank today")
}

// TestExecuteDisk: the disk scenario commits in a file of its own in the
// directory, reports the commits' latency with no authorizations line, and
// leaves nothing behind.
func TestExecuteDisk(t *testing.T) {
	dir := t.TempDir()
	rep, err := Execute(context.Background(), Config{Scenario: ScenarioDisk, Dir: dir, Pages: 3,
		Load: Options{Model: Closed{Clients: 2}, Requests: 40}})
	require.NoError(t, err)
	require.Equal(t, int64(40), rep.Result.OK)
	require.Zero(t, rep.Result.Errors)
	require.Contains(t, rep.Result.Kinds, "commit")
	require.Contains(t, rep.Target, "3 random 4 KiB pages + fdatasync, then one page + fdatasync")
	var out bytes.Buffer
	rep.Write(&out)
	require.NotContains(t, out.String(), "authorizations/s")
	require.Zero(t, rep.AuthorizationsPerSecond, "commits are not authorizations, in --json either")
	require.Positive(t, rep.Result.Throughput)
	require.NoFileExists(t, filepath.Join(dir, DiskFile))

	// A file of that name already there is not the scenario's to overwrite.
	require.NoError(t, os.WriteFile(filepath.Join(dir, DiskFile), []byte("mine"), 0o600))
	_, err = Execute(context.Background(), Config{Scenario: ScenarioDisk, Dir: dir, Load: Options{Model: Closed{Clients: 1}, Requests: 1}})
	require.ErrorContains(t, err, "disk: ")
	b, err := os.ReadFile(filepath.Join(dir, DiskFile))
	require.NoError(t, err)
	require.Equal(t, "mine", string(b))
}

// The disk scenario's pages: at random places, or side by side with
// --adjacent. A commit changes the first byte of each page it writes, so
// the pages it wrote are those no longer zero.
func TestDiskCommitPlacesPages(t *testing.T) {
	written := func(adjacent bool) []int64 {
		d, err := openDiskCommits(t.TempDir(), 8, adjacent)
		require.NoError(t, err)
		defer d.close()
		_, err = d.commit(context.Background(), 0)
		require.NoError(t, err)
		var pages []int64
		page := make([]byte, diskPage)
		for pg := int64(2); pg < diskFilePage; pg++ { // 0 and 1: the metas
			_, err := d.f.ReadAt(page, pg*diskPage)
			require.NoError(t, err)
			if page[0] != 0 {
				pages = append(pages, pg)
			}
		}
		return pages
	}
	adjacent := written(true)
	require.Len(t, adjacent, 8)
	require.Equal(t, adjacent[0]+7, adjacent[7], "one stretch: %v", adjacent)
	random := written(false)
	require.Len(t, random, 8) // 8 of 16,382 pages: the same twice is unlikely, and the seed is fixed
	require.Greater(t, random[7]-random[0], int64(7), "apart: %v", random)

	rep, err := Execute(context.Background(), Config{Scenario: ScenarioDisk, Dir: t.TempDir(), Pages: 4, Adjacent: true,
		Load: Options{Model: Closed{Clients: 1}, Requests: 5}})
	require.NoError(t, err)
	require.Equal(t, int64(5), rep.Result.OK)
	require.Contains(t, rep.Target, "4 adjacent 4 KiB pages in one write + fdatasync")
}

// TestReferenceAtItsOwnProcs: the reference runs at Config.ReferenceProcs,
// says so, and gives the process its own GOMAXPROCS back.
func TestReferenceAtItsOwnProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	rep, err := Execute(context.Background(), Config{Scenario: ScenarioReference, Load: Options{Model: Closed{Clients: 2}, Requests: 20},
		Dialect: "ascii", AcquirerID: "400001", Conns: 1, Amount: 100, ReferenceProcs: 1})
	require.NoError(t, err)
	require.Equal(t, int64(20), rep.Result.OK)
	require.Equal(t, 1, rep.Result.GOMAXPROCS)
	require.Equal(t, 1, rep.GOMAXPROCS, "the report's header names the run's")
	require.Equal(t, before, runtime.GOMAXPROCS(0))
}
