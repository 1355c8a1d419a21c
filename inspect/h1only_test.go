package inspect

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCheck_HTTP1Only: a server that speaks only HTTP/1.1 is told so,
// without an error for the protocols it does not offer.
func TestCheck_HTTP1Only(t *testing.T) {
	srv := httptest.NewUnstartedServer(site{before: hints103(goodHints)})
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused h2 handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	rep, err := Check(context.Background(), srv.URL+"/", Config{RootCAs: pool, HandshakeTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{Code103OnHTTP1, CodeH2Unavailable} {
		if m, others := byCode(rep, code); len(m) != 1 || m[0].Severity != SeverityWarn || len(others) > 0 {
			t.Errorf("%s: %v, other errors %v\n%s", code, m, others, dump(rep))
		}
	}
}
