package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data directory (journal, orders, demo keys); default: a new temporary directory")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address of the switch (merchant API, payment page, metrics)")
	printConfig := fs.Bool("print-config", false, "print the demo's config as YAML (a starting point for `tulpar serve`) and exit")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tulpar demo [--data DIR] [--listen ADDR] [--print-config]")
		fmt.Fprintln(stderr, "\nStarts the switch with two simulated banks (alatau-sim: ascii dialect, the switch dials it;")
		fmt.Fprintln(stderr, "saryarka-sim: binary dialect, it dials the switch), a simulated 3-D Secure directory server")
		fmt.Fprintln(stderr, "and ACS, and a demo merchant. No file and no setup needed. Ctrl-C stops it.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *printConfig {
		cfg, _, err := demo.SwitchConfig("/var/lib/tulpar", *listen, "http://127.0.0.1:8443", "127.0.0.1:8583")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		stdout.Write(out)
		return exitOK
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tulpar-demo-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		dir = tmp
	}
	log := newLogger(stderr, *logLevel)
	demo, err := demo.Start(ctx, demo.Options{DataDir: dir, Listen: *listen, Log: log})
	if err != nil {
		fmt.Fprintln(stderr, "tulpar demo:", err)
		return exitFail
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = demo.WaitReady(wctx)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "tulpar demo:", err)
	}
	printDemo(ctx, stdout, demo, dir)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := demo.Close(sctx); err != nil {
		fmt.Fprintln(stderr, "tulpar demo: stop:", err)
		return exitFail
	}
	return exitOK
}

func printDemo(ctx context.Context, w io.Writer, d *demo.Demo, dir string) {
	fmt.Fprintf(w, "Tulpar demo is running.\n\n")
	fmt.Fprintf(w, "  switch           %s\n", d.URL())
	fmt.Fprintf(w, "  metrics          %s/metrics   health %s/healthz   ready %s/readyz\n", d.URL(), d.URL(), d.URL())
	fmt.Fprintf(w, "  admin            %s/admin/links  /admin/saf  /admin/journal/snapshot (operators only)\n", d.AdminURL())
	fmt.Fprintf(w, "  data             %s\n", dir)
	fmt.Fprintf(w, "  3-D Secure sim   %s\n", d.ACSURL)
	for _, name := range []string{demo.BankASCII, demo.BankBinary} {
		st := d.Links().Get(name).Status()
		fmt.Fprintf(w, "  bank %-12s %s dialect, %s side, link %s\n", name, st.Dialect, st.Side, st.State)
	}
	printMerchantAccess(ctx, w, d)
	fmt.Fprintf(w, "\nCtrl-C stops the demo.\n")
}
