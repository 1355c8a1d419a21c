package server

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConnPath: a browser's own connection (HTTPS, HTTP/3) reports its
// round trip; cleartext HTTP/2, whose peer is a load balancer, reports
// nothing.
func TestConnPath(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rtt, bw := ConnPath(r)
		w.Header().Set("X-Rtt", strconv.FormatInt(int64(rtt), 10))
		w.Header().Set("X-Bandwidth", strconv.FormatInt(bw, 10))
	})
	s := start(t, h, Config{H2CAddr: "127.0.0.1:0"})
	tests := []struct {
		proto   string
		wantRTT bool
	}{
		{"h1", runtime.GOOS == "linux"},
		{"h2", runtime.GOOS == "linux"},
		{"h3", true},
		{"h2c", false},
	}
	for _, tt := range tests {
		t.Run(tt.proto, func(t *testing.T) {
			resp, _ := get(t, newClient(t, s.Server, tt.proto), s.baseURL(tt.proto)+"/") //nolint:bodyclose // get reads and closes the body
			rtt, _ := strconv.ParseInt(resp.Header.Get("X-Rtt"), 10, 64)
			bw, _ := strconv.ParseInt(resp.Header.Get("X-Bandwidth"), 10, 64)
			if (rtt > 0) != tt.wantRTT || rtt < 0 || bw < 0 {
				t.Errorf("ConnPath = %v, %d bit/s; want a round trip: %t", time.Duration(rtt), bw, tt.wantRTT)
			}
		})
	}
	if rtt, bw := ConnPath(&http.Request{}); rtt != 0 || bw != 0 {
		t.Errorf("ConnPath of a request from elsewhere = %v, %d; want zeros", rtt, bw)
	}
}

// TestConnPath_NoAllocs: reading the path on every navigation costs no
// allocation.
func TestConnPath_NoAllocs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is Linux's")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.WithValue(context.Background(), connPathKey{}, newTCPPath(c))
	r := (&http.Request{}).WithContext(ctx)
	if n := testing.AllocsPerRun(100, func() { ConnPath(r) }); n != 0 {
		t.Errorf("ConnPath allocates %v times, want 0", n)
	}
}

// TestServer_NotSentLowat: the HTTPS and h2c servers bound the unsent bytes
// of every accepted TCP connection.
func TestServer_NotSentLowat(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no TCP_NOTSENT_LOWAT here")
	}
	s, err := New(http.NotFoundHandler(), Config{Addr: "127.0.0.1:0", DisableHTTP3: true, H2CAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for name, srv := range map[string]*http.Server{"https": s.https, "h2c": s.h2c} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			accepted, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer accepted.Close()
			srv.ConnContext(context.Background(), accepted)
			rc, err := accepted.(*net.TCPConn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var got int
			var gerr error
			if err := rc.Control(func(fd uintptr) {
				got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
			}); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if got != notSentLowat {
				t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", got, notSentLowat)
			}
		})
	}
}
