package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/clientip"
)

func TestClient(t *testing.T) {
	p, err := clientip.ParseProxies([]string{"10.0.0.0/8", " 192.0.2.7 ", "fd00::/8", "::ffff:198.51.100.0/120"})
	require.NoError(t, err)
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string // "" when the peer is the client
	}{
		{"direct, no header", "203.0.113.9:5000", nil, ""},
		{"anyone can write the header: not believed", "203.0.113.9:5000", []string{"198.51.100.1"}, ""},
		{"trusted proxy, no header: the proxy", "10.1.2.3:80", nil, "10.1.2.3"},
		{"trusted proxy names its peer", "10.1.2.3:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"a forged left part is passed over", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.5"}, "203.0.113.5"},
		{"a chain of trusted proxies", "192.0.2.7:443", []string{"203.0.113.5, 10.9.9.9"}, "203.0.113.5"},
		{"several header lines read as one list", "10.1.2.3:80", []string{"203.0.113.5", "10.4.4.4"}, "203.0.113.5"},
		{"every hop trusted: the leftmost", "10.1.2.3:80", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"garbage stops at the hop that passed it", "10.1.2.3:80", []string{"unknown, 10.8.8.8"}, "10.8.8.8"},
		{"garbage right away: the proxy", "10.1.2.3:80", []string{"not-an-ip"}, "10.1.2.3"},
		{"a port on the hop", "10.1.2.3:80", []string{"203.0.113.5:61000"}, "203.0.113.5"},
		{"IPv6 in brackets with a port", "[fd00::1]:80", []string{"[2001:db8::5]:443"}, "2001:db8::5"},
		{"IPv6 bare", "[fd00::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv6 in brackets", "[fd00::1]:80", []string{"[2001:db8::5]"}, "2001:db8::5"},
		{"IPv4-mapped peer matches an IPv4 prefix", "[::ffff:10.1.2.3]:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"IPv4-mapped prefix matches a plain IPv4 peer", "198.51.100.20:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"a zone is not an address", "10.1.2.3:80", []string{"fe80::1%eth0"}, "10.1.2.3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			a, ok := p.Client(r)
			if c.want == "" {
				require.False(t, ok, "got %s", a)
				return
			}
			require.True(t, ok)
			require.Equal(t, c.want, a.String())
		})
	}
}

func TestHandlerRewritesOnlyThroughAProxy(t *testing.T) {
	p, err := clientip.ParseProxies([]string{"127.0.0.1"})
	require.NoError(t, err)
	var seen []string
	h := p.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = append(seen, clientip.Host(r)) }))
	for _, peer := range []string{"127.0.0.1:4000", "127.0.0.2:4000"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", "203.0.113.5")
		h.ServeHTTP(httptest.NewRecorder(), r)
		require.Equal(t, peer, r.RemoteAddr, "the request handed in is left as it came")
	}
	require.Equal(t, []string{"203.0.113.5", "127.0.0.2"}, seen)

	var none clientip.Proxies
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.5")
	_, ok := none.Client(r)
	require.False(t, ok, "no trusted proxies: no header is believed")
}

func TestParseProxiesNamesTheEntry(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "", "fe80::1%eth0"} {
		_, err := clientip.ParseProxies([]string{"10.0.0.1", bad})
		require.ErrorContains(t, err, "[1]: ", bad)
		require.ErrorContains(t, err, "neither an IP address nor a CIDR prefix")
	}
	for _, everyone := range []string{"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"} {
		_, err := clientip.ParseProxies([]string{everyone})
		require.ErrorContains(t, err, "[0]: \""+everyone+"\" would trust every address")
	}
	_, err := clientip.ParseProxies([]string{"::ffff:0.0.0.0/64"})
	require.ErrorContains(t, err, "shorter than /96")
}

func TestNetwork(t *testing.T) {
	for peer, want := range map[string]string{
		"203.0.113.5:4000":            "203.0.113.5",
		"[::ffff:203.0.113.5]:4000":   "203.0.113.5",
		"[2001:db8:1:2:3:4:5:6]:4000": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:4000": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:4000":         "fe80::/64",
		"not an address":              "not an address",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		require.Equal(t, want, clientip.Network(r), peer)
	}
}
