package firefox

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/server"
)

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"h1 and h3", Config{HTTP1: true, HTTP3Origins: map[string]string{"a:1": "a:1"}}, false},
		{"negative timeout", Config{Timeout: -time.Second}, false},
		{"h3 origin without port", Config{HTTP3Origins: map[string]string{"a": "a:1"}}, false},
		{"h3 address without port", Config{HTTP3Origins: map[string]string{"a:1": "a"}}, false},
		{"proxy without port", Config{Proxy: "127.0.0.1"}, false},
		{"proxy", Config{Proxy: "127.0.0.1:8080"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Errorf("error %v is not ErrBadConfig", err)
			}
		})
	}
}

func TestPrefs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want map[string]any
	}{
		{"zero", Config{}, map[string]any{
			"network.early-hints.enabled": true, "network.early-hints.preconnect.enabled": true,
			"network.http.http3.enable": false, "network.proxy.type": 0, "app.update.auto": false,
			"toolkit.telemetry.enabled": false, "browser.safebrowsing.malware.enabled": false,
			"network.captive-portal-service.enabled": false, "app.normandy.enabled": false,
			"xpinstall.signatures.required": false,
		}},
		{"without early hints", Config{DisableEarlyHints: true}, map[string]any{
			"network.early-hints.enabled": false, "network.early-hints.preconnect.enabled": false,
		}},
		{"h3", Config{HTTP3Origins: map[string]string{"127.0.0.1:443": "127.0.0.1:4433"}}, map[string]any{
			"network.http.http3.enable":                                true,
			"network.http.http3.alt-svc-mapping-for-testing":           "127.0.0.1;h3=:4433",
			"network.http.http3.force-use-alt-svc-mapping-for-testing": true,
			"network.http.http3.disable_when_third_party_roots_found":  false,
		}},
		{"h1", Config{HTTP1: true}, map[string]any{"network.http.http2.enabled": false}},
		{"proxy", Config{Proxy: "127.0.0.1:3128"}, map[string]any{
			"network.proxy.type": 1, "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 3128,
		}},
		{"extra prefs win", Config{Prefs: map[string]any{"network.early-hints.enabled": false}}, map[string]any{
			"network.early-hints.enabled": false,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Prefs(tt.cfg)
			for k, v := range tt.want {
				if p[k] != v {
					t.Errorf("%s = %v, want %v", k, p[k], v)
				}
			}
		})
	}
	js := userJS(Config{})
	for _, line := range []string{`user_pref("network.early-hints.enabled", true);`, `user_pref("network.trr.mode", 5);`, `user_pref("toolkit.telemetry.server", "");`} {
		if !strings.Contains(js, line) {
			t.Errorf("user.js lacks %s", line)
		}
	}
}

