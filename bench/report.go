package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one `tulpar bench` invocation: the scenario's
// result and what puts it in context. It is the --json document; Write
// prints it as a table.
type Report struct {
	Scenario string `json:"scenario"`
	// Target says what was measured ("self: in-process switch, two
	// simulated banks" or the URL/address).
	Target     string    `json:"target"`
	StartedAt  time.Time `json:"started_at"`
	GoVersion  string    `json:"go_version"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	NumCPU     int       `json:"num_cpu"`
	Result     *Result   `json:"result"`
	// AuthorizationsPerSecond counts the operations that carried an
	// authorization to a bank (the merchant-API mix) or, for the ISO
	// scenarios, every successful exchange; 0 for the disk scenario, whose
	// commits a second are Result.Throughput.
	AuthorizationsPerSecond float64 `json:"authorizations_per_second"`
	// Peak is the closed loop that set a --half-peak run's rate, and
	// PeakAuthorizationsPerSecond its authorizations as
	// AuthorizationsPerSecond counts them.
	Peak                        *Result `json:"peak,omitempty"`
	PeakAuthorizationsPerSecond float64 `json:"peak_authorizations_per_second,omitempty"`
	// Reference is the bare moov-io/iso8583-connection round trip
	// measured in the same run with the same concurrency; Ratio is
	// AuthorizationsPerSecond over its throughput, or the peak's when
	// there is one: a closed loop compared with a closed loop.
	Reference *Result `json:"reference,omitempty"`
	Ratio     float64 `json:"ratio_to_reference,omitempty"`
	// Journal counts the switch's journal entries (--self only).
	Journal *JournalStats `json:"journal,omitempty"`
	Memory  *MemoryStats  `json:"memory,omitempty"`
	// Cost is per operation (--self); Drain the queues left after the run.
	Cost  *CostStats  `json:"cost,omitempty"`
	Drain *DrainStats `json:"drain,omitempty"`
	// Sched is how long goroutines waited in Go's run queue in the run.
	Sched *SchedStats `json:"sched,omitempty"`
	Notes []string    `json:"notes,omitempty"`
}

// JournalStats are the journal entries the run wrote.
type JournalStats struct {
	Before  uint64 `json:"before"`
	After   uint64 `json:"after"`
	Written uint64 `json:"written"`
	// PerOperation is Written over every operation run, warm-up included.
	PerOperation float64 `json:"per_operation"`
	// Commits are the group commits (bbolt transactions, each with its
	// fsyncs) in the run; WriterBusy is the share of the run's wall time
	// the single journal writer spent committing: near 1, the journal is
	// the bottleneck.
	Commits          uint64  `json:"commits"`
	EntriesPerCommit float64 `json:"entries_per_commit"`
	// CommitsPerOperation is Commits over every operation run, warm-up
	// included: the share of a commit's fixed cost (its fsyncs, the
	// B+tree paths it rewrites) each operation pays. It falls as load
	// rises and rounds grow.
	CommitsPerOperation float64       `json:"commits_per_operation"`
	MeanCommit          time.Duration `json:"mean_commit_ns"`
	WriterBusy          float64       `json:"writer_busy"`
	// Reopens are the times the writer closed and opened the data file
	// again (to empty bbolt's allocation map), each taking MeanReopen
	// with every transaction waiting.
	Reopens    uint64        `json:"reopens"`
	MeanReopen time.Duration `json:"mean_reopen_ns"`
}

// NewReport fills in the environment.
func NewReport(scenario, target string) *Report {
	return &Report{
		Scenario: scenario, Target: target, StartedAt: time.Now().UTC(),
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
	}
}

// SetPeak records the peak run of a --half-peak run.
func (r *Report) SetPeak(peak *Result) {
	r.Peak = peak
	if peak != nil {
		r.PeakAuthorizationsPerSecond = peak.Throughput
		if r.Scenario == ScenarioE2E {
			r.PeakAuthorizationsPerSecond = Authorizations(peak)
		}
	}
}

// SetReference records the reference run and the ratio to it.
func (r *Report) SetReference(ref *Result) {
	r.Reference = ref
	if ref != nil && ref.Throughput > 0 {
		r.Ratio = r.comparedAuthorizations() / ref.Throughput
	}
}

// comparedAuthorizations are the authorizations a second the reference
// is compared with: the peak's when the run measured one.
func (r *Report) comparedAuthorizations() float64 {
	if r.Peak != nil {
		return r.PeakAuthorizationsPerSecond
	}
	return r.AuthorizationsPerSecond
}

// Failed is whether any measured operation failed, of the scenario, of
// its peak run or of the reference: `tulpar bench` then exits 1.
func (r *Report) Failed() bool {
	failed := func(res *Result) bool { return res != nil && res.Errors > 0 }
	return failed(r.Result) || failed(r.Peak) || failed(r.Reference)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Write prints the report as tables for people.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "scenario %s: %s\n", r.Scenario, r.Target)
	fmt.Fprintf(w, "%s, GOMAXPROCS %d, %d CPUs; %s\n\n", r.GoVersion, r.GOMAXPROCS, r.NumCPU, describeLoad(r.Result))
	if p := r.Peak; p != nil {
		fmt.Fprintf(w, "peak first, on the same system: %s\n", describeLoad(p))
		writeResult(w, p)
		if len(p.ErrorKinds) > 0 {
			fmt.Fprintf(w, "the peak's errors by kind: %s\n", formatCounts(p.ErrorKinds))
		}
		fmt.Fprintf(w, "\nthe run at half of its %.0f operations/s:\n", p.Throughput)
	}
	writeResult(w, r.Result)
	fmt.Fprintln(w)
	if r.Scenario != ScenarioDisk {
		fmt.Fprintf(w, "authorizations/s: %.0f\n", r.AuthorizationsPerSecond)
	}
	if len(r.Result.ErrorKinds) > 0 {
		fmt.Fprintf(w, "errors by kind: %s\n", formatCounts(r.Result.ErrorKinds))
	} else {
		fmt.Fprintln(w, "errors: none")
	}
	if top := slowestSeconds(r.Result.SlowestBySecond, 5, r.diskInSecond); len(top) > 0 {
		fmt.Fprintf(w, "slowest seconds (when the operation was due, from the start, warm-up included): %s\n", strings.Join(top, ", "))
	}
	if j := r.Journal; j != nil {
		fmt.Fprintf(w, "journal entries written: %d (%.1f per operation, warm-up included)\n", j.Written, j.PerOperation)
		if j.Commits > 0 {
			fmt.Fprintf(w, "journal group commits: %d, %.1f entries each, %.2f per operation, %s mean; the writer was busy %.0f%% of the time\n",
				j.Commits, j.EntriesPerCommit, j.CommitsPerOperation, ms(j.MeanCommit), 100*j.WriterBusy)
		}
		if j.Reopens > 0 {
			fmt.Fprintf(w, "data file reopened: %d times, %s mean\n", j.Reopens, ms(j.MeanReopen))
		}
	}
	if c := r.Cost; c != nil {
		fmt.Fprintf(w, "cost per operation: %.0f µs CPU (the whole process), %.0f bytes written", c.CPUMicrosPerOp, c.BytesWrittenPerOp)
		if c.DataFileBytes > 0 {
			fmt.Fprintf(w, ", data file %+.0f bytes (now %s)", c.DataFileGrowthPerOp, mb(uint64(c.DataFileBytes)))
		}
		fmt.Fprintln(w)
		if d := c.Disk; d != nil {
			fmt.Fprintf(w, "the data's disk (the whole device): %.1f writes and %.2f flushes per operation, %s a write and %s a flush on average\n",
				d.WritesPerOp, d.FlushesPerOp, ms(d.MeanWrite), ms(d.MeanFlush))
		}
	}
	if d := r.Drain; d != nil {
		fmt.Fprintf(w, "store-and-forward: %d items queued at the end, %d after %s of drain", d.DepthAtEnd, d.DepthAfter, ms(d.Waited))
		if d.TimedOut {
			fmt.Fprint(w, " (gave up waiting)")
		}
		fmt.Fprintf(w, "; sustained authorizations/s counting the drain: %.0f\n", d.Sustained)
	}
	if ref := r.Reference; ref != nil {
		fmt.Fprintf(w, "\nreference: bare moov-io/iso8583-connection round trip on loopback, %s, GOMAXPROCS %d\n", describeLoad(ref), ref.GOMAXPROCS)
		writeResult(w, ref)
		of := ""
		if r.Peak != nil {
			of = " at the peak"
		}
		fmt.Fprintf(w, "\nratio to the reference: %.1f%% (%.0f authorizations/s%s over %.0f round trips/s)\n",
			100*r.Ratio, r.comparedAuthorizations(), of, ref.Throughput)
	}
	if s := r.Sched; s != nil {
		fmt.Fprintf(w, "goroutines ready to run waited in Go's run queue (/sched/latencies, warm-up included): p50 %s, p99 %s, p99.9 %s\n",
			s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.P999.Round(time.Microsecond))
	}
	if m := r.Memory; m != nil && m.Samples > 0 {
		fmt.Fprintf(w, "\nmemory (%d samples after warm-up): heap live %s → %s (max %s, slope %+.2f MB/min); RSS %s → %s (max %s, slope %+.2f MB/min)\n",
			m.Samples, mb(m.HeapLiveFirst), mb(m.HeapLiveLast), mb(m.HeapLiveMax), m.SlopeMBPerMin,
			mb(m.RSSFirst), mb(m.RSSLast), mb(m.RSSMax), m.RSSSlope)
		if m.RSSSecondMinute > 0 {
			fmt.Fprintf(w, "RSS growth after the first minute: %+.1f%% (median of the second minute %s, of the last %s)\n",
				m.RSSGrowthAfterMinute, mb(m.RSSSecondMinute), mb(m.RSSLastMinute))
		}
		if m.RSSAnonSecondMinute > 0 {
			fmt.Fprintf(w, "its anonymous part (heap and stacks, not mapped files): %+.1f%% (%s → %s)\n",
				m.RSSAnonGrowthAfterMinute, mb(m.RSSAnonSecondMinute), mb(m.RSSAnonLastMinute))
		}
		if rt := m.Runtime; rt != nil && rt.Total > 0 {
			fmt.Fprintf(w, "Go runtime at the end: %s held (heap objects %s, free heap kept %s, unused in spans %s, stacks %s)\n",
				mb(rt.Total), mb(rt.HeapObjects), mb(rt.HeapFree), mb(rt.HeapUnused), mb(rt.Stacks))
		}
		if m.DataFileLast > 0 {
			fmt.Fprintf(w, "data file %s → %s (slope %+.2f MB/min; every sample in --json)\n",
				mb(uint64(max(m.DataFileFirst, 0))), mb(uint64(m.DataFileLast)), m.DataFileSlope)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// diskInSecond says how the data's disk did in second i of the run (from
// its start, warm-up included): the mean write of the memory sample that
// closed that second, "" when there is none (warm-up, no disk counters).
// A slow second whose writes were slow too, or that completed none (the
// kernel counts a write's time when it completes), was the disk's.
func (r *Report) diskInSecond(i int) string {
	if r.Memory == nil {
		return ""
	}
	for _, p := range r.Memory.Curve {
		if p.Seconds >= float64(i)+0.5 && p.Seconds < float64(i)+1.5 {
			switch {
			case !p.Disk:
				return ""
			case p.DiskWrites == 0:
				return "disk: no write completed"
			}
			return fmt.Sprintf("disk %.2fms a write", p.DiskWriteMs)
		}
	}
	return ""
}

// slowestSeconds names the n seconds whose slowest operation was the
// slowest, slowest first ("392s 1150ms"), for a run of at least ten
// seconds, each with what note says of it in brackets when it says
// anything (note may be nil); every second is in --json.
func slowestSeconds(by []time.Duration, n int, note func(int) string) []string {
	if len(by) < 10 {
		return nil
	}
	idx := make([]int, len(by))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(by[b], by[a]) })
	var out []string
	for _, i := range idx[:min(n, len(idx))] {
		s := fmt.Sprintf("%ds %s", i, ms(by[i]))
		if note != nil {
			if n := note(i); n != "" {
				s += " (" + n + ")"
			}
		}
		out = append(out, s)
	}
	return out
}

func describeLoad(r *Result) string {
	var load string
	if r.Model == "open" {
		load = fmt.Sprintf("open loop at %.0f/s (%d workers)", r.Rate, r.Workers)
	} else {
		load = fmt.Sprintf("closed loop, %d clients", r.Clients)
	}
	return fmt.Sprintf("%s, %s measured after %s warm-up", load, r.Elapsed.Round(time.Millisecond), r.Warmup)
}

func writeResult(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tok\terrors\tper second\tp50\tp90\tp99\tp99.9\tmax\t")
	names := make([]string, 0, len(r.Kinds))
	for k := range r.Kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	row := func(name string, ok, errs int64, rate float64, l Latency) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", name, ok, errs, rate, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))
	}
	if len(names) > 1 {
		for _, k := range names {
			kr := r.Kinds[k]
			row(k, kr.OK, kr.Errors, kr.Throughput, kr.Latency)
		}
	}
	row("all", r.OK, r.Errors, r.Throughput, r.Latency)
	tw.Flush()
}

// ProgressLine is the live status line for a terminal.
func ProgressLine(p Progress) string {
	phase := "measuring"
	if p.Warmup {
		phase = "warming up"
	}
	return fmt.Sprintf("%6.0fs %-10s %7.0f/s  done %d  errors %d  p99 %s", p.Elapsed.Seconds(), phase, p.Rate, p.Completed, p.Errors, ms(p.P99))
}

// ms formats a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}

func mb(b uint64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }

func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
