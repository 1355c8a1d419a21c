package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/earlyhints/earlyhints/server"
)

// A command serves a handler until SIGINT/SIGTERM, reloads its certificate on
// SIGHUP and writes its state once the last request has finished. Here one
// request is made to it, then it is stopped as SIGINT would stop it.
func Example() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello over", r.Proto)
	})
	srv, err := server.New(handler, server.Config{
		Addr: "127.0.0.1:0", // a generated certificate is fine on loopback
		OnShutdown: []func(context.Context) error{
			func(ctx context.Context) error {
				fmt.Println("state written") // the hint store snapshot, say
				return nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// To look at it in a browser that trusts the generated key:
	log.Printf("chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=%s --origin-to-force-quic-on=%s %s",
		server.SPKIHash(srv.Certificate()), srv.Addr(), srv.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = srv.Reload() // a failed reload is logged and keeps the old certificate
		}
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	// A client that trusts the generated certificate, over HTTP/2.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: srv.CertPool()},
		ForceAttemptHTTP2: true,
	}}
	res, err := client.Get(srv.URL() + "/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	fmt.Print(string(body))

	stop() // as SIGINT would
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// hello over HTTP/2.0
	// state written
}
