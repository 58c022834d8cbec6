package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Target performs one operation of a scenario. worker identifies the
// calling client (0..clients-1, or the open-loop worker), so a scenario
// can keep per-client state without locks. kind names what the operation
// was ("purchase", "refund"...): results are broken down by it. An error
// counts against kind; wrap it with [Fail] to give its kind of error.
type Target func(ctx context.Context, worker int) (kind string, err error)

// Model is a load model: [Closed] or [Open].
type Model interface{ name() string }

// Closed is the closed-loop model: Clients concurrent clients, each
// sending its next request as soon as the previous one answered.
type Closed struct {
	Clients int
}

// Open is the open-loop model: requests due at a fixed Rate per second,
// latency counted from each request's intended start. Workers bounds the
// requests in flight (default 512); when all are busy, due requests wait
// and their latency grows, as it would for real buyers.
type Open struct {
	Rate    float64
	Workers int
}

func (Closed) name() string { return "closed" }
func (Open) name() string   { return "open" }

// DefaultOpenWorkers is Open.Workers when zero.
const DefaultOpenWorkers = 512

// Clock is the engine's time source; tests use a fake one.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at t, or with ctx's error when it ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// Options configure Run.
type Options struct {
	Model Model
	// Duration of the measured part (after the warm-up). Requests, when
	// set, ends the run after that many measured requests; with both
	// set, whichever comes first. One of them is required.
	Duration time.Duration
	Requests int64
	// Warmup runs load that is not recorded: caches, connection pools,
	// the Go heap and bbolt's pages settle first.
	Warmup time.Duration
	// Progress, when set, is called about once a second from its own
	// goroutine (on the real clock).
	Progress func(Progress)
	// Clock defaults to the real one.
	Clock Clock
}

// Validate checks the options; errors name the option as the command's
// flag does.
func (o Options) Validate() error {
	switch m := o.Model.(type) {
	case Closed:
		if m.Clients < 1 {
			return errors.New("clients: must be at least 1")
		}
	case Open:
		if !(m.Rate > 0) {
			return errors.New("rate: must be positive")
		}
		if m.Workers < 0 {
			return errors.New("workers: must not be negative")
		}
	default:
		return errors.New("model: Closed or Open required")
	}
	if o.Duration < 0 || o.Requests < 0 || o.Warmup < 0 {
		return errors.New("duration, requests and warmup must not be negative")
	}
	if o.Duration == 0 && o.Requests == 0 {
		return errors.New("duration or requests: one is required")
	}
	return nil
}

// Progress is the state of a run so far.
type Progress struct {
	Elapsed   time.Duration // since the start, warm-up included
	Warmup    bool          // still warming up
	Completed int64         // measured requests completed (ok and failed)
	Errors    int64         // measured errors
	Rate      float64       // completions per second over the last interval, warm-up included
	P99       time.Duration // of measured successes so far
}

// Result is what a run measured. Latencies are of successful operations;
// failed ones are counted in Errors and ErrorKinds.
type Result struct {
	Model string `json:"model"`
	// GOMAXPROCS is the reference's (Config.ReferenceProcs); the
	// scenario's is the report's.
	GOMAXPROCS int     `json:"gomaxprocs,omitempty"`
	Clients    int     `json:"clients,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
	Workers    int     `json:"workers,omitempty"`
	// Warmup is excluded; Elapsed is the measured window, from the end of
	// the warm-up to the last measured completion.
	Warmup  time.Duration `json:"warmup_ns"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Requests completed in the window; OK + Errors = Requests.
	Requests   int64   `json:"requests"`
	OK         int64   `json:"ok"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput"` // successful operations per second
	// SlowestBySecond is, for each second of the run from its start
	// (warm-up included, as the memory samples count), the slowest
	// operation due (open loop) or started (closed) in it, 0 for none:
	// when a stall came, to set beside the memory and the data file.
	SlowestBySecond []time.Duration `json:"slowest_by_second_ns,omitempty"`
	Latency         Latency         `json:"latency"`
	// Kinds breaks the run down by operation kind.
	Kinds map[string]KindResult `json:"kinds"`
	// ErrorKinds counts errors by their kind (see Fail).
	ErrorKinds map[string]int64 `json:"error_kinds"`
	// Hist is the merged latency histogram in microseconds.
	Hist *hdrhistogram.Histogram `json:"-"`
}

// KindResult is one operation kind's share of a run.
type KindResult struct {
	OK         int64   `json:"ok"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput"`
	Latency    Latency `json:"latency"`
}

// Error gives an error its kind in the report ("http_500", "declined").
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Fail wraps err with a kind for the error table.
func Fail(kind string, err error) error { return &Error{Kind: kind, Err: err} }

// Failf is Fail with a formatted message.
func Failf(kind, format string, a ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, a...)}
}

