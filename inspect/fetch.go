package inspect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// navigationHeader is what Chromium sends for a typed-in navigation.
var navigationHeader = http.Header{
	"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
	"Accept-Encoding":           {"gzip, deflate, br, zstd"},
	"Accept-Language":           {"en-US,en;q=0.9"},
	"Priority":                  {"u=0, i"},
	"Sec-Fetch-Dest":            {"document"},
	"Sec-Fetch-Mode":            {"navigate"},
	"Sec-Fetch-Site":            {"none"},
	"Sec-Fetch-User":            {"?1"},
	"Upgrade-Insecure-Requests": {"1"},
	"User-Agent":                {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"},
}

// errTooMany1xx stops a response that sends more informational responses
// than Max1xx.
var errTooMany1xx = fmt.Errorf("more than %d informational (1xx) responses", Max1xx)

// client is one protocol's transport.
type client struct {
	proto string
	rt    http.RoundTripper
	close func()
}

func newClient(proto string, cfg *Config) *client {
	tlsConf := &tls.Config{RootCAs: cfg.RootCAs, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // --insecure is the user's choice, like curl -k
	if proto == H3 {
		t := &http3.Transport{
			TLSClientConfig: tlsConf,
			QUICConfig: &quic.Config{
				HandshakeIdleTimeout: cfg.HandshakeTimeout,
				MaxIdleTimeout:       cfg.Timeout,
			},
			MaxResponseHeaderBytes: MaxHeaderBytes,
		}
		return &client{proto: proto, rt: t, close: func() { _ = t.Close() }}
	}
	var protos http.Protocols
	protos.SetHTTP1(proto != H2)
	protos.SetHTTP2(proto != H1) // "" (targets on other origins) speaks both
	d := &net.Dialer{Timeout: cfg.HandshakeTimeout}
	t := &http.Transport{
		Protocols:       &protos,
		TLSClientConfig: tlsConf,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c}, nil
		},
		TLSHandshakeTimeout:    cfg.HandshakeTimeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: MaxHeaderBytes,
		DisableCompression:     true, // the Accept-Encoding sent is Chromium's, and scan decodes
		Proxy:                  nil,
	}
	return &client{proto: proto, rt: t, close: t.CloseIdleConnections}
}

// interim is one informational response as it arrived.
type interim struct {
	status int
	at     time.Time
	header http.Header
}

// exchange is one request and what came back, with arrival times.
type exchange struct {
	sent     time.Time // the request was written
	interims []interim
	final    time.Time // the final headers arrived
	body     time.Time // the first byte of the body arrived
	resp     *http.Response
	raw      []byte // the start of the body, at most MaxBodyBytes
	err      error
}

func (e *exchange) ms(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Sub(e.sent).Microseconds()) / 1000
}

// do sends req and reads up to limit bytes of the body, all within
// timeout. The response's body is closed.
func (c *client) do(ctx context.Context, req *http.Request, timeout time.Duration, limit int64) *exchange {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex := &exchange{}
	var mu sync.Mutex
	start := time.Now()
	var conn *countingConn // the connection under TLS, and what it had read
	var readBefore int64
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			c := info.Conn
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if cc, ok := c.(*countingConn); ok {
				mu.Lock()
				defer mu.Unlock()
				conn, readBefore = cc, cc.read.Load()
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			mu.Lock()
			defer mu.Unlock()
			if ex.sent.IsZero() {
				ex.sent = time.Now()
			}
		},
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if len(ex.interims) >= Max1xx {
				return errTooMany1xx
			}
			ex.interims = append(ex.interims, interim{status: code, at: now, header: http.Header(h).Clone()})
			return nil
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	resp, err := c.rt.RoundTrip(req)
	now := time.Now()
	mu.Lock()
	defer mu.Unlock()
	if ex.sent.IsZero() {
		ex.sent = start
	}
	if err != nil {
		if !errors.Is(err, errTooMany1xx) && isTooMany1xx(err) {
			err = fmt.Errorf("%w: %w", errTooMany1xx, err)
		}
		if conn != nil && h2ProtocolError(err) && !headersTooLarge(err) {
			// Go's HTTP/2 framer ends the connection with PROTOCOL_ERROR
			// when a header block goes on past the bound: a connection
			// that carried a browser's whole header allowance (Chromium's
			// 256 KiB) without final headers had a block over the limit.
			if n := conn.read.Load() - readBefore; n >= MaxHeaderBytes/4 {
				err = fmt.Errorf("%w (%d bytes arrived without the final headers): %w", errHeadersTooLarge, n, err)
			}
		}
		ex.err = outOfTime(ctx, err)
		return ex
	}
	ex.final, ex.resp = now, resp
	defer func() {
		// Cancelling first: closing an HTTP/2 body waits for the stream's
		// end, which a server that keeps it open would make a hang.
		cancel()
		_ = resp.Body.Close()
	}()
	if limit > 0 {
		r := &firstByte{r: io.LimitReader(resp.Body, limit)}
		ex.raw, err = io.ReadAll(r)
		ex.body = r.at
		if err != nil && len(ex.raw) == 0 {
			ex.err = outOfTime(ctx, fmt.Errorf("reading the body: %w", err))
		}
	}
	return ex
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// maxTimeError is the cause of a check's context when Config.MaxTime has
// passed.
type maxTimeError struct{ d time.Duration }

func (e *maxTimeError) Error() string {
	return fmt.Sprintf("the check reached its bound on the whole (--max-time %s)", e.d)
}

// outOfTime names Config.MaxTime in err when it is what cut the request.
func outOfTime(ctx context.Context, err error) error {
	var mt *maxTimeError
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &mt) && !errors.As(err, &mt) {
		return fmt.Errorf("%w: %w", mt, err)
	}
	return err
}

// isTooMany1xx recognises the quic-go client's own 1xx limit.
func isTooMany1xx(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "too many 1xx") || strings.Contains(err.Error(), errTooMany1xx.Error()))
}

// firstByte records when the first byte was read.
type firstByte struct {
	r  io.Reader
	at time.Time
}

func (f *firstByte) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.at.IsZero() {
		f.at = time.Now()
	}
	return n, err
}
