package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets this test binary stand in for the tulpar binary when a
// command re-executes itself (tulpar bench --self --separate starts
// `tulpar simulators` from os.Executable()).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "simulators" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
