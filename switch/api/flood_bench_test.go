package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/api"
)

// BenchmarkPasswordFlood measures what a flood of wrong passwords does to
// a merchant that signs in correctly: the merchant's getOrderStatus latency
// idle, then while 300 wrong passwords a second arrive for made-up user
// names (each costs an argon2id check, as a real user's would), and the
// process's peak memory during the flood. The address limit is lifted, as
// for a flood from many addresses (a botnet), so that every guess reaches
// the password check: what is measured is the bound on concurrent checks
// (authguard.Config.MaxHashing) and the cache of verified passwords.
//
//	go test ./switch/api -run '^$' -bench PasswordFlood -benchtime 3000x
//
// Each iteration is one valid request; the same number is timed idle first.
func BenchmarkPasswordFlood(b *testing.B) {
	h := newHarness(b, func(c *api.Config) {
		c.Guard.AddressFailuresPerMinute, c.Guard.AddressBurst = 1e9, 1<<30
	})
	id, _ := h.rbs("register", credsA("orderNumber", fmt.Sprint(time.Now().UnixNano()), "amount", "1000", "returnUrl", "https://shop-a.example.kz/ok"))["orderId"].(string)
	require.NotEmpty(b, id)
	valid := credsA("orderId", id)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	post := func(form url.Values) (int, string) {
		resp, err := hc.PostForm(h.URL()+"/payment/rest/getOrderStatusExtended.do", form)
		require.NoError(b, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	timed := func(n int) []time.Duration {
		lat := make([]time.Duration, n)
		for i := range lat {
			start := time.Now()
			_, body := post(valid)
			lat[i] = time.Since(start)
			require.Contains(b, body, `"orderStatus"`, "the valid merchant is answered: %s", body)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat
	}
	p99 := func(lat []time.Duration) time.Duration { return lat[len(lat)*99/100] }

	timed(50) // the first sign-in pays argon2 once; later ones hit the cache
	idle := timed(b.N)

	// The flood: 300 a second, each in its own request, as many in flight
	// as the switch lets pile up.
	resetPeakRSS(b)
	stop, warm := make(chan struct{}), make(chan struct{})
	var sent, busy, denied atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / 300)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if n == 300 {
				close(warm) // a second of flood sent: it runs at its rate
			}
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				_, body := post(url.Values{"userName": {fmt.Sprintf("guess-%d", n)}, "password": {"wrong"}, "orderId": {id}})
				sent.Add(1)
				switch {
				case strings.Contains(body, `"errorCode":"7"`):
					busy.Add(1)
				case strings.Contains(body, `"errorCode":"5"`):
					denied.Add(1)
				}
			}(n)
		}
	}()
	<-warm
	b.ResetTimer()
	start := time.Now()
	flood := timed(b.N)
	b.StopTimer()
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	b.ReportMetric(float64(p99(idle).Microseconds())/1000, "idle-p99-ms")
	b.ReportMetric(float64(p99(flood).Microseconds())/1000, "flood-p99-ms")
	b.ReportMetric(float64(p99(flood))/float64(p99(idle)), "p99-ratio")
	b.ReportMetric(float64(sent.Load())/(elapsed.Seconds()+1), "flood-req/s")
	b.ReportMetric(float64(busy.Load())/float64(max(sent.Load(), 1)), "busy-share")
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MB")
}

// resetPeakRSS starts the kernel's peak-RSS count (VmHWM) afresh.
func resetPeakRSS(b *testing.B) {
	require.NoError(b, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
}

// peakRSS is the process's peak resident set since resetPeakRSS, in bytes:
// the switch, its test bank and the flooding client together.
func peakRSS(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(b, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(b, err)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
