package bench

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is virtual time: SleepUntil jumps to the wake-up time, and
// targets advance it by their service time. With one worker the whole run
// is deterministic.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestHistogramSummary(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 1000; i++ {
		record(h, time.Duration(i)*time.Millisecond)
	}
	record(h, 0)             // clamped to 1 µs, still counted
	record(h, 2*time.Minute) // clamped to 60 s, still counted
	s := Summarize(h)
	require.Equal(t, int64(1002), s.Count)
	within := func(want, got time.Duration) {
		t.Helper()
		require.InDelta(t, float64(want), float64(got), float64(want)/500, "want %v got %v", want, got)
	}
	within(500*time.Millisecond, s.P50)
	within(900*time.Millisecond, s.P90)
	within(990*time.Millisecond, s.P99)
	within(999*time.Millisecond, s.P999)
	within(60*time.Second, s.Max)
	require.Equal(t, Latency{}, Summarize(newHistogram()))
}

// The intended start times of an open loop are exact (i/rate from the
// start, never accumulated), the measured count is rate × duration, and
// warm-up requests run but are not recorded.
func TestOpenLoopRateAndWarmup(t *testing.T) {
	clock := newFakeClock()
	t0 := clock.Now()
	var starts []time.Duration
	target := func(ctx context.Context, _ int) (string, error) {
		starts = append(starts, clock.Now().Sub(t0))
		clock.Advance(100 * time.Microsecond)
		return "op", nil
	}
	res, err := Run(context.Background(), Options{
		Model: Open{Rate: 3000, Workers: 1}, Duration: time.Second, Warmup: 500 * time.Millisecond, Clock: clock,
	}, target)
	require.NoError(t, err)
	require.Len(t, starts, 4500, "warm-up (1500) and measured (3000) requests all run")
	for i, s := range starts {
		require.Equal(t, time.Duration(float64(i)*float64(time.Second)/3000), s, "request %d starts at its intended time", i)
	}
	require.Equal(t, int64(3000), res.Requests, "only the measured window is recorded")
	require.Equal(t, int64(3000), res.Latency.Count)
	require.Equal(t, 100*time.Microsecond, res.Latency.Max)
	require.InDelta(t, 3000, res.Throughput, 1)
	require.Equal(t, int64(3000), res.Kinds["op"].OK)
}

// Coordinated omission: one stall of 1 s at 100 requests/s. Every request
// due during the stall waits behind it, and an open loop must charge each
// of them for that wait, from its intended start. A closed loop records
// the stall once.
func TestOpenLoopCorrectsCoordinatedOmission(t *testing.T) {
	const stallAt = 50
	run := func(m Model) *Result {
		clock := newFakeClock()
		n := 0
		res, err := Run(context.Background(), Options{Model: m, Requests: 200, Clock: clock}, func(ctx context.Context, _ int) (string, error) {
			if n == stallAt {
				clock.Advance(time.Second)
			} else {
				clock.Advance(time.Millisecond)
			}
			n++
			return "op", nil
		})
		require.NoError(t, err)
		require.Equal(t, int64(200), res.Requests)
		return res
	}
	open := run(Open{Rate: 100, Workers: 1})
	var slow int64
	// Requests 50..~160 are due during the stall or its backlog.
	for _, b := range open.Hist.Distribution() {
		if b.From >= 100_000 { // µs
			slow += b.Count
		}
	}
	require.GreaterOrEqual(t, slow, int64(90), "every request due during the stall is charged for it")
	// Due at 10 ms intervals: request 50 at 0.5 s, those due until 1.5 s wait behind it.
	require.Len(t, open.SlowestBySecond, 2)
	require.InDelta(t, float64(time.Second), float64(open.SlowestBySecond[0]), float64(2*time.Millisecond), "the stall began in the first second")
	require.Less(t, open.SlowestBySecond[1], 600*time.Millisecond, "the second's slowest waited for its end only")
	require.Greater(t, open.SlowestBySecond[1], 400*time.Millisecond)
	require.InDelta(t, float64(time.Second), float64(open.Latency.Max), float64(2*time.Millisecond))
	require.Greater(t, open.Latency.P90, 100*time.Millisecond, "the stall shows in the percentiles")

	closed := run(Closed{Clients: 1})
	require.Less(t, closed.Latency.P99, 2*time.Millisecond, "a closed loop hides the stall behind one sample")
	require.Equal(t, time.Second, closed.Latency.Max.Round(time.Millisecond))
}

// Warm-up in a closed loop is by start time, and the request count is
// exact however many clients race for it.
func TestClosedLoopWarmupAndCount(t *testing.T) {
	clock := newFakeClock()
	calls := 0
	res, err := Run(context.Background(), Options{Model: Closed{Clients: 1}, Requests: 100, Warmup: 10 * time.Millisecond, Clock: clock},
		func(ctx context.Context, _ int) (string, error) {
			calls++
			clock.Advance(time.Millisecond)
			return "op", nil
		})
	require.NoError(t, err)
	require.Equal(t, 110, calls, "10 warm-up requests of 1 ms, then 100 measured")
	require.Equal(t, int64(100), res.Requests)
	require.Equal(t, 100*time.Millisecond, res.Elapsed)
	require.InDelta(t, 1000, res.Throughput, 0.001)

	// Real clock, many clients: exactly Requests measured.
	var mu sync.Mutex
	seen := map[int]bool{}
	res, err = Run(context.Background(), Options{Model: Closed{Clients: 8}, Requests: 1000}, func(ctx context.Context, w int) (string, error) {
		mu.Lock()
		seen[w] = true
		mu.Unlock()
		return "op", nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(1000), res.Requests)
	for w := range seen {
		require.True(t, w >= 0 && w < 8, "worker %d", w)
	}
}

func TestErrorsByKind(t *testing.T) {
	i := 0
	var mu sync.Mutex
	res, err := Run(context.Background(), Options{Model: Closed{Clients: 1}, Requests: 10}, func(ctx context.Context, _ int) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		i++
		switch i % 5 {
		case 0:
			return "purchase", Failf("http_500", "status %d", 500)
		case 1:
			return "refund", context.DeadlineExceeded
		case 2:
			return "purchase", errors.New("boom")
		}
		return "purchase", nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(10), res.Requests)
	require.Equal(t, int64(4), res.OK)
	require.Equal(t, map[string]int64{"http_500": 2, "timeout": 2, "error": 2}, res.ErrorKinds)
	require.Equal(t, int64(4), res.Kinds["purchase"].Errors)
	require.Equal(t, int64(2), res.Kinds["refund"].Errors)
	require.Equal(t, int64(4), res.Latency.Count, "latencies are of successes only")
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"no model":     {Duration: time.Second},
		"no clients":   {Model: Closed{}, Duration: time.Second},
		"no rate":      {Model: Open{}, Duration: time.Second},
		"no end":       {Model: Closed{Clients: 1}},
		"negative dur": {Model: Closed{Clients: 1}, Duration: -time.Second},
	} {
		t.Run(name, func(t *testing.T) { require.Error(t, o.Validate()) })
	}
}

func TestResultJSONShape(t *testing.T) {
	res, err := Run(context.Background(), Options{Model: Closed{Clients: 2}, Requests: 50}, func(context.Context, int) (string, error) { return "op", nil })
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"model", "clients", "elapsed_ns", "requests", "ok", "errors", "throughput", "latency", "kinds", "error_kinds"} {
		require.Contains(t, m, k)
	}
	lat := m["latency"].(map[string]any)
	for _, k := range []string{"count", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"} {
		require.Contains(t, lat, k)
	}
}
