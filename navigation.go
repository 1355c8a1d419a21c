package earlyhints

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
)

// A request's facts are computed once, where it enters (Handler.ServeHTTP),
// and passed down as one value: a navigation, or a subresource. Nothing
// below recomputes them from the *http.Request.

// requestFacts are the facts of a request that several steps need. Each is
// computed on first use and kept, so it costs at most once per request,
// and nothing on a path that does not need it (the hit path, learning
// off, reads none of them but, once a second, the network).
type requestFacts struct {
	r          *http.Request
	net        string // clientNetwork(r.RemoteAddr), once netKnown
	netKnown   bool
	page       *url.URL // RequestURL(r), once known; shared, never modified
	pageTarget string   // canonicalURL(page), once known

	requester      hintstore.Requester // once requesterKnown
	requesterKnown bool
}

// network is the client's network (see clientNetwork): the one place a
// request's RemoteAddr is read.
func (f *requestFacts) network() string {
	if !f.netKnown {
		f.net, f.netKnown = networks.network(f.r.RemoteAddr), true
	}
	return f.net
}

// url is the absolute URL the client asked for (see RequestURL): the one
// place it is built for a request.
func (f *requestFacts) url() *url.URL {
	if f.page == nil {
		f.page = RequestURL(f.r)
	}
	return f.page
}

// target is url() as hint targets spell it (see canonicalURL).
func (f *requestFacts) target() string {
	if f.pageTarget == "" {
		f.pageTarget = canonicalURL(f.url())
	}
	return f.pageTarget
}

// requesterBy returns who made the request, as the requester rule id
// identifies people (see identity.requester), computed once.
func (f *requestFacts) requesterBy(id identity) hintstore.Requester {
	if !f.requesterKnown {
		f.requester, f.requesterKnown = id.requester(f.network(), f.r.Header), true
	}
	return f.requester
}

// navigation is one page request that passed the gate (or was held back
// from a 103 by it, and is still observed and learned from).
type navigation struct {
	requestFacts
	route     string      // the route key (Handler.RouteKey)
	field     *routeField // the route's field stats; nil when the field view is full
	start     time.Time   // the request's arrival: the origin's think time runs from it
	proto     string      // the request's protocol, for events and the learner
	learnable bool        // its response may teach hints (see Handler.gate)
	// speculative: a prefetch or prerender of the document (see
	// httpx.IsSpeculative). It gets the 103 and teaches from its
	// response, but is no view: what follows from its network is not the
	// page's doing.
	speculative bool

	// The class of the request for the Vary names variantNames, once
	// variantKnown (see variantClass): the store's Vary mark and the
	// response's name the same headers but for a change of the page.
	variantNames []string
	variant      string
	variantKnown bool
}

// variantFor returns the request's class for the Vary names (see
// variantClass), computed once for the names the route varies on.
func (n *navigation) variantFor(names []string) string {
	if !n.variantKnown || !slices.Equal(n.variantNames, names) {
		n.variant, n.variantNames, n.variantKnown = variantClass(n.r.Header, names), names, true
	}
	return n.variant
}

// observedKey returns the hintstore.ObservedKey of key, a store key of the
// route (the route itself or one of its variants): made once per route for
// the route itself, so the hit path does not allocate.
func (n *navigation) observedKey(key string) string {
	if n.field != nil && key == n.route {
		return n.field.observedKey
	}
	return hintstore.ObservedKey(key)
}

// subresource is a request that is no navigation: a file a page uses,
// which may be a hinted target or teach an observed link.
type subresource struct {
	requestFacts
	proto string
}

// clientNetwork returns the network prefix of a client address: /24 for
// IPv4 (and IPv4-mapped IPv6), /48 for IPv6. It is the network a client is
// known by: its page views and 103s are followed per network, and a
// requester of a private page is one network (see identity.requester). An
// address that does not parse is returned as it is.
func clientNetwork(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return host
	}
	return p.String()
}
