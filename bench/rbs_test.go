package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A worker keeps at most maxPaid approved purchases for its refunds: the
// default mix buys six times as often as it refunds, and the list, in the
// load generator's heap beside the switch's, grew for the whole run. The
// RBS endpoints are a stand-in here (the mix's HTTP client is what is
// tested; switch/demo's selfbench test runs it against the switch).
func TestRBSMixKeepsFewOrdersToRefund(t *testing.T) {
	var n, refunds atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/register.do"):
			fmt.Fprintf(w, `{"orderId":"order-%d"}`, n.Add(1))
		case strings.HasSuffix(r.URL.Path, "/paymentorder.do"):
			fmt.Fprint(w, `{"errorCode":0,"redirect":"https://shop.example.kz/ok"}`)
		case strings.HasSuffix(r.URL.Path, "/refund.do"):
			refunds.Add(1)
			fmt.Fprint(w, `{"errorCode":0}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	mix, err := NewRBSMix(RBSOptions{URL: srv.URL, Token: "t", Card: "4444555511113333", DeclineCard: "4000000000000044",
		Amount: 100, Mix: Mix{Purchase: 90, Refund: 10}, Conns: 1})
	require.NoError(t, err)
	defer mix.Close()
	target := mix.Target()
	for range 300 {
		_, err := target(context.Background(), 0)
		require.NoError(t, err)
	}
	require.Positive(t, refunds.Load(), "refunds of earlier purchases")
	// 270 purchases or so, against room for maxPaid: the list is full but
	// for the refunds of the last few operations (the mix is random: a
	// refund at the very end leaves it one short).
	paid := len(mix.worker(0).paid)
	require.LessOrEqual(t, paid, maxPaid)
	require.GreaterOrEqual(t, paid, maxPaid-8)
}

// After a burst the open loop's client keeps IdleConns connections, not
// one for each request the burst had in flight: the rest, idle until
// IdleConnTimeout, had held 20 MB of the process's heap that --self counts
// as the switch's after every stall of a ten-minute run.
func TestRBSMixClosesTheBurstsConnections(t *testing.T) {
	const burst, idle = 8, 2
	var arrived atomic.Int64
	all := make(chan struct{}) // every worker's request in flight at once, each on its own connection
	opened, closed := make(chan struct{}, 4*burst), make(chan struct{}, 4*burst)
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/register.do"):
			if arrived.Add(1) == burst {
				close(all)
			}
			select {
			case <-all:
			case <-r.Context().Done(): // the client gave up: fewer connections than workers
				return
			}
			fmt.Fprintf(w, `{"orderId":"order-%d"}`, n.Add(1))
		case strings.HasSuffix(r.URL.Path, "/paymentorder.do"):
			fmt.Fprint(w, `{"errorCode":0,"redirect":"https://shop.example.kz/ok"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened <- struct{}{}
		case http.StateClosed:
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	mix, err := NewRBSMix(RBSOptions{URL: srv.URL, Token: "t", Card: "4444555511113333", DeclineCard: "4000000000000044",
		Amount: 100, Mix: Mix{Purchase: 100}, Conns: burst, IdleConns: idle, Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer mix.Close()
	target := mix.Target()
	var ops sync.WaitGroup
	for w := range burst {
		ops.Go(func() {
			_, err := target(context.Background(), w)
			assert.NoError(t, err)
		})
	}
	ops.Wait()

	// The client closes what it does not keep as each request returns; the
	// server hears each close a moment later.
	deadline := time.After(10 * time.Second)
	open := 0
	for {
		select {
		case <-opened:
			open++
		case <-closed:
			open--
		case <-deadline:
			t.Fatalf("%d connections left open after the burst, want %d", open, idle)
		}
		if open == idle && len(opened) == 0 && len(closed) == 0 {
			break
		}
	}
}
