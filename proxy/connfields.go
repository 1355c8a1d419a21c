package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
)

// A field an HTTP/1.1 origin names in its response's Connection field is
// for the proxy's hop only and must not reach the client (RFC 9110,
// section 7.6.1). net/http deletes the whole Connection field when it
// also says "close" (it keeps only Response.Close), so the names are lost
// before the proxy sees the response. The origin connections of HTTP/1
// are therefore wrapped in a headConn, which reads the Connection fields
// of the response head itself as the bytes go by, and the transport
// deletes the fields they name.

// maxHeadScan bounds the bytes a headConn reads of one response's heads
// (its 1xx and final): past it, the transport's own limit on response
// headers has failed the response.
const maxHeadScan = 1 << 20

// headConn is an origin connection carrying HTTP/1 that notes the
// Connection fields of each response head read while armed.
type headConn struct {
	net.Conn

	mu       sync.Mutex
	armed    bool     // between a request and the end of its final head
	upgraded bool     // a 101 made the connection something else
	start    bool     // the next line starts a head
	status   int      // of the head being read
	line     []byte   // the partial line
	scanned  int      // bytes of heads read for this request
	names    []string // what the current head's Connection fields name
	final    []string // what the final head's named
	complete bool     // the final head was read whole
}

// arm starts reading the heads of the response to the request about to
// be written.
func (c *headConn) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.upgraded {
		return
	}
	c.armed, c.start, c.status = true, true, 0
	c.line, c.names, c.final, c.scanned, c.complete = c.line[:0], nil, nil, 0, false
}

// finalNames returns the names the final response head gave in its
// Connection fields, and whether the head was read whole.
func (c *headConn) finalNames() ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.final, c.complete
}

func (c *headConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.armed {
			c.scan(p[:n])
		}
		c.mu.Unlock()
	}
	return n, err
}

// scan reads b, bytes of the response heads, line by line.
func (c *headConn) scan(b []byte) {
	for len(b) > 0 && c.armed {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		c.scanned += len(chunk) + 1
		if c.scanned > maxHeadScan {
			c.armed = false
			return
		}
		c.line = append(c.line, chunk...)
		if i < 0 {
			return
		}
		b = b[i+1:]
		c.endLine(bytes.TrimSuffix(c.line, []byte("\r")))
		c.line = c.line[:0]
	}
}

func (c *headConn) endLine(line []byte) {
	switch {
	case c.start:
		c.start = false
		c.names = c.names[:0]
		c.status = 0
		if _, code, ok := strings.Cut(string(line), " "); ok && len(code) >= 3 {
			for _, d := range code[:3] {
				c.status = c.status*10 + int(d-'0')
			}
		}
	case len(line) == 0:
		// The end of a head: a 1xx is followed by another.
		if c.status >= 100 && c.status < 200 && c.status != http.StatusSwitchingProtocols {
			c.start = true
			return
		}
		c.final, c.complete, c.armed = c.names, true, false
		c.upgraded = c.status == http.StatusSwitchingProtocols
	case line[0] == ' ' || line[0] == '\t':
		// A continuation of the previous field: net/http refuses it in a
		// response it reads, so nothing to note.
	default:
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !strings.EqualFold(string(name), "Connection") {
			return
		}
		for v := range strings.SplitSeq(string(value), ",") {
			if v = strings.TrimSpace(v); v != "" {
				c.names = append(c.names, v)
			}
		}
	}
}

// dialHead dials an HTTP/1 origin connection that notes its Connection
// fields.
func dialHead(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &headConn{Conn: c}, nil
	}
}

// dialTLSHead dials a TLS origin connection for tr, with its
// TLSClientConfig: HTTP/2 when the origin offers it (its connection fields
// are refused by the HTTP/2 client), and an HTTP/1 connection that notes
// its Connection fields otherwise. Dialing and the handshake together are
// bounded by d's timeout.
func dialTLSHead(tr *http.Transport, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{}
		if tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		c, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := c.(*tls.Conn)
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return tc, nil
		}
		return &headConn{Conn: tc}, nil
	}
}

// withConnectionNames arms the HTTP/1 connection that will carry r and
// returns the request to send and a function that deletes, from the
// response, the fields the origin named in a Connection field net/http
// dropped.
func withConnectionNames(r *http.Request) (*http.Request, func(*http.Response)) {
	var hc *headConn
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if c, ok := info.Conn.(*headConn); ok {
			hc = c
			c.arm()
		}
	}}
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), trace))
	return r, func(res *http.Response) {
		if hc == nil || !res.Close || res.ProtoMajor != 1 || len(res.Header["Connection"]) > 0 {
			return
		}
		names, complete := hc.finalNames()
		if !complete {
			return
		}
		for _, n := range names {
			if !strings.EqualFold(n, "close") {
				res.Header.Del(n)
			}
		}
	}
}
