package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/demo"
)

// runSimulators is `tulpar simulators`: the bench's simulators in a process
// of their own, so that `tulpar bench --self --separate` measures the
// switch's CPU and memory without them. It speaks a line protocol on
// stdin and stdout with the bench that started it.
func runSimulators(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("simulators", "", `
The bench's simulated banks and 3-D Secure server in their own process,
started by 'tulpar bench --self --separate'. It prints one JSON line with
the 3-D Secure server's URL and the ascii bank's address, reads a line
"binary HOST:PORT" naming where the binary bank dials the switch, answers
"ready", and stops when its standard input closes.`, stderr)
	logLevel := fs.String("log-level", "warn", "log level of the simulators (logs go to stderr)")
	procs := fs.Int("gomaxprocs", 1, "Go schedulers of the simulators (GOMAXPROCS)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *procs < 1 {
		fmt.Fprintf(stderr, "tulpar simulators: --gomaxprocs: %d: must be at least 1\n", *procs)
		return exitUsage
	}
	// The simulators stand in for other machines but share the bench's.
	// Their banks keep every record, so their heap grows for the whole
	// run, and each collection of it ran on every scheduler they had:
	// with the switch's four per core, a second of both cores at once
	// every minute or two, which the switch's tail and its memory (the
	// connections the load generator dials while it waits) showed as its
	// own. One scheduler leaves them a core at most.
	runtime.GOMAXPROCS(*procs)
	s, err := demo.StartSimulators(newLogger(stderr, *logLevel))
	if err != nil {
		fmt.Fprintln(stderr, "tulpar simulators:", err)
		return exitFail
	}
	defer s.Close()
	json.NewEncoder(stdout).Encode(simAddrs{ACS: s.ACSURL(), ASCII: s.ASCIIAddr()})
	in := bufio.NewScanner(os.Stdin)
	lines := make(chan string)
	go func() {
		for in.Scan() {
			lines <- in.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case line, ok := <-lines:
			if !ok {
				return exitOK
			}
			addr, found := strings.CutPrefix(line, "binary ")
			if !found {
				fmt.Fprintf(stderr, "tulpar simulators: unexpected line %q\n", line)
				return exitUsage
			}
			if err := s.StartBinary(addr); err != nil {
				fmt.Fprintln(stderr, "tulpar simulators:", err)
				return exitFail
			}
			fmt.Fprintln(stdout, "ready")
		}
	}
}

type simAddrs struct {
	ACS   string `json:"acs"`
	ASCII string `json:"ascii"`
}

// childSimulators runs `tulpar simulators` as a child process.
type childSimulators struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	addrs simAddrs
}

func startChildSimulators(logLevel string, stderr io.Writer) (*childSimulators, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("simulators: %w", err)
	}
	c := &childSimulators{cmd: exec.Command(exe, "simulators", "--log-level", logLevel)}
	c.cmd.Stderr = stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("simulators: %w", err)
	}
	c.out = bufio.NewScanner(out)
	if !c.out.Scan() || json.Unmarshal(c.out.Bytes(), &c.addrs) != nil {
		c.Close()
		return nil, errors.New("simulators: the child process did not say where it listens")
	}
	return c, nil
}

// ACSURL is the child's 3-D Secure server.
func (c *childSimulators) ACSURL() string { return c.addrs.ACS }

// ASCIIAddr is the child's ascii bank.
func (c *childSimulators) ASCIIAddr() string { return c.addrs.ASCII }

// StartBinary has the child start the binary bank, dialing switchAddr.
func (c *childSimulators) StartBinary(switchAddr string) error {
	if _, err := fmt.Fprintf(c.stdin, "binary %s\n", switchAddr); err != nil {
		return err
	}
	if !c.out.Scan() || c.out.Text() != "ready" {
		return errors.New("simulators: the binary bank did not start")
	}
	return nil
}

// Close closes the child's standard input, which stops it, and waits for
// it (killing it after 10 s).
func (c *childSimulators) Close() error {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	return nil
}