// ErrorKind names an error for the error table: its Fail kind, "timeout"
// for a deadline, "canceled", or "error".
func ErrorKind(err error) string {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// recorder collects measured outcomes. One mutex for all workers: a few
// thousand records a second cost nothing next to one request, and one
// histogram keeps progress reports cheap.
type recorder struct {
	mu        sync.Mutex
	all       *hdrhistogram.Histogram
	kinds     map[string]*kindRec
	errKinds  map[string]int64
	ok, fails int64
	last      time.Time // latest measured completion
	done      atomic.Int64
	// slowest[i] is the slowest measured operation that was due (open
	// loop) or started (closed) in the run's second i, warm-up included
	// (Result.SlowestBySecond).
	slowest []time.Duration
	t0      time.Time
}

type kindRec struct {
	h          *hdrhistogram.Histogram
	ok, errors int64
}

func newRecorder() *recorder {
	return &recorder{all: newHistogram(), kinds: map[string]*kindRec{}, errKinds: map[string]int64{}}
}

func (r *recorder) add(kind string, lat time.Duration, err error, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := int(end.Add(-lat).Sub(r.t0) / time.Second); i >= 0 && i < maxSeconds {
		if i >= len(r.slowest) {
			r.slowest = append(r.slowest, make([]time.Duration, i+1-len(r.slowest))...)
		}
		r.slowest[i] = max(r.slowest[i], lat)
	}
	k := r.kinds[kind]
	if k == nil {
		k = &kindRec{h: newHistogram()}
		r.kinds[kind] = k
	}
	if err != nil {
		r.fails++
		k.errors++
		r.errKinds[ErrorKind(err)]++
	} else {
		r.ok++
		k.ok++
		record(r.all, lat)
		record(k.h, lat)
	}
	if end.After(r.last) {
		r.last = end
	}
}

// Run drives target under the options' model until the duration or the
// request count is reached, or ctx ends (the result then covers what
// completed). Errors of the target are results, not Run's error; Run
// fails only on invalid options.
func Run(ctx context.Context, o Options, target Target) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	clock := o.Clock
	if clock == nil {
		clock = realClock{}
	}
	rec := newRecorder()
	t0 := clock.Now()
	rec.t0 = t0
	measureStart := t0.Add(o.Warmup)
	var end time.Time // zero: no time limit
	if o.Duration > 0 {
		end = measureStart.Add(o.Duration)
	}
	var claimed atomic.Int64 // measured requests started
	claim := func() bool { return o.Requests == 0 || claimed.Add(1) <= o.Requests }

	res := &Result{Model: o.Model.name(), Warmup: o.Warmup}
	var workers int
	var work func(w int)
	switch m := o.Model.(type) {
	case Closed:
		res.Clients, workers = m.Clients, m.Clients
		work = func(w int) {
			for ctx.Err() == nil {
				start := clock.Now()
				if !end.IsZero() && !start.Before(end) {
					return
				}
				measured := !start.Before(measureStart)
				if measured && !claim() {
					return
				}
				kind, err := target(ctx, w)
				done := clock.Now()
				rec.done.Add(1)
				if measured && !(ctx.Err() != nil && err != nil) {
					rec.add(kind, done.Sub(start), err, done)
				}
			}
		}
	case Open:
		workers = m.Workers
		if workers == 0 {
			workers = DefaultOpenWorkers
		}
		res.Rate, res.Workers = m.Rate, workers
		var next atomic.Int64
		// intended is exact: computed from the index, never accumulated,
		// so no drift however long the run.
		intended := func(i int64) time.Time { return t0.Add(time.Duration(float64(i) * float64(time.Second) / m.Rate)) }
		work = func(w int) {
			for ctx.Err() == nil {
				due := intended(next.Add(1) - 1)
				if !end.IsZero() && !due.Before(end) {
					return
				}
				measured := !due.Before(measureStart)
				if measured && !claim() {
					return
				}
				if err := clock.SleepUntil(ctx, due); err != nil {
					return
				}
				kind, err := target(ctx, w)
				done := clock.Now()
				rec.done.Add(1)
				// From the intended start: a request that waited for a
				// worker, or behind a stall, is charged for the wait.
				if measured && !(ctx.Err() != nil && err != nil) {
					rec.add(kind, done.Sub(due), err, done)
				}
			}
		}
	}

	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if o.Progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			reportProgress(o.Progress, rec, clock, t0, measureStart, stopProgress)
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(w)
		}()
	}
	wg.Wait()
	close(stopProgress)
	progressDone.Wait()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	res.OK, res.Errors, res.Requests = rec.ok, rec.fails, rec.ok+rec.fails
	if rec.last.After(measureStart) {
		res.Elapsed = rec.last.Sub(measureStart)
	}
	if !end.IsZero() && o.Requests == 0 && res.Elapsed < o.Duration && ctx.Err() == nil {
		// Nothing was in flight at the end: the window is the duration.
		res.Elapsed = o.Duration
	}
	res.Hist = rec.all
	res.Latency = Summarize(rec.all)
	res.Throughput = perSecond(res.OK, res.Elapsed)
	res.Kinds = map[string]KindResult{}
	for name, k := range rec.kinds {
		res.Kinds[name] = KindResult{OK: k.ok, Errors: k.errors, Throughput: perSecond(k.ok, res.Elapsed), Latency: Summarize(k.h)}
	}
	res.ErrorKinds = rec.errKinds
	res.SlowestBySecond = rec.slowest
	return res, nil
}

// maxSeconds bounds Result.SlowestBySecond: a day of seconds.
const maxSeconds = 24 * 60 * 60

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func reportProgress(fn func(Progress), rec *recorder, clock Clock, t0, measureStart time.Time, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, lastAt := int64(0), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			done := rec.done.Load()
			p := Progress{Rate: float64(done-last) / now.Sub(lastAt).Seconds()}
			last, lastAt = done, now
			c := clock.Now()
			p.Elapsed, p.Warmup = c.Sub(t0), c.Before(measureStart)
			rec.mu.Lock()
			p.Completed, p.Errors = rec.ok+rec.fails, rec.fails
			p.P99 = time.Duration(rec.all.ValueAtQuantile(99)) * time.Microsecond
			rec.mu.Unlock()
			fn(p)
		}
	}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
