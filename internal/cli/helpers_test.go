package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/internal/syncbuf"
)

// running is a Main running in the background.
type running struct {
	stdout, stderr syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan int
}

func startMain(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &running{cancel: cancel, done: make(chan int, 1)}
	go func() { c.done <- Main(ctx, args, &c.stdout, &c.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			t.Errorf("earlyhints %s did not stop within 15s", strings.Join(args, " "))
		}
	})
	return c
}

// waitOutput waits until stdout matches re and returns the first submatch.
func (c *running) waitOutput(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(c.stdout.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-c.done:
			t.Fatalf("command exited with %d before printing %v\nstdout: %s\nstderr: %s", code, re, c.stdout.String(), c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no output matching %v within 20s\nstdout: %s\nstderr: %s", re, c.stdout.String(), c.stderr.String())
	return ""
}

// stop cancels the command and returns its exit code.
func (c *running) stop(t *testing.T) int {
	t.Helper()
	c.cancel()
	select {
	case code := <-c.done:
		c.done <- code // for the cleanup
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("command did not stop within 15s")
	}
	return -1
}

// navigation is what a client saw of one page load.
type navigation struct {
	status int
	hints  []http.Header // 103 responses, in order
	body   string
}

// navigate loads url as a browser navigation over HTTP/2, trusting any
// certificate (the command generates a new one each start).
func navigate(t *testing.T, url string) navigation {
	t.Helper()
	return navigateHost(t, url, "")
}

// navigateHost is navigate with the Host header set to host (when not "").
func navigateHost(t *testing.T, url, host string) navigation {
	t.Helper()
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a test client of a generated certificate
	defer tr.CloseIdleConnections()
	var (
		mu  sync.Mutex
		nav navigation
	)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			if code == http.StatusEarlyHints {
				nav.hints = append(nav.hints, http.Header(h).Clone())
			}
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	_ = res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	nav.status, nav.body = res.StatusCode, body.String()
	return nav
}
