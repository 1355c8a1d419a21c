package proxy_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/earlyhints/earlyhints/proxy"
)

// TestHostileClient_RapidReset plays the rapid reset attack with a raw
// HTTP/2 framer: thousands of HEADERS each followed by RST_STREAM. The
// connection gets GOAWAY, few requests reach the origin, and every one is
// logged as the client's cancellation, never as a 502.
func TestHostileClient_RapidReset(t *testing.T) {
	origin := startRawOrigin(t, func(o *rawOrigin, _ net.Conn, _ *http.Request) bool {
		<-o.release // thinks forever: only a reset ends a request
		return false
	})
	logs, logger := capture()
	s := startStack(t, origin.url(), stackOptions{logger: logger})
	conn := dialTLS(t, s, "h2")
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	goAway := make(chan *http2.GoAwayFrame, 1)
	go func() {
		defer close(goAway)
		// A bound on the whole exchange, not an assertion on its speed.
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		rd := http2.NewFramer(nil, conn)
		for {
			f, err := rd.ReadFrame()
			if err != nil {
				return
			}
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				goAway <- ga
				return
			}
		}
	}()
	const streams = 5000
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	sent := 0
	for i := range streams {
		id := uint32(2*i + 1)
		block.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", s.srv.Addr()}, {":path", "/r"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			break // the server closed the connection after its GOAWAY
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
		sent++
	}
	ga, ok := <-goAway
	if !ok {
		t.Fatalf("no GOAWAY after %d reset streams", sent)
	}
	_ = conn.Close()
	_ = s.stop(t)
	reached := origin.requests.Load()
	t.Logf("%d streams reset, GOAWAY (%v) after stream %d, %d requests reached the origin", sent, ga.ErrCode, ga.LastStreamID, reached)
	if reached > streams/5 {
		t.Errorf("%d of %d reset requests reached the origin", reached, sent)
	}
	for _, l := range logLines(t, logs, "request") {
		if l["outcome"] != proxy.OutcomeClientCancelled || l["status"] != 499.0 {
			t.Fatalf("access log %v, want outcome client-cancelled, status 499", l)
		}
	}
}

// TestHostileClient_HTTP3ResetRequestStream: an HTTP/3 client that resets
// its request stream's sending side while the proxy forwards its body is
// the client's cancellation: never a 5xx, never a warning that the origin
// failed.
func TestHostileClient_HTTP3ResetRequestStream(t *testing.T) {
	arrived := make(chan struct{}, 8)
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			// The body was cut short: no answer to a request it did
			// not get whole.
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	logs, logger := capture()
	s := startStack(t, origin, stackOptions{logger: logger, proxy: proxy.Config{Logger: logger}})
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: s.srv.CertPool()}}
	t.Cleanup(func() { _ = tr.Close() })
	const resets = 3
	for i := range resets {
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, fmt.Sprintf("https://%s/upload/%d", s.srv.Addr(), i), pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 1 << 20 // announced, never sent whole
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := pw.Write([]byte("the start of an upload")); err != nil {
				return
			}
			<-arrived // the proxy is forwarding the body to the origin
			// The client's transport answers a failing body by resetting
			// the stream's sending side (H3_REQUEST_CANCELLED).
			_ = pw.CloseWithError(errors.New("the user gave up the upload"))
		}()
		res, err := tr.RoundTrip(req)
		<-done
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode >= 500 {
				t.Errorf("reset %d: status %d, want none (the client cancelled)", i, res.StatusCode)
			}
		}
	}
	_ = s.stop(t)
	lines := logLines(t, logs, "request")
	if len(lines) != resets {
		t.Fatalf("%d access log lines, want %d:\n%s", len(lines), resets, logs.String())
	}
	for _, l := range lines {
		if l["outcome"] != proxy.OutcomeClientCancelled || l["status"] != 499.0 {
			t.Errorf("access log %v, want outcome client-cancelled, status 499", l)
		}
	}
	if strings.Contains(logs.String(), "origin failed") {
		t.Errorf("a client's reset was logged as the origin's failure:\n%s", logs.String())
	}
}
