package server_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/earlyhints/earlyhints/server"
)

// A command serves a handler until SIGINT/SIGTERM, reloads its certificate on
// SIGHUP and writes its state once the last request has finished.
func Example() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello over", r.Proto)
	})
	srv, err := server.New(handler, server.Config{
		Addr: "127.0.0.1:8443", // a generated certificate is fine on loopback
		OnShutdown: []func(context.Context) error{
			func(ctx context.Context) error { return nil /* write the hint store snapshot */ },
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("open", srv.URL())
	fmt.Printf("chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=%s --origin-to-force-quic-on=%s %s\n",
		server.SPKIHash(srv.Certificate()), srv.Addr(), srv.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = srv.Reload() // a failed reload is logged and keeps the old certificate
		}
	}()
	if err := srv.Serve(ctx); err != nil {
		log.Fatal(err)
	}
}
