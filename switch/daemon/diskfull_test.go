package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/issuersim"
	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// smallDisk mounts a tmpfs of size for the test (CI runs as root) and
// unmounts it at cleanup.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; CI runs as root")
	}
	dir := t.TempDir()
	require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size), "mount tmpfs")
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	return dir
}

// preFill takes all but leave bytes of the file system of dir with a
// ballast file, so that filling the rest later is quick.
func preFill(t *testing.T, dir string, leave int64) {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	size := int64(st.Bavail)*st.Bsize - leave
	require.Positive(t, size)
	f, err := os.Create(filepath.Join(dir, "ballast-1"))
	require.NoError(t, err)
	_, err = f.Write(make([]byte, size))
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// fillDisk fills the rest of the file system of dir with a ballast file,
// then takes every page the data file still has free, so the switch's next
// commit that needs space fails as on a full disk. It returns how to give
// the space back: remove the ballast.
func fillDisk(t *testing.T, dir string, db journal.Transactor) (free func()) {
	t.Helper()
	ballast := filepath.Join(dir, "ballast-2")
	f, err := os.Create(ballast)
	require.NoError(t, err)
	chunk := make([]byte, 16<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Close())
	// bbolt reuses the pages its earlier transactions freed without asking
	// the disk for space: take them, largest runs first, until no value of
	// any size fits.
	n := 0
	for _, size := range []int{256 << 10, 32 << 10, 4 << 10, 512, 64} {
		for {
			err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("test.ballast"))
				if err != nil {
					return err
				}
				n++
				return b.Put([]byte(fmt.Sprintf("%08d", n)), make([]byte, size))
			})
			if err != nil {
				require.True(t, errors.Is(err, syscall.ENOSPC), "filling the data file: %v", err)
				break
			}
		}
	}
	return func() {
		require.NoError(t, os.Remove(ballast))
		require.NoError(t, os.Remove(filepath.Join(dir, "ballast-1")))
	}
}

// The disk fills while a payment is at the bank: the bank's approval
// cannot be recorded, so the shop hears "temporarily unavailable", /readyz
// says 503 and new work is refused; once the disk has room the switch
// records the bank's answer and reverses the approval the shop never heard.
func TestDiskFullWhileAtTheBank(t *testing.T) {
	dir := smallDisk(t, "24m")
	// The disk must fill while the bank holds its answer: a loaded machine
	// gets seconds for it, not the suite's usual bank delay.
	s := switchtest.Run(t, switchtest.Options{DataDir: filepath.Join(dir, "data"), Configure: func(c *daemon.Config) {
		c.Payments.ExchangeTimeout = 20 * time.Second
	}})
	before := s.Account(visa)
	id := s.Register("disk-full", 45000, true)
	preFill(t, dir, 1<<20)

	s.Knobs(issuersim.Rule{MTI: "0100", Action: issuersim.ActionLate, Delay: 4 * time.Second})
	type result struct {
		ans map[string]any
		err error
	}
	done := make(chan result, 1)
	go func() {
		ans, err := s.RBS("paymentorder", switchtest.PayForm(id, visa), 0)
		done <- result{ans, err}
	}()
	s.WaitReceived("0100", 1)
	free := fillDisk(t, dir, s.D.Journal().DB())
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "7", errorCode(r.ans), "%v", r.ans)
	require.Contains(t, r.ans["errorMessage"], "временно недоступен", "in Russian, the gateway's default")
	require.Equal(t, 1, s.D.Payments().Unrecorded(), "the bank's answer is kept in memory")
	require.Equal(t, int64(45000), s.Account(visa).Held-before.Held, "the bank holds the money meanwhile")

	resp, err := http.Get(s.URL() + "/readyz")
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "journal: cannot write")
	ans, err := s.RBS("register", url.Values{"orderNumber": {"while-full"}, "amount": {"100"},
		"returnUrl": {"https://shop.example.kz/ok"}}, 0)
	require.NoError(t, err)
	require.Contains(t, ans["errorMessage"], "временно недоступен", "new work is refused")
	ans, err = s.RBS("paymentorder", switchtest.PayForm(id, visa), 0)
	require.NoError(t, err)
	require.Equal(t, "7", errorCode(ans), "a retry sends nothing: %v", ans)
	require.Equal(t, 1, s.Bank.Received("0100"))
	// A payment link closing its orders (OnlyWaiting) leaves this one: its
	// lock is free, but an exchange of it has no recorded outcome.
	_, err = s.D.Payments().Decline(context.Background(), payments.FollowUpRequest{OrderID: id, Merchant: switchtest.Merchant, OnlyWaiting: true})
	require.ErrorIs(t, err, payments.ErrInProgress)

	s.Knobs()
	free()
	s.Eventually(func() bool { return s.D.Payments().Unrecorded() == 0 }, "the kept answer is recorded once the disk has room")
	o := s.Order(id)
	require.Equal(t, order.StatusDeclined, o.Status, "the shop heard 'unavailable': the approval does not stand")
	require.Equal(t, "not_recorded", o.DeclineReason)
	require.Equal(t, order.OpApproved, o.Ops[0].Status, "the history says what the bank did")
	require.Equal(t, order.OpAutoReversal, o.Ops[1].Type)
	s.Books(visa, before)
	require.Zero(t, s.Account(visa).Held-before.Held, "the hold is released")
	s.Eventually(func() bool {
		resp, err := http.Get(s.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "ready again")
	// The same shop request now answers the recorded outcome.
	ans = s.Pay(id, visa)
	require.Equal(t, "0", errorCode(ans))
	require.Equal(t, order.ActionText(order.ActionSystemError, "ru"), ans["error"], "declined: %v", ans)
	require.Equal(t, 1, s.Bank.Received("0100"))
}
