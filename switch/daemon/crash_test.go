package daemon

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/links"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

const (
	crashBank     = "crash-sim"
	crashMerchant = "crash-shop"
	crashPAN      = "5168494895055780" // its own account: nothing else touches it
	crashExpiry   = "3012"
	envChild      = "TULPAR_CRASH_CHILD"
	envDir        = "TULPAR_CRASH_DIR"
	envBank       = "TULPAR_CRASH_BANK"
	envMasterKey  = "TULPAR_CRASH_MASTER_KEY"
)

// crashConfig is the switch the child runs and the parent restarts: the
// same data directory, the same keys, one bank living in the parent.
// mustKeyFiles creates a master key and key store in dir, where
// crashConfig names them, as `tulpar keys` would before a first start.
func mustKeyFiles(t *testing.T, dir string) {
	t.Helper()
	cfg := hsm.DefaultConfig()
	cfg.MasterKeyFile, cfg.KeyStore = dir+"/master.key", dir+"/keys.json"
	require.NoError(t, hsm.InitKeyFiles(cfg))
}

func crashConfig(dir, bankAddr string) Config {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen = dir, "127.0.0.1:0"
	cfg.HSM.MasterKeyFile, cfg.HSM.KeyStore = dir+"/master.key", dir+"/keys.json"
	l := links.DefaultConfig(crashBank, "binary", bankAddr)
	l.AcquirerID = "400777"
	l.Backoff = links.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	cfg.Links = []links.Config{l}
	cfg.Routing = routing.Config{Rules: []routing.RuleConfig{{Name: "all", Banks: []routing.BankConfig{{Name: crashBank}}}}}
	cfg.Payments.ExchangeTimeout = 2 * time.Second
	cfg.Payments.Merchants = []payments.Merchant{{ID: crashMerchant, Name: "Crash Shop", MCC: "5411",
		Terminals: map[string]payments.Terminal{crashBank: {TerminalID: "TLPC0001", MerchantID: "000000000000777"}}}}
	cfg.SAF.RetryMin, cfg.SAF.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	return cfg
}

// TestCrashChild is the switch process the crash test kills. It does
// nothing unless started by TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		return
	}
	cfg := crashConfig(os.Getenv(envDir), os.Getenv(envBank))
	ctx := context.Background()
	d, err := Start(ctx, cfg, zerolog.Nop())
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	if err := d.Links().Get(crashBank).WaitReady(ctx); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	// A stream of payments from 8 buyers at once, until killed: one-stage
	// purchases, and holds of which every other one is completed in part.
	var done atomic.Int64
	var out sync.Mutex
	for w := 0; w < 8; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				two := i%2 == 1
				reg, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: crashMerchant,
					Number: fmt.Sprintf("w%d-%d", w, i), Amount: int64(1000 + i), TwoStage: two, ReturnURL: "https://x.kz/"})
				if err != nil {
					continue
				}
				o := reg.Order
				res, err := d.Payments().Pay(ctx, payments.PayRequest{OrderID: o.ID, Card: payments.CardInput{PAN: crashPAN, Expiry: crashExpiry}})
				if err == nil && two && i%4 == 1 && res.Order.Status == order.StatusApproved {
					d.Payments().Complete(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: 500})
				}
				out.Lock()
				fmt.Printf("PAID %d\n", done.Add(1))
				out.Unlock()
			}
		}(w)
	}
	select {}
}

// TestCrashRecovery kills a switch with SIGKILL in the middle of a stream
// of payments, restarts it on the same data, and checks that nothing is
// lost, charged twice, or left in an unknown state.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(envChild) == "1" {
		return
	}
	dir := t.TempDir()
	mustKeyFiles(t, dir)
	bcfg := issuersim.DefaultConfig()
	bcfg.Name, bcfg.Dialect, bcfg.Listen, bcfg.AcquirerID = crashBank, "binary", "127.0.0.1:0", "400777"
	// Answers come back after a random wait, so the kill finds exchanges
	// in flight.
	bcfg.Knobs = issuersim.Knobs{Latency: time.Millisecond, Jitter: 5 * time.Millisecond}
	bank, err := issuersim.New(bcfg, zerolog.Nop(), nil)
	require.NoError(t, err)
	require.NoError(t, bank.Start(context.Background()))
	t.Cleanup(func() { bank.Close() })
	start, ok := bank.Account(crashPAN)
	require.True(t, ok)

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	child.Env = append(os.Environ(), envChild+"=1", envDir+"="+dir, envBank+"="+bank.Addr())
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			child.Process.Kill()
			child.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	paid := 0
	for paid < 150 && sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "ERROR"), line)
		fmt.Sscanf(line, "PAID %d", &paid)
	}
	require.GreaterOrEqual(t, paid, 150, "the child made payments")
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	killed = true
	child.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Start(ctx, crashConfig(dir, bank.Addr()), zerolog.Nop())
	require.NoError(t, err, "the switch restarts on the killed process's data")
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	require.NoError(t, d.Journal().Verify(ctx), "hash chain intact after SIGKILL")

	// Store-and-forward delivers what was pending at the kill.
	require.Eventually(t, func() bool {
		st, err := d.SAF().Stats()
		require.NoError(t, err)
		for _, s := range st {
			if s.Depth > 0 || s.DeadLetters > 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "SAF drained")

	rebuilt, err := payments.Rebuild(d.Journal())
	require.NoError(t, err)
	diffs, err := payments.Diff(rebuilt, d.Payments().Store())
	require.NoError(t, err)
	require.Empty(t, diffs, "the journal rebuilds the order store exactly (read once store-and-forward is quiet, as both change with each delivery)")

	var held, captured int64
	orders := 0
	require.NoError(t, d.Payments().Store().All(func(o *order.Order) error {
		orders++
		for _, op := range o.Ops {
			require.NotEqual(t, order.OpPending, op.Status, "order %s op %s left pending", o.ID, op.Type)
		}
		switch o.Status {
		case order.StatusApproved:
			held += o.Approved
		case order.StatusDeposited:
			captured += o.Deposited
		case order.StatusRegistered, order.StatusDeclined:
		default:
			t.Errorf("order %s in unexpected status %s", o.ID, o.Status)
		}
		return nil
	}))
	require.GreaterOrEqual(t, orders, paid)
	end, _ := bank.Account(crashPAN)
	require.Equal(t, held, end.Held-start.Held, "every hold at the bank has an approved order, and no more")
	require.Equal(t, captured, end.Captured-start.Captured, "no double debit: the bank's captures are the deposited orders")
}
