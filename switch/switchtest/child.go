package switchtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/daemon"
)

// envChild carries, to a child process, the path of the config its switch
// runs.
const envChild = "TULPAR_SWITCHTEST_CHILD"

// Child is a switch running in another process: the test binary run again
// with only the test named at StartChild, which must begin with
// `if switchtest.ChildMain() { return }`.
type Child struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string
	dead bool
}

// StartChild runs cfg's switch in a child process and returns once it takes
// merchant requests. Cleanup kills it if the test has not.
func StartChild(t testing.TB, test string, cfg daemon.Config) *Child {
	t.Helper()
	data, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "child.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v=false", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &Child{t: t, cmd: cmd}
	t.Cleanup(c.Kill)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "ERROR"), "child: %s", line)
		if u, ok := strings.CutPrefix(line, "URL "); ok {
			c.URL = u
			break
		}
	}
	require.NotEmpty(t, c.URL, "the child switch started")
	go func() { // keep the pipe drained so the child never blocks on stdout
		for sc.Scan() {
		}
	}()
	return c
}

// Kill ends the child with SIGKILL, as a crash would, and waits for it.
func (c *Child) Kill() {
	if c.dead {
		return
	}
	c.dead = true
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// ChildMain runs the switch of a child process and never returns; outside a
// child it returns false at once.
func ChildMain() bool {
	path := os.Getenv(envChild)
	if path == "" {
		return false
	}
	cfg, err := daemon.LoadConfig(path)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := daemon.Start(ctx, cfg, zerolog.Nop())
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	if err := d.WaitReady(ctx); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	fmt.Println("URL", d.URL())
	select {}
}
