package fiscal_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/fiscal/fiscalsim"
	"github.com/tulpar-switch/tulpar/switch/order"
)

func account(url string) fiscal.Merchant {
	rate := 12
	return fiscal.Merchant{URL: url, Login: simLogin, Password: simPassword, PosID: simPos, SectionID: 3, TaxRate: &rate}
}

func sale(ext string, minor int64) fiscal.Receipt {
	return fiscal.Receipt{ExternalID: ext, Kind: order.FiscalSale, Total: minor,
		Items: []fiscal.Item{{Name: "Товар", Price: minor, Quantity: "1", Sum: minor}}}
}

// The connector logs in once, keeps its token, and logs in again when the
// service says the token has expired, within the same call.
func TestNurkassaLogsInAgainWhenTheTokenExpires(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	n := fiscal.NewNurkassa(account(sim.URL()), 2*time.Second, nil)
	ctx := context.Background()

	got, err := n.Issue(ctx, sale("e-1", 150050))
	require.NoError(t, err)
	require.NotEmpty(t, got.FiscalSign)
	_, err = n.Issue(ctx, sale("e-2", 100))
	require.NoError(t, err)
	require.Equal(t, 1, sim.Logins(), "the token is kept between calls")

	sim.ExpireTokens()
	_, err = n.Issue(ctx, sale("e-3", 200))
	require.NoError(t, err)
	require.Equal(t, 2, sim.Logins(), "one new login after the 401")

	sim.ExpireTokens()
	found, ok, err := n.Find(ctx, "e-1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, got.FiscalSign, found.FiscalSign)
	require.Equal(t, 3, sim.Logins())

	rs := sim.Receipts()
	require.Len(t, rs, 3)
	require.Equal(t, "1500.50", rs[0].Goods[0].Sum)
	require.Equal(t, 12, rs[0].Goods[0].TaxRate)
	require.EqualValues(t, 3, rs[0].Goods[0].SectionID)
}

// Tokens that expire by themselves (the service's TTL) are renewed the
// same way.
func TestNurkassaTokenTTL(t *testing.T) {
	var passed atomic.Int64 // the service's clock runs on its own goroutines
	clock := func() time.Time { return time.Now().Add(time.Duration(passed.Load())) }
	sim := startSim(t, fiscalsim.Config{TokenTTL: time.Minute, Now: clock})
	n := fiscal.NewNurkassa(account(sim.URL()), 2*time.Second, nil)
	_, err := n.Issue(context.Background(), sale("ttl-1", 100))
	require.NoError(t, err)
	passed.Add(int64(2 * time.Minute))
	_, err = n.Issue(context.Background(), sale("ttl-2", 100))
	require.NoError(t, err)
	require.Equal(t, 2, sim.Logins())
}

// A second receipt with a known external id is refused with the first,
// which the connector takes as its answer.
func TestNurkassaDuplicateExternalID(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	n := fiscal.NewNurkassa(account(sim.URL()), 2*time.Second, nil)
	first, err := n.Issue(context.Background(), sale("dup", 500))
	require.NoError(t, err)
	again, err := n.Issue(context.Background(), sale("dup", 500))
	require.NoError(t, err)
	require.Equal(t, first.FiscalSign, again.FiscalSign)
	require.Len(t, sim.Receipts(), 1)
	require.Equal(t, 1, sim.Duplicates())

	_, ok, err := n.Find(context.Background(), "never-sent")
	require.NoError(t, err)
	require.False(t, ok)
}

// What the service refuses (a 4xx other than 401) is ErrRefused; a wrong
// password and a 500 are not: they may get better.
func TestNurkassaErrors(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	n := fiscal.NewNurkassa(account(sim.URL()), 2*time.Second, nil)
	bad := sale("bad", 500)
	bad.Items[0].Sum = 400 // goods that do not add up to the payment
	_, err := n.Issue(context.Background(), bad)
	require.ErrorIs(t, err, fiscal.ErrRefused)
	require.ErrorContains(t, err, "HTTP 422")

	sim.FailNext(1)
	_, err = n.Issue(context.Background(), sale("x", 1))
	require.Error(t, err)
	require.False(t, errors.Is(err, fiscal.ErrRefused))

	wrong := account(sim.URL())
	wrong.Password = "wrong-password"
	_, err = fiscal.NewNurkassa(wrong, 2*time.Second, nil).Issue(context.Background(), sale("y", 1))
	require.ErrorContains(t, err, "login as +77010000001: HTTP 401")
	require.False(t, errors.Is(err, fiscal.ErrRefused))
	require.NotContains(t, err.Error(), "wrong-password")
}

// A service slower than the connector's timeout is an error the queue
// retries (never a refusal), and the next call, once it is quick again,
// issues the receipt.
func TestNurkassaSlowService(t *testing.T) {
	sim := startSim(t, fiscalsim.Config{})
	n := fiscal.NewNurkassa(account(sim.URL()), 200*time.Millisecond, nil)
	sim.SetDelay(5 * time.Second)
	_, err := n.Issue(context.Background(), sale("slow", 100))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, errors.Is(err, fiscal.ErrRefused))
	sim.SetDelay(0)
	_, err = n.Issue(context.Background(), sale("slow", 100))
	require.NoError(t, err)
	require.Len(t, sim.Receipts(), 1)
}
