// Command idleconns opens many idle HTTP/2 connections to a server and
// reports what they cost it in resident memory: each connection makes one
// request, as a browser's does, then stays open doing nothing.
//
//	idleconns -addr 127.0.0.1:8443 -pid 1234 -n 10000
//
// It is a bench tool, run by hand (bench/README.md); the server's RSS is
// read from /proc/PID/status before the first dial and after the last
// connection's request, once the server settled.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("idleconns", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "the server's TLS address")
	pids := fs.String("pid", "", "the server's process IDs, comma-separated (nginx: master and workers), for their RSS (required)")
	n := fs.Int("n", 10000, "connections to open")
	path := fs.String("path", "/", "the path each connection requests once")
	parallel := fs.Int("parallel", 64, "connections opened at once")
	settle := fs.Duration("settle", 5*time.Second, "wait after the last connection before reading RSS")
	hold := fs.Duration("hold", 0, "keep the connections open this long after reporting (to profile the server)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pids == "" {
		return errors.New("-pid is required: the server processes whose memory to read")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	before, err := rss(*pids)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		// A bench against its own server, whose certificate is
		// self-signed: nothing to verify it with.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		Protocols:       new(http.Protocols),
	}
	tr.Protocols.SetHTTP2(true)
	var (
		mu    sync.Mutex
		conns []*http.ClientConn
		first error
		sem   = make(chan struct{}, *parallel)
		wg    sync.WaitGroup
	)
	for range *n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cc, err := open(ctx, tr, *addr, *path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			conns = append(conns, cc)
		}()
	}
	wg.Wait()
	defer func() {
		for _, cc := range conns {
			_ = cc.Close()
		}
	}()
	if first != nil {
		return fmt.Errorf("%d of %d connections open: %w (raise ulimit -n on both sides?)", len(conns), *n, first)
	}
	time.Sleep(*settle)
	after, err := rss(*pids)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "connections %d\nrss before %d KiB\nrss after %d KiB\nper connection %.1f KiB\n",
		len(conns), before, after, float64(after-before)/float64(len(conns)))
	time.Sleep(*hold)
	return nil
}

// open dials one TLS connection, speaks HTTP/2 on it and makes one request.
func open(ctx context.Context, tr *http.Transport, addr, path string) (*http.ClientConn, error) {
	cc, err := tr.NewClientConn(ctx, "https", addr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		cc.Close()
		return nil, err
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := cc.RoundTrip(req)
	if err != nil {
		cc.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return cc, nil
}

// rss sums VmRSS of the comma-separated pids, in KiB.
func rss(pids string) (int64, error) {
	var total int64
	for pid := range strings.SplitSeq(pids, ",") {
		b, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/status")
		if err != nil {
			return 0, fmt.Errorf("read the server's memory: %w", err)
		}
		found := false
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("VmRSS of %s: %w", pid, err)
				}
				total, found = total+kb, true
			}
		}
		if !found {
			return 0, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
		}
	}
	return total, nil
}
