// Command stockproxy is the baseline bench/compare.sh measures earlyhints
// against: net/http's httputil.ReverseProxy as it comes, over TLS and
// HTTP/2, hinting nothing, with one access log line per request to stderr
// as every target of the bench writes one.
//
//	stockproxy -listen 127.0.0.1:8444 -origin http://127.0.0.1:9000 -cert c.pem -key k.pem
package main

import (
	"flag"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8444", "TLS address to serve")
	origin := flag.String("origin", "http://127.0.0.1:9000", "origin URL")
	cert := flag.String("cert", "", "certificate file (PEM)")
	key := flag.String("key", "", "private key file (PEM)")
	flag.Parse()
	u, err := url.Parse(*origin)
	if err != nil {
		slog.Error("bad -origin", "err", err)
		os.Exit(2)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
	}}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rp.ServeHTTP(w, r)
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "proto", r.Proto, "total_ms", time.Since(start).Seconds()*1000)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServeTLS(*cert, *key); err != nil {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
