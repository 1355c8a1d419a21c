package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// ParsePrefixes parses a list of CIDR prefixes (10.0.0.0/8, fd00::/8); a
// bare address means that address alone.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted proxy %q is neither a CIDR prefix (10.0.0.0/8) nor an address", ErrInvalidConfig, s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// forwardedBy is what a trusted proxy in front said about a request.
type forwardedBy struct {
	peer      netip.Addr // the trusted proxy itself
	client    netip.Addr // the client, resolved through the chain
	xff       string     // its X-Forwarded-For, as received
	forwarded string     // its Forwarded, as received
	proto     string     // the scheme the client used, "" if not said
	host      string     // X-Forwarded-Host, "" if not said
}

type forwardedKey struct{}

// ClientAddress makes r.RemoteAddr the client's address for everything
// inside it (the access log, the middleware's notion of who is asking, the
// origin's forwarding headers). A request from an address in trusted (a load
// balancer, a CDN) keeps its X-Forwarded-For, X-Forwarded-Proto,
// X-Forwarded-Host and Forwarded fields, and its client is the rightmost
// address in X-Forwarded-For (else Forwarded) that is not itself trusted.
// From anyone else those fields are replaced, since a client can write them.
// With no trusted prefixes it returns next.
func ClientAddress(next http.Handler, trusted []netip.Prefix) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(ap.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		fw := &forwardedBy{
			peer:      ap.Addr().Unmap(),
			xff:       strings.Join(r.Header.Values("X-Forwarded-For"), ", "),
			forwarded: strings.Join(r.Header.Values("Forwarded"), ", "),
			proto:     lastElement(r.Header.Values("X-Forwarded-Proto")),
			host:      lastElement(r.Header.Values("X-Forwarded-Host")),
		}
		var chain []netip.Addr
		if fw.xff != "" {
			chain = xffAddrs(fw.xff)
		} else if fw.forwarded != "" {
			chain = forwardedAddrs(fw.forwarded)
		}
		if fw.proto == "" && fw.forwarded != "" {
			fw.proto = forwardedParam(fw.forwarded, "proto")
		}
		fw.client = fw.peer
		for i := len(chain) - 1; i >= 0; i-- {
			fw.client = chain[i]
			if !isTrusted(chain[i]) {
				break
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), forwardedKey{}, fw))
		r.RemoteAddr = netip.AddrPortFrom(fw.client, 0).String()
		next.ServeHTTP(w, r)
	})
}

// setHeaders writes the forwarding fields of an outgoing request: the
// trusted proxy's, with this hop added.
func (fw *forwardedBy) setHeaders(h http.Header, in *http.Request) {
	xff := fw.peer.String()
	if fw.xff != "" {
		xff = fw.xff + ", " + xff
	}
	h.Set("X-Forwarded-For", xff)
	proto := fw.proto
	if proto == "" {
		proto = "http"
		if in.TLS != nil {
			proto = "https"
		}
	}
	h.Set("X-Forwarded-Proto", proto)
	host := fw.host
	if host == "" {
		host = in.Host
	}
	h.Set("X-Forwarded-Host", host)
	if fw.forwarded != "" {
		// This hop: who connected to it, and how.
		h.Set("Forwarded", fw.forwarded+", "+forwardedElement(fw.peer, in.Host, ownProto(in)))
	} else {
		h.Set("Forwarded", forwardedElement(fw.client, host, proto))
	}
}

func ownProto(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func forwardedElement(addr netip.Addr, host, proto string) string {
	var b strings.Builder
	if addr.Is6() {
		fmt.Fprintf(&b, `for="[%s]";`, addr)
	} else {
		fmt.Fprintf(&b, "for=%s;", addr)
	}
	if host != "" {
		fmt.Fprintf(&b, "host=%q;", host)
	}
	b.WriteString("proto=" + proto)
	return b.String()
}

// lastElement returns the last comma-separated element of a list field:
// the one the nearest proxy wrote.
func lastElement(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// xffAddrs parses X-Forwarded-For. An element that is not an address ends
// the chain there: what lies left of it cannot be trusted to mean anything.
func xffAddrs(v string) []netip.Addr {
	parts := strings.Split(v, ",")
	var out []netip.Addr
	for i := len(parts) - 1; i >= 0; i-- {
		a, ok := parseNode(strings.TrimSpace(parts[i]))
		if !ok {
			break
		}
		out = append(out, a)
	}
	slices.Reverse(out)
	return out
}

// forwardedAddrs parses the for= parameters of Forwarded (RFC 7239).
func forwardedAddrs(v string) []netip.Addr {
	elems := strings.Split(v, ",")
	var out []netip.Addr
	for i := len(elems) - 1; i >= 0; i-- {
		a, ok := parseNode(paramOf(elems[i], "for"))
		if !ok {
			break
		}
		out = append(out, a)
	}
	slices.Reverse(out)
	return out
}

// forwardedParam returns param of the last element of Forwarded.
func forwardedParam(v, param string) string {
	elems := strings.Split(v, ",")
	return strings.ToLower(paramOf(elems[len(elems)-1], param))
}

func paramOf(elem, param string) string {
	for pair := range strings.SplitSeq(elem, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(k, param) {
			return strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return ""
}

// parseNode parses an address as forwarding fields write it: 192.0.2.1,
// 192.0.2.1:4711, [2001:db8::1], [2001:db8::1]:4711, 2001:db8::1.
func parseNode(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
