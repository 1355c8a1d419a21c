// Command h3load is a bounded HTTP/3 load generator for bench/compare.sh,
// which h2load (Debian's has no HTTP/3) cannot be: -n requests over -c QUIC
// connections with -m concurrent streams each, on quic-go's client.
//
//	h3load -n 20000 -c 20 -m 10 -H 'accept: text/html' -insecure https://127.0.0.1:8443/
//
// It prints h2load's summary lines ("finished in", "requests:") so that the
// script reads both alike, and with -log-file one line per request as
// h2load's --log-file writes it: start (µs from the run's start), final
// status, duration to the end of the body (µs). The run stops after -n
// requests or -timeout, whichever comes first.
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// result is one request's outcome.
type result struct {
	start, dur time.Duration
	status     int // 0: the request failed
}

func main() {
	n := flag.Int("n", 1000, "requests in all")
	c := flag.Int("c", 10, "QUIC connections")
	m := flag.Int("m", 10, "concurrent streams per connection")
	timeout := flag.Duration("timeout", 2*time.Minute, "stop after this long even if requests remain")
	insecure := flag.Bool("insecure", false, "do not verify the server's certificate (a local bench)")
	logFile := flag.String("log-file", "", "write one line per request to `file`: start µs, status, duration µs")
	var headers headerFlags
	flag.Var(&headers, "H", "request header `name: value` (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 || *n < 1 || *c < 1 || *m < 1 {
		fmt.Fprintln(os.Stderr, "usage: h3load [-n N] [-c C] [-m M] [-H 'k: v'] [-insecure] [-log-file F] https://host:port/path")
		os.Exit(2)
	}
	target := flag.Arg(0)
	hdr := http.Header{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "h3load: header %q is not name: value\n", h)
			os.Exit(2)
		}
		hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var next atomic.Int64 // requests handed out
	results := make([]result, *n)
	begin := time.Now()
	var wg sync.WaitGroup
	for range *c {
		// One Transport per connection: each holds one QUIC connection to
		// the target, as h2load's clients each hold one.
		tr := &http3.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: *insecure}, //nolint:gosec // -insecure is for a local bench's self-signed certificate
			QUICConfig:      &quic.Config{KeepAlivePeriod: 10 * time.Second},
		}
		client := &http.Client{Transport: tr}
		var cw sync.WaitGroup
		for range *m {
			cw.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(*n) || ctx.Err() != nil {
						return
					}
					results[i] = fetch(ctx, client, target, hdr, begin)
				}
			})
		}
		wg.Go(func() {
			cw.Wait()
			_ = tr.Close()
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	report(os.Stdout, results[:min(int(next.Load()), *n)], elapsed)
	if *logFile != "" {
		if err := writeLog(*logFile, results[:min(int(next.Load()), *n)]); err != nil {
			fmt.Fprintf(os.Stderr, "h3load: %v\n", err)
			os.Exit(1)
		}
	}
}

func fetch(ctx context.Context, client *http.Client, target string, hdr http.Header, begin time.Time) result {
	start := time.Now()
	r := result{start: start.Sub(begin)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return r
	}
	req.Header = hdr.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return r
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	r.dur = time.Since(start)
	if err == nil || errors.Is(err, io.EOF) {
		r.status = resp.StatusCode
	}
	return r
}

// report prints what compare.sh reads from h2load: the rate line and the
// request counts, then latencies.
func report(w io.Writer, rs []result, elapsed time.Duration) {
	ok, failed := 0, 0
	var durs []time.Duration
	for _, r := range rs {
		if r.status >= 200 && r.status < 300 {
			ok++
		} else {
			failed++
		}
		if r.status != 0 {
			durs = append(durs, r.dur)
		}
	}
	secs := elapsed.Seconds()
	fmt.Fprintf(w, "finished in %.2fs, %.2f req/s\n", secs, float64(ok)/secs)
	// The same columns as h2load: the 10th field is the failed count.
	fmt.Fprintf(w, "requests: %d total, %d started, %d done, %d succeeded, %d failed, %d errored, 0 timeout\n",
		len(rs), len(rs), len(rs), ok, failed, failed)
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	var sum time.Duration
	for _, d := range durs {
		sum += d
	}
	q := func(p float64) time.Duration { return durs[min(len(durs)-1, int(p*float64(len(durs))))] }
	fmt.Fprintf(w, "time for request: mean %v, p50 %v, p99 %v, max %v\n",
		(sum / time.Duration(len(durs))).Round(time.Microsecond), q(0.50).Round(time.Microsecond),
		q(0.99).Round(time.Microsecond), durs[len(durs)-1].Round(time.Microsecond))
}

func writeLog(path string, rs []result) error {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d\t%d\t%d\n", r.start.Microseconds(), r.status, r.dur.Microseconds())
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
