package browser

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/site"
)

// TestLoad_LabSiteProfiles loads the lab's built-in page profiles, with
// every third-party origin routed to the same test server, and checks the
// model fetches every resource the HTML and stylesheets reference.
func TestLoad_LabSiteProfiles(t *testing.T) {
	for _, name := range site.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			p, err := site.ProfileByName(name)
			if err != nil {
				t.Fatal(err)
			}
			st, err := site.New(p, site.Options{Think: -1})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(st)
			srv.EnableHTTP2 = true
			srv.StartTLS()
			t.Cleanup(srv.Close)
			addr := srv.Listener.Addr().String()
			cfg := Config{
				Proto: H2,
				// Third-party names are not in the test certificate.
				TLS: &tls.Config{InsecureSkipVerify: true},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				},
				Timeout: 20 * time.Second,
			}
			res, err := Load(context.Background(), srv.URL+"/", cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Entries {
				if e.Error != "" || e.Status >= 400 {
					t.Errorf("%s: status %d error %q", e.URL, e.Status, e.Error)
				}
			}
			fetched := map[string]bool{}
			for _, e := range res.Entries {
				fetched[e.URL] = true
			}
			for _, r := range p.Resources {
				if r.Where == site.WhereInjected || r.Where == site.WhereImport {
					continue // needs script execution
				}
				u := r.URL()
				if r.ThirdParty == "" {
					u = srv.URL + r.Path
				}
				if !fetched[u] {
					t.Errorf("%s (%s, %s) not fetched", u, r.Type, r.Where)
				}
			}
			if res.RenderTime > res.LoadTime || res.Connections < 1 {
				t.Errorf("render %v load %v connections %d", res.RenderTime, res.LoadTime, res.Connections)
			}
		})
	}
}