func TestExtension(t *testing.T) {
	xpi, err := extension("http://127.0.0.1:1/report/abc")
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(xpi), int64(len(xpi)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		files[f.Name] = string(b)
	}
	var manifest struct {
		Gecko struct {
			Gecko struct{ ID string } `json:"gecko"`
		} `json:"browser_specific_settings"`
		ContentScripts []struct {
			Matches []string `json:"matches"`
			RunAt   string   `json:"run_at"`
		} `json:"content_scripts"`
	}
	if err := json.Unmarshal([]byte(files["manifest.json"]), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Gecko.Gecko.ID != extensionID || len(manifest.ContentScripts) != 1 || manifest.ContentScripts[0].RunAt != "document_start" {
		t.Errorf("manifest %s", files["manifest.json"])
	}
	for _, want := range []string{`const REPORT = "http://127.0.0.1:1/report/abc"`, `const NEXT = "http://127.0.0.1:1/next/abc"`} {
		if !strings.Contains(files["background.js"], want) {
			t.Errorf("background.js lacks %s:\n%s", want, files["background.js"])
		}
	}
	if !strings.Contains(files["content.js"], "getEntriesByType('resource')") {
		t.Error("content.js reads no Resource Timing")
	}
}

// TestCollector_Report: the collector serves the page to load, hands the
// first report to Navigate's wait, and refuses a post without its token.
func TestCollector_Report(t *testing.T) {
	c, err := newCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	reports := c.expect("https://127.0.0.1:1/page")
	defer c.done()
	resp, err := http.Get(strings.Replace(c.url(), "/report/", "/next/", 1))
	if err != nil {
		t.Fatal(err)
	}
	next, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(next) != "https://127.0.0.1:1/page" {
		t.Errorf("next page %q", next)
	}
	bad, err := http.Post(strings.TrimSuffix(c.url(), c.token)+"wrong", "text/plain", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusNotFound {
		t.Errorf("a post without the token: status %d", bad.StatusCode)
	}
	body := `{"url":"https://127.0.0.1:1/page","time_origin":1000,"navigation":{"responseEnd":50,"firstInterimResponseStart":10,"finalResponseHeadersStart":40},
"resources":[{"name":"https://127.0.0.1:1/a.css","initiatorType":"early-hints","requestStart":12},{"name":"https://127.0.0.1:1/b.js","initiatorType":"script","requestStart":45},{"name":"https://127.0.0.1:1/c.js","initiatorType":"link","requestStart":20}],"fcp_ms":60}`
	ok, err := http.Post(c.url(), "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ok.Body.Close()
	select {
	case r := <-reports:
		v, err := r.visit()
		if err != nil {
			t.Fatal(err)
		}
		if !v.GotEarlyHints() || v.FCP != 60 || len(v.Resources) != 3 {
			t.Errorf("visit %+v", v)
		}
		if got := strings.Join(v.EarlyHinted(), " "); got != "https://127.0.0.1:1/a.css https://127.0.0.1:1/c.js" {
			t.Errorf("EarlyHinted() = %s", got)
		}
		if at := v.At(time.UnixMilli(1100)); at != 100 {
			t.Errorf("At = %v, want 100", at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report delivered")
	}
}

// TestTunnel_Connect: a CONNECT to one of the tunnel's hosts reaches the
// one target, and bytes flow both ways; other hosts and other methods are
// refused.
func TestTunnel_Connect(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	tun, err := NewTunnel([]string{"cdn.example"}, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", echo.Addr().String())
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()

	c, err := net.Dial("tcp", tun.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "CONNECT cdn.example:443 HTTP/1.1\r\nHost: cdn.example:443\r\n\r\nping"); err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.1 200 Connection Established\r\n\r\nping"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %q: %v", got, err)
	}
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}

	for _, tc := range []struct{ req, want string }{
		{"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"},
		{"CONNECT firefox.settings.services.mozilla.com:443 HTTP/1.1\r\nHost: firefox.settings.services.mozilla.com:443\r\n\r\n", "HTTP/1.1 403"},
	} {
		g, err := net.Dial("tcp", tun.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = g.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(g, tc.req)
		line := make([]byte, 12)
		if _, err := io.ReadFull(g, line); err != nil || string(line) != tc.want {
			t.Errorf("%q: %q, %v; want %s", tc.req, line, err, tc.want)
		}
		g.Close()
	}
}

func TestOverrides(t *testing.T) {
	certPEM, _, err := server.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := overrides(dir, map[string][]byte{"cdn.example:443": certPEM}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cert_override.txt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, _ := x509.ParseCertificate(block.Bytes)
	fields := strings.Split(strings.Split(strings.TrimSpace(string(data)), "\n")[2], "\t")
	if len(fields) != 5 || fields[0] != "cdn.example:443:" || fields[1] != "OID.2.16.840.1.101.3.4.2.1" || len(fields[2]) != 32*3-1 || fields[4] != dbKey(cert) {
		t.Errorf("override line %q", fields)
	}
	for _, bad := range []map[string][]byte{{"cdn.example": certPEM}, {"cdn.example:443": []byte("not pem")}} {
		if err := overrides(dir, bad); !errors.Is(err, ErrBadConfig) {
			t.Errorf("overrides(%v) = %v, want ErrBadConfig", bad, err)
		}
	}
}

func TestFindBinary_Missing(t *testing.T) {
	t.Setenv("FIREFOX", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := FindBinary(Config{Binary: "/nonexistent/firefox"}); err != nil && !errors.Is(err, ErrNoBrowser) {
		t.Errorf("FindBinary = %v, want ErrNoBrowser or the installed browser", err)
	}
}

// FuzzReport_Visit: whatever a page posts, decoding it returns a visit or
// an error, and the visit's derived values do not panic.
func FuzzReport_Visit(f *testing.F) {
	f.Add([]byte(`{"url":"https://a/","navigation":{"responseEnd":5,"finalResponseHeadersStart":3},"resources":[{"name":"https://a/x","requestStart":1}]}`))
	f.Add([]byte(`{"resources":[{"name":7}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := report(data).visit()
		if err != nil {
			return
		}
		_ = v.EarlyHinted()
		_ = v.GotEarlyHints()
		for _, r := range v.Resources {
			_ = PathOf(r.Name)
		}
	})
}
