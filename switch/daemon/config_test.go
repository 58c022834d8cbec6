package daemon_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// Timeouts are checked against each other at start, and each error names
// its key.
func TestConfigTimeoutsAgree(t *testing.T) {
	good, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	require.NoError(t, good.Validate())
	for _, tc := range []struct {
		name string
		edit func(*daemon.Config)
		want string
	}{
		{"write timeout shorter than a payment", func(c *daemon.Config) {
			c.HTTP.WriteTimeout, c.ThreeDS.Timeout, c.Payments.ExchangeTimeout = 40*time.Second, 30*time.Second, 15*time.Second
		}, "http.write_timeout: 40s must exceed threeds.timeout + payments.exchange_timeout (45s)"},
		{"header timeout longer than the read timeout", func(c *daemon.Config) { c.HTTP.ReadHeaderTimeout = time.Minute },
			"http.read_header_timeout: 1m0s is longer than http.read_timeout"},
		{"zero", func(c *daemon.Config) { c.StartWait = 0 }, "start_wait: must be a positive duration"},
		{"negative", func(c *daemon.Config) { c.HTTP.IdleTimeout = -time.Second }, "http.idle_timeout: must be a positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}

// The cabinet's keys are checked with the rest, each error naming its key.
func TestConfigCabinet(t *testing.T) {
	good, _ := switchtest.Config(t, switchtest.Options{DataDir: t.TempDir()}, "127.0.0.1:8583")
	good.CabinetListen = "127.0.0.1:8090"
	require.NoError(t, good.Validate())
	for _, tc := range []struct {
		name string
		edit func(*daemon.Config)
		want string
	}{
		{"not an address", func(c *daemon.Config) { c.CabinetListen = "8090" }, `cabinet_listen: "8090" is not host:port`},
		{"the merchants' listener", func(c *daemon.Config) { c.Listen, c.CabinetListen = "127.0.0.1:8080", "127.0.0.1:8080" }, "cabinet_listen: \"127.0.0.1:8080\" is already listen"},
		{"public URL with a path", func(c *daemon.Config) { c.Cabinet.PublicURL = "https://cabinet.example.kz/x" }, "cabinet: public_url"},
		{"time zone", func(c *daemon.Config) { c.Cabinet.TimeZone = "Mars/Olympus" }, "cabinet: time_zone"},
		{"sessions", func(c *daemon.Config) {
			c.Cabinet.Users.SessionIdle, c.Cabinet.Users.SessionMax = time.Hour, time.Minute
		}, "cabinet: users: session_idle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
	off := good
	off.CabinetListen = ""
	require.NoError(t, off.Validate(), "empty: no cabinet")
}
