// Package clientip says which address a web request came from. Lockouts,
// address allow-lists, the cabinet's audit records and the logs all key on
// it, so it has one owner.
//
// Behind a proxy (a load balancer, or TLS ended in front of a plain_http
// listener) every connection comes from the proxy: one guesser's wrong
// passwords would lock every shop, and an allow-list would admit everyone
// or no one. A proxy says whom it serves in X-Forwarded-For, the header
// nginx (proxy_add_x_forwarded_for), HAProxy (option forwardfor) and cloud
// load balancers append to. Anyone can write that header, so it is read
// only from a connection that comes from a proxy the operator trusts, and
// only as far back as the hops that are themselves trusted.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses whose X-Forwarded-For is believed. The zero
// value trusts no one: the connection's peer is the client.
type Proxies struct{ nets []netip.Prefix }

// ParseProxies reads a list of addresses and CIDR prefixes. An entry that
// is neither is an error naming its index.
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for i, s := range list {
		s = strings.TrimSpace(s)
		if pre, err := netip.ParsePrefix(s); err == nil {
			if pre.Addr().Is4In6() && pre.Bits() < 96 {
				return Proxies{}, fmt.Errorf("[%d]: %q: an IPv4-mapped prefix shorter than /96 names no IPv4 address; write the IPv4 prefix", i, s)
			}
			if unmapPrefix(pre).Bits() == 0 {
				return Proxies{}, fmt.Errorf("[%d]: %q would trust every address: anyone could name any client", i, s)
			}
			p.nets = append(p.nets, unmapPrefix(pre).Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return Proxies{}, fmt.Errorf("[%d]: %q is neither an IP address nor a CIDR prefix (10.0.0.0/8, 192.0.2.7, fd00::/8)", i, s)
		}
		a = a.Unmap()
		p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Handler hands h every request with RemoteAddr set to the client's
// address when the request came through trusted proxies (port 0: the
// client's port is not known), and as it came otherwise.
func (p Proxies) Handler(h http.Handler) http.Handler {
	if len(p.nets) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := p.Client(r); ok {
			// A shallow copy: a handler must not change the request it was given.
			r2 := *r
			r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
			r = &r2
		}
		h.ServeHTTP(w, r)
	})
}

// Client is the address a request came from when its peer is a trusted
// proxy (ok false otherwise: the peer is the client). X-Forwarded-For is
// walked from its right end, where the nearest proxy wrote its own peer,
// past every hop that is trusted too; the first one that is not is the
// client. An entry that is not an address stops the walk at the trusted
// hop that passed it on, and when every hop is trusted the leftmost is the
// client.
func (p Proxies) Client(r *http.Request) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !p.trusted(peer.Addr()) {
		return netip.Addr{}, false
	}
	client := peer.Addr().Unmap()
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, ok := parseHop(hops[j])
			if !ok {
				return client, true
			}
			client = a
			if !p.trusted(a) {
				return client, true
			}
		}
	}
	return client, true
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, with a port or
// not (some proxies add it), IPv6 in brackets or not.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// Network is what a limit on clients counts by: an IPv4 client's address,
// and an IPv6 client's /64, which one subscriber is handed whole (keyed by
// the full address, one machine could be any number of clients).
func Network(r *http.Request) string { return NetworkOf(Host(r)) }

// NetworkOf is Network for an address as Host gives it; what does not
// parse as an address is its own network.
func NetworkOf(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a = a.Unmap(); a.Is6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return a.String()
}

// Host is the request's client address without its port: RemoteAddr as
// Handler left it.
func Host(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
