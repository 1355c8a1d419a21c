package inspect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCheck_BadInput: whatever the other end does, the check ends with a
// finding that names it, within its deadlines.
func TestCheck_BadInput(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()

	// A UDP socket that swallows every packet: a QUIC handshake that
	// never completes.
	blackhole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = blackhole.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := blackhole.ReadFrom(buf); err != nil {
				return
			}
		}
	}()

	hanging := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	good := startOrigin(t, site{before: hints103(goodHints)})
	huge := strings.Repeat("x", 10<<20)
	hugeHeaders := startOrigin(t, site{before: func(w http.ResponseWriter, r *http.Request) int {
		w.Header().Set("X-Huge", huge)
		return http.StatusOK
	}})
	huge103 := startOrigin(t, site{before: func(w http.ResponseWriter, r *http.Request) int {
		hints103([]string{"</" + huge + ">; rel=preload; as=style"})(w, r)
		return http.StatusOK
	}})

	// Over the bound in many fields rather than one: HTTP/2 sees the
	// header block go on in CONTINUATION frames past it.
	manyFields := startOrigin(t, site{before: func(w http.ResponseWriter, r *http.Request) int {
		for i := range 3000 {
			w.Header().Set(fmt.Sprintf("X-Field-%d", i), strings.Repeat("y", 500))
		}
		return http.StatusOK
	}})
	manyLinks := startOrigin(t, site{before: func(w http.ResponseWriter, r *http.Request) int {
		var links []string
		for i := range 3000 {
			links = append(links, fmt.Sprintf("</%d-%s.css>; rel=preload; as=style", i, strings.Repeat("y", 500)))
		}
		return hints103(links)(w, r)
	}})
	// A TCP port that accepts and never says a word: a TLS handshake that
	// never completes.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mute.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	tests := []struct {
		name  string
		url   string
		cfg   Config
		codes map[string]string // proto → code of its error finding
	}{
		{
			"10 MB of response headers", hugeHeaders.URL() + "/",
			Config{RootCAs: hugeHeaders.CertPool()},
			map[string]string{H1: CodeHeadersTooLarge, H2: CodeHeadersTooLarge, H3: CodeHeadersTooLarge},
		},
		{
			"10 MB 103", huge103.URL() + "/",
			Config{RootCAs: huge103.CertPool()},
			map[string]string{H1: CodeHeadersTooLarge, H2: CodeHeadersTooLarge, H3: CodeHeadersTooLarge},
		},
		{
			"1.5 MB of response headers in 3000 fields", manyFields.URL() + "/",
			Config{RootCAs: manyFields.CertPool()},
			map[string]string{H1: CodeHeadersTooLarge, H2: CodeHeadersTooLarge, H3: CodeHeadersTooLarge},
		},
		{
			"1.5 MB 103 in 3000 links", manyLinks.URL() + "/",
			Config{RootCAs: manyLinks.CertPool()},
			map[string]string{H1: CodeHeadersTooLarge, H2: CodeHeadersTooLarge, H3: CodeHeadersTooLarge},
		},
		{
			"TLS never answers, the handshake deadline first", "https://" + mute.Addr().String() + "/",
			Config{Protos: []string{H1, H2}, Timeout: 2 * time.Second, HandshakeTimeout: 300 * time.Millisecond},
			map[string]string{H1: CodeTimeout, H2: CodeTimeout},
		},
		{
			"TLS never answers, the request deadline first", "https://" + mute.Addr().String() + "/",
			Config{Protos: []string{H1, H2}, Timeout: 300 * time.Millisecond, HandshakeTimeout: 2 * time.Second},
			map[string]string{H1: CodeTimeout, H2: CodeTimeout},
		},
		{
			"unreachable", "https://" + closed + "/",
			Config{Protos: []string{H1, H2}},
			map[string]string{H1: CodeUnreachable, H2: CodeUnreachable},
		},
		{
			"untrusted certificate", good.URL() + "/",
			Config{},
			map[string]string{H1: CodeTLSError, H2: CodeTLSError, H3: CodeTLSError},
		},
		{
			"h3 handshake timeout", "https://" + blackhole.LocalAddr().String() + "/",
			Config{Protos: []string{H3}, HandshakeTimeout: 300 * time.Millisecond},
			map[string]string{H3: CodeTimeout},
		},
		{
			"server never answers", hanging.URL() + "/",
			Config{RootCAs: hanging.CertPool(), Timeout: 300 * time.Millisecond},
			map[string]string{H1: CodeTimeout, H2: CodeTimeout, H3: CodeTimeout},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Check(context.Background(), tt.url, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range rep.Findings {
				if f.Severity == SeverityError {
					got[f.Proto] = f.Code
				}
			}
			if len(got) != len(tt.codes) {
				t.Errorf("errors %v, want %v\n%s", got, tt.codes, dump(rep))
			}
			for p, c := range tt.codes {
				if got[p] != c {
					t.Errorf("%s: %q, want %q\n%s", p, got[p], c, dump(rep))
				}
			}
		})
	}
}

func TestCheck_BadURL(t *testing.T) {
	for _, u := range []string{"", "example.com", "ftp://example.com/", "https://user:pw@example.com/", "https:///x", "%"} {
		_, err := Check(context.Background(), u, Config{})
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), "https://example.com/") {
			t.Errorf("Check(%q) = %v, want ErrBadURL saying what to give", u, err)
		}
	}
	if _, err := Check(context.Background(), "https://example.com/", Config{Protos: []string{"h4"}}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("h4: %v", err)
	}
}

// TestCheck_HTTP: an http:// page is checked over HTTP/1.1 and the report
// says why not more.
func TestCheck_HTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: site{}, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rep, err := Check(context.Background(), "http://"+ln.Addr().String()+"/", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Proto != H1 || rep.Results[0].Status != 200 {
		t.Errorf("results %+v", rep.Results)
	}
	if m, others := byCode(rep, CodeNotHTTPS); len(m) != 1 || len(others) > 0 {
		t.Errorf("%s", dump(rep))
	}
}

func TestNavigationRequest_Host(t *testing.T) {
	u, _ := parseTarget("https://127.0.0.1:8443/")
	req := navigationRequest(u, http.Header{"host": {"www.example.test"}, "Cookie": {"a=b"}})
	if req.Host != "www.example.test" || req.Header.Get("Cookie") != "a=b" || req.Header.Get("Sec-Fetch-Mode") != "navigate" {
		t.Errorf("request %s %v", req.Host, req.Header)
	}
}
