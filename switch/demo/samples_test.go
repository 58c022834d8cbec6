package demo_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// TestDemoCabinetOpensOnSampleDays: the demo's cabinet has its user, and a
// few days of orders made by the real flows at their moments: paid, held,
// refunded, declined by the bank, expired; a second fill makes none; the
// journal still rebuilds the store, indexes included.
func TestDemoCabinetOpensOnSampleDays(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{DataDir: dir, Listen: "127.0.0.1:0", Log: zerolog.Nop()})
	require.NoError(t, err)
	require.NoError(t, d.WaitReady(ctx))
	n, err := d.FillSamples(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 20)
	again, err := d.FillSamples(ctx)
	require.NoError(t, err)
	require.Zero(t, again, "a demo restarted on its data makes no more")

	days := map[string]bool{}
	statuses := map[order.Status]int{}
	require.NoError(t, d.Payments().Store().Each(payments.Query{}, true, func(o *order.Order) error {
		days[o.CreatedAt.In(d.Payments().Zone(demo.Merchant)).Format(time.DateOnly)] = true
		statuses[o.Status]++
		require.True(t, o.CreatedAt.Before(time.Now()), "no order from the future")
		return nil
	}))
	require.GreaterOrEqual(t, len(days), 3, "a few days")
	require.Positive(t, statuses[order.StatusDeposited]+statuses[order.StatusRefunded])
	require.Positive(t, statuses[order.StatusDeclined])
	rep, err := d.Payments().Store().Report(payments.Query{}, payments.PeriodDay, d.Payments().Zone(demo.Merchant), "")
	require.NoError(t, err)
	require.NotEmpty(t, rep.Declines)

	// The demo user signs in, over HTTPS with the demo's CA, and sees them.
	require.True(t, strings.HasPrefix(d.CabinetURL(), "https://"), d.CabinetURL())
	jar, _ := cookiejar.New(nil)
	hc := d.Client()
	hc.Jar = jar
	resp, err := hc.Get(d.CabinetURL() + "/login")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	require.NotNil(t, token)
	resp, err = hc.PostForm(d.CabinetURL()+"/login", url.Values{"csrf": {token[1]}, "login": {demo.CabinetUser}, "password": {demo.CabinetPassword}})
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Regexp(t, `Найдено: \d+`, string(body))

	require.NoError(t, d.Close(ctx))
	j, err := journal.Open(filepath.Join(dir, journal.DataFile), journal.Options{})
	require.NoError(t, err)
	defer j.Close()
	rebuilt, err := payments.Rebuild(j)
	require.NoError(t, err)
	store, err := payments.NewStore(j.DB())
	require.NoError(t, err)
	diffs, err := payments.Diff(rebuilt, store)
	require.NoError(t, err)
	require.Empty(t, diffs)
}
