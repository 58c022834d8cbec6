package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/bench"
)

// runBenchCmd runs `tulpar bench` with args and returns the exit code,
// stdout and stderr.
func runBenchCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"bench"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// The whole switch in-process, through the merchant API, in the default
// mix: no error, every kind present, journal entries counted.
func TestBenchSelfE2E(t *testing.T) {
	code, out, errOut := runBenchCmd(t, "--self", "--scenario", "e2e", "--requests", "200", "--warmup", "0", "--clients", "8",
		"--data", filepath.Join(t.TempDir(), "new"), "--log-level", "error")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	for _, want := range []string{"scenario e2e", "purchase", "two_stage", " all ", "p99.9", "authorizations/s", "errors: none", "journal entries written",
		"cost per operation", "store-and-forward:", "0 after", "sustained authorizations/s counting the drain"} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `(?m)^\s+all\s+200\s+0\s`, out, "200 measured operations, none failed")
}

func TestBenchReferenceJSON(t *testing.T) {
	code, out, errOut := runBenchCmd(t, "--scenario", "reference", "--requests", "500", "--warmup", "0", "--clients", "4", "--json")
	require.Equal(t, exitOK, code, errOut)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, "reference", rep.Scenario)
	require.Equal(t, int64(500), rep.Result.OK)
	require.Zero(t, rep.Result.Errors)
	require.Positive(t, rep.Result.Throughput)
	require.Positive(t, rep.Result.Latency.P99)
}

// --self --scenario iso goes through Tulpar's link; with --reference the
// ratio is reported.
func TestBenchSelfISOWithReference(t *testing.T) {
	code, out, errOut := runBenchCmd(t, "--self", "--scenario", "iso", "--requests", "300", "--warmup", "0", "--clients", "4",
		"--reference", "--log-level", "error")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "links.Link.Send")
	require.Contains(t, out, "ratio to the reference")
}

func TestBenchHelpExplainsEveryFlag(t *testing.T) {
	code, _, errOut := runBenchCmd(t, "--help")
	require.Equal(t, exitOK, code)
	for _, flag := range []string{"scenario", "self", "url", "token", "iso-addr", "dialect", "clients", "rate", "workers", "duration",
		"requests", "warmup", "json", "reference", "cpuprofile", "memprofile", "mix", "data", "drain-timeout", "plot"} {
		require.Regexp(t, `(?m)^  -`+flag+`( |$)`, errOut, "help names --%s", flag)
	}
	code, _, errOut = runBenchCmd(t, "--scenario", "nope", "--requests", "1")
	require.Equal(t, exitUsage, code)
	require.True(t, strings.Contains(errOut, "scenario"), errOut)
}

// --separate runs the simulators in a child process (this test binary
// re-executed as `tulpar simulators`, see TestMain) and the payments still
// go through both banks.
func TestBenchSelfSeparate(t *testing.T) {
	code, out, errOut := runBenchCmd(t, "--self", "--separate", "--scenario", "e2e", "--requests", "150", "--warmup", "0",
		"--clients", "4", "--log-level", "error")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Regexp(t, `(?m)^\s+all\s+150\s+0\s`, out)
	require.Contains(t, out, "run in a child process")
}

// The simulators' schedulers are a positive number.
func TestSimulatorsRefuseNoScheduler(t *testing.T) {
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"simulators", "--gomaxprocs", "0"}, &out, &errOut)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut.String(), "--gomaxprocs: 0: must be at least 1")
	require.Empty(t, out.String(), "nothing started")
}
