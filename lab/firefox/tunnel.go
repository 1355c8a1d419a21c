package firefox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Tunnel is a loopback HTTPS proxy that answers a CONNECT to one of its
// hosts with a tunnel to one address: with Config.Proxy set to its Addr, a
// page's third-party hosts (https://cdn.example) reach a lab server
// listening on another port, as Chromium's --host-resolver-rules does. TLS
// stays end to end between browser and server. A CONNECT to any other host
// (the browser's own services) is refused, so that it never reaches the
// server under test.
type Tunnel struct {
	ln     net.Listener
	hosts  map[string]bool
	dial   func(ctx context.Context) (net.Conn, error)
	logger *slog.Logger
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// NewTunnel starts a tunnel for hosts (names, any port) to the address
// dial connects to.
func NewTunnel(hosts []string, dial func(ctx context.Context) (net.Conn, error), logger *slog.Logger) (*Tunnel, error) {
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("firefox: tunnel listener: %w", err)
	}
	t := &Tunnel{ln: ln, hosts: map[string]bool{}, dial: dial, logger: logger, conns: map[net.Conn]bool{}}
	for _, h := range hosts {
		t.hosts[strings.ToLower(h)] = true
	}
	t.wg.Add(1)
	go t.serve()
	return t, nil
}

// Addr is the tunnel's host:port, for Config.Proxy.
func (t *Tunnel) Addr() string { return t.ln.Addr().String() }

func (t *Tunnel) serve() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		if !t.track(c, true) {
			c.Close()
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer t.track(c, false)
			t.handle(c)
		}()
	}
}

func (t *Tunnel) track(c net.Conn, add bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if add {
		if t.closed {
			return false
		}
		t.conns[c] = true
	} else {
		delete(t.conns, c)
	}
	return true
}

func (t *Tunnel) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if host, _, err := net.SplitHostPort(req.Host); err != nil || !t.hosts[strings.ToLower(host)] {
		t.logger.Debug("firefox: tunnel refused", "host", req.Host)
		_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	up, err := t.dial(ctx)
	cancel()
	if err != nil {
		t.logger.Debug("firefox: tunnel dial", "host", req.Host, "err", err)
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	// TLS has its own close: when either side ends, both connections do.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up, br) // what the reader buffered goes first
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, up)
		done <- struct{}{}
	}()
	<-done
	c.Close()
	up.Close()
	<-done
}

// Close stops the tunnel and its connections.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	err := t.ln.Close()
	t.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
