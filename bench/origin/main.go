// Package main is the origin that bench/compare.sh puts behind every proxy: a
// page that thinks before answering and the two files its head references.
//
// It serves plain HTTP/1.1 on -listen for the proxies and, when -tls-listen
// is set, HTTPS with HTTP/2 for the direct-to-origin baseline, so the client
// side of the baseline speaks the same protocol as through a proxy.
//
//	origin -listen 127.0.0.1:9000 -tls-listen 127.0.0.1:9001 -cert c.pem -key k.pem -think 50ms
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const page = `<!doctype html>
<html><head>
<meta charset="utf-8">
<title>bench</title>
<link rel="stylesheet" href="/s.css">
<script src="/app.js"></script>
</head><body>
<h1>bench</h1>
<p>A page whose stylesheet and script are worth hinting while the server thinks.</p>
</body></html>
`

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address of the plain HTTP/1.1 listener the proxies forward to")
	tlsListen := flag.String("tls-listen", "", "address of the HTTPS (HTTP/2) listener for direct measurements (empty: none)")
	cert := flag.String("cert", "", "certificate file (PEM) for -tls-listen")
	key := flag.String("key", "", "private key file (PEM) for -tls-listen")
	think := flag.Duration("think", 50*time.Millisecond, "time the page takes before its response headers, as an application would")
	pageBytes := flag.Int("page-bytes", 0, "pad the page's body with a comment to this many `bytes` (0: the bare page)")
	flag.Parse()
	body := []byte(padded(page, *pageBytes))
	if *tlsListen != "" && (*cert == "" || *key == "") {
		fmt.Fprintln(os.Stderr, "origin: -tls-listen needs -cert and -key; pass both PEM files")
		os.Exit(2)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// Sleep rather than spin: the think time stands for a database or an
		// upstream call, which costs the server wall time, not CPU.
		t := time.NewTimer(*think)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=0")
		_, _ = w.Write(body)
	})
	asset := func(ctype, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = w.Write([]byte(body))
		}
	}
	mux.HandleFunc("GET /s.css", asset("text/css", "body{font-family:sans-serif;color:#222}\n"))
	mux.HandleFunc("GET /app.js", asset("text/javascript", "document.documentElement.dataset.bench='1';\n"))

	plain := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	secure := &http.Server{Addr: *tlsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- plain.ListenAndServe() }()
	if *tlsListen != "" {
		go func() { errc <- secure.ListenAndServeTLS(*cert, *key) }()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			slog.Error("origin stopped", "err", err)
			os.Exit(1)
		}
	case <-sig:
	}
	_ = plain.Close()
	_ = secure.Close()
}

// padded returns page grown to size bytes by a comment before </body>, so a
// bigger page costs the proxies bytes to copy but nothing new to hint.
func padded(page string, size int) string {
	const open, closing = "<!--", "-->\n"
	pad := size - len(page) - len(open) - len(closing)
	if pad <= 0 {
		return page
	}
	filler := strings.Repeat("padding padding padding padding padding padding padding padding\n", pad/64+1)[:pad]
	i := strings.LastIndex(page, "</body>")
	return page[:i] + open + filler + closing + page[i:]
}
