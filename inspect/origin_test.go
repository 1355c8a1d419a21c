package inspect

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder keeps the protocol and the credential fields of every request
// a test origin receives.
type recorder struct {
	mu   sync.Mutex
	seen []string // "HTTP/2.0 /path cookie=… authorization=… x-token=…"
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Proto+" "+req.URL.Path+" cookie="+req.Header.Get("Cookie")+
			" authorization="+req.Header.Get("Authorization")+" x-token="+req.Header.Get("X-Token"))
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestCheck_FollowKeepsCredentialsOnOrigin: with --follow, the -H fields
// reach the origin asked and nothing else: not the page of a redirect to
// another origin (127.0.0.1:A → localhost:B), not the files that page or
// the first one hints on another origin, over h1, h2 and h3.
func TestCheck_FollowKeepsCredentialsOnOrigin(t *testing.T) {
	var other recorder
	elsewhere := startOrigin(t, other.wrap(site{before: hints103(goodHints)}))
	elsewhereURL := "https://localhost:" + portOf(t, elsewhere.URL()) + "/"

	var asked recorder
	first := startOrigin(t, asked.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = w.Write([]byte("/* */"))
			return
		}
		// A hint on the other origin and one on this origin, then away.
		w.Header()["Link"] = []string{"<" + elsewhereURL + "app.css>; rel=preload; as=style", "</own.js>; rel=preload; as=script"}
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		http.Redirect(w, r, elsewhereURL, http.StatusFound)
	})))

	hdr := http.Header{"Cookie": {"session=secret"}, "Authorization": {"Bearer secret"}, "X-Token": {"secret"}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net only
	defer cancel()
	rep, err := Check(ctx, first.URL()+"/", Config{Insecure: true, Follow: true, Header: hdr})
	if err != nil {
		t.Fatal(err)
	}
	hops := map[string]int{}
	for _, r := range rep.Results {
		if r.URL == elsewhereURL && r.Status == http.StatusOK {
			hops[r.Proto]++
		}
	}
	if hops[H1] != 1 || hops[H2] != 1 || hops[H3] != 1 {
		t.Fatalf("the redirect was not followed on every protocol: %v\n%s", hops, dump(rep))
	}
	for _, req := range other.requests() {
		if strings.Contains(req, "secret") {
			t.Errorf("another origin received the user's fields: %s", req)
		}
	}
	// The control: the origin asked got them, on its page and its own file.
	got := map[string]bool{}
	for _, req := range asked.requests() {
		if strings.Contains(req, "cookie=session=secret authorization=Bearer secret x-token=secret") {
			got[strings.Fields(req)[0]+" "+strings.Fields(req)[1]] = true
		}
	}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0", "HTTP/3.0"} {
		if !got[proto+" /"] || !got[proto+" /own.js"] {
			t.Errorf("%s: the origin asked did not get the fields on its page and file: %v", proto, asked.requests())
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://example.com/", "https://example.com:443/x", true},
		{"https://EXAMPLE.com./", "https://example.com/", true},
		{"http://example.com/", "http://example.com:80/", true},
		{"https://example.com/", "http://example.com/", false},
		{"https://example.com/", "https://example.com:8443/", false},
		{"https://127.0.0.1:1/", "https://localhost:1/", false},
		{"https://a.example.com/", "https://example.com/", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := sameOrigin(a, b); got != tc.want {
			t.Errorf("sameOrigin(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func portOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		t.Fatalf("no port in %q", raw)
	}
	return u.Port()
}

// TestCheck_TooManyRedirects: a chain that loops and one longer than the
// check follows each end in a finding that says so, on every protocol.
func TestCheck_TooManyRedirects(t *testing.T) {
	srv := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case p == "/b":
			http.Redirect(w, r, "/a", http.StatusMovedPermanently)
		case strings.HasPrefix(p, "/chain/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(p, "/chain/"))
			http.Redirect(w, r, "/chain/"+strconv.Itoa(n+1), http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	for _, tc := range []struct {
		path     string
		severity Severity
		results  int // per protocol
		words    string
	}{
		{"/a", SeverityError, 2, "loop"},
		{"/chain/0", SeverityWarn, DefaultMaxRedirects + 1, "still redirects"},
	} {
		rep, err := Check(context.Background(), srv.URL()+tc.path, Config{RootCAs: srv.CertPool(), Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != 3*tc.results {
			t.Errorf("%s: %d results, want %d per protocol\n%s", tc.path, len(rep.Results), tc.results, dump(rep))
		}
		match, _ := byCode(rep, CodeTooManyRedirects)
		protos := map[string]bool{}
		for _, f := range match {
			protos[f.Proto] = true
			if f.Severity != tc.severity || !strings.Contains(f.Message, tc.words) {
				t.Errorf("%s: %+v, want %s saying %q", tc.path, f, tc.severity, tc.words)
			}
		}
		if len(match) != 3 || !protos[H1] || !protos[H2] || !protos[H3] {
			t.Errorf("%s: too-many-redirects %+v, want one per protocol", tc.path, match)
		}
	}
}
