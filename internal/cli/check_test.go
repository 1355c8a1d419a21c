package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/inspect"
	"github.com/earlyhints/earlyhints/server"
)

// checkPage is a page with a stylesheet and a script on its critical path.
const checkPage = `<!doctype html><html><head><link rel=stylesheet href=/s.css><script src=/a.js></script></head><body>hi</body></html>`

// checkOrigin serves checkPage over h1, h2 and h3; hints are the Link
// values of the 103 it sends first (none when empty).
func checkOrigin(t *testing.T, hints ...string) *server.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = io.WriteString(w, "/* */")
			return
		}
		if len(hints) > 0 {
			w.Header()["Link"] = hints
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, checkPage)
	})
	srv := serveOnLoopback(t, h)
	return srv
}

// serveOnLoopback serves h over h1, h2 and h3 on a loopback port with a
// generated certificate until the end of the test.
func serveOnLoopback(t *testing.T, h http.Handler) *server.Server {
	t.Helper()
	srv, err := server.New(h, server.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	serveUntilCleanup(t, srv)
	return srv
}

func serveUntilCleanup(t *testing.T, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Close()
		}
	})
}

// caFile writes srv's certificate where --ca-cert can read it.
func caFile(t *testing.T, srv *server.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, srv.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheck_FailOn(t *testing.T) {
	good := []string{"</s.css>; rel=preload; as=style", "</a.js>; rel=preload; as=script"}
	none := checkOrigin(t)                                                        // no-103: a warning
	broken := checkOrigin(t, append(good, "</f.woff2>; rel=preload; as=font")...) // font-missing-crossorigin: an error
	fine := checkOrigin(t, good...)
	tests := []struct {
		srv  *server.Server
		args []string
		want int
	}{
		{none, nil, exitOK},
		{none, []string{"--fail-on", "error"}, exitOK},
		{none, []string{"--fail-on", "warn"}, exitFindings},
		{broken, []string{"--fail-on", "error"}, exitFindings},
		{broken, []string{"--fail-on=warn"}, exitFindings},
		{fine, []string{"--fail-on", "warn"}, exitOK},
		{fine, []string{"--fail-on", "info"}, exitUsage},
	}
	for _, tt := range tests {
		args := append([]string{"check", tt.srv.URL() + "/", "--proto", "h2,h3", "--ca-cert", caFile(t, tt.srv)}, tt.args...)
		if code, out, errOut := runMain(args...); code != tt.want {
			t.Errorf("%s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, tt.want, out, errOut)
		}
	}
}

func TestCheck_Arguments(t *testing.T) {
	srv := checkOrigin(t)
	ca := caFile(t, srv)
	// The URL may come anywhere among the flags.
	for _, args := range [][]string{
		{"check", "--json", "--ca-cert", ca, "--proto", "h2", srv.URL() + "/"},
		{"check", "--ca-cert", ca, srv.URL() + "/", "--json", "--proto=h2", "-H", "X-Test: 1"},
	} {
		code, out, errOut := runMain(args...)
		var rep inspect.Report
		if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Results) != 1 {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	for _, tt := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"check"}, exitUsage, "give the URL"},
		{[]string{"check", "-H", "no colon", "https://x/"}, exitUsage, "Name: value"},
		{[]string{"check", "--proto", "h4", "https://127.0.0.1:1/"}, exitError, "h4"},
		{[]string{"check", "--ca-cert", "/nonexistent", "https://127.0.0.1:1/"}, exitError, "--ca-cert"},
		{[]string{"check", "ftp://example.com/"}, exitError, "https://example.com/"},
	} {
		code, out, errOut := runMain(tt.args...)
		if code != tt.want || !strings.Contains(out+errOut, tt.msg) {
			t.Errorf("%q: exit %d, want %d with %q\n%s%s", tt.args, code, tt.want, tt.msg, out, errOut)
		}
	}
}

func FuzzParseHeaderFlag(f *testing.F) {
	for _, s := range []string{"Cookie: a=b", "X:", ": v", "no colon", "A: b\r\nC: d", "Ümlaut: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := parseHeaderFlag(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(name+value, "\r\n\x00") || name == "" {
			t.Fatalf("parseHeaderFlag(%q) = %q, %q", s, name, value)
		}
	})
}

// TestCheck_ThroughProxy: a page the proxy has learned shows, over h2 and
// h3, exactly one 103 with its links and no error.
func TestCheck_ThroughProxy(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, checkPage)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = io.WriteString(w, "/* */")
	}))
	t.Cleanup(origin.Close)
	s := defaultSettings()
	s.Origin, s.Listen, s.HTTP3 = origin.URL, "127.0.0.1:0", true
	st := serveStack(t, s)
	base := st.srv.URL()
	navigate(t, base+"/") // the first view teaches the proxy
	if missing := st.waitLearned(base, []string{"/"}, 20*time.Second); len(missing) > 0 {
		t.Fatal("the proxy did not learn the page")
	}

	code, out, errOut := runMain("check", "--json", "--proto", "h2,h3", "--ca-cert", caFile(t, st.srv), base+"/")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep inspect.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{"</s.css>; rel=preload; as=style", "</a.js>; rel=preload; as=script"}
	if len(rep.Results) != 2 {
		t.Fatalf("results %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Status != 200 || len(r.EarlyHints) != 1 || !slices.Equal(r.EarlyHints[0].Links, want) {
			t.Errorf("%s: status %d, 103s %+v, want one with %q", r.Proto, r.Status, r.EarlyHints, want)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity == inspect.SeverityError {
			t.Errorf("error finding %+v", f)
		}
	}
}

// TestCheck_Learn runs check --learn as a user would: the text report ends
// with the 103 the proxy would send, and --json carries the same under
// "learn".
func TestCheck_Learn(t *testing.T) {
	srv := checkOrigin(t)
	url := "https://" + srv.Addr() + "/"
	code, out, errOut := runMain("check", "--insecure", "--proto", "h2", "--learn", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"The proxy would learn from the h2 response", "</s.css>; rel=preload; as=style", "</a.js>; rel=preload; as=script"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runMain("check", "--insecure", "--proto", "h2", "--learn", "--json", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep inspect.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Learn == nil || len(rep.Learn.Hints) != 2 || rep.Learn.LeftOut == nil {
		t.Errorf("learn = %+v, want the stylesheet and the script, and an empty left_out", rep.Learn)
	}
}

// TestCheck_MaxTime: check --max-time ends a check whose hinted files
// never answer although --timeout would wait an hour for each, and the
// report names the bound that cut them.
func TestCheck_MaxTime(t *testing.T) {
	var links []string
	for i := range 30 {
		links = append(links, "</never"+strconv.Itoa(i)+".css>; rel=preload; as=style")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			<-r.Context().Done()
			return
		}
		w.Header()["Link"] = links
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, checkPage)
	})
	srv := serveOnLoopback(t, h)
	code, out, errOut := runMain("check", "--json", "--proto", "h1", "--timeout", "1h", "--max-time", "1s", "--ca-cert", caFile(t, srv), srv.URL()+"/")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep inspect.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Results) != 1 || len(rep.Results[0].Targets) != inspect.MaxTargets {
		t.Fatalf("results %+v", rep.Results)
	}
	for _, tg := range rep.Results[0].Targets {
		if !strings.Contains(tg.Error, "--max-time") {
			t.Errorf("target %s: error %q, want the --max-time bound named", tg.URL, tg.Error)
		}
	}
}
