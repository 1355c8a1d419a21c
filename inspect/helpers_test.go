package inspect

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/server"
)

// startOrigin serves h over h1, h2 and h3 with a generated certificate
// until the end of the test.
func startOrigin(t *testing.T, h http.Handler) *server.Server {
	t.Helper()
	srv, err := server.New(h, server.Config{
		Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Logf("origin: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = srv.Close()
		}
	})
	return srv
}

// testPage is the document of the test origins: a stylesheet and a
// synchronous script in the head (the critical path), an image in the body.
const testPage = `<!doctype html><html><head><title>t</title>
<link rel=stylesheet href=/app.css>
<script src=/app.js></script>
</head><body><h1>Hello</h1><img src=/hero.jpg alt="">
<script src=/nostore.js async></script>
</body></html>`

// goodHints are the links a correct 103 for testPage carries: the
// stylesheet, the script and the font the stylesheet declares.
var goodHints = []string{"</app.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script", "</font.woff2>; rel=preload; as=font; crossorigin"}

// site is a test origin: before writes informational responses and may
// change the final status; the page and its assets are served as a
// correct site serves them.
type site struct {
	before      func(w http.ResponseWriter, r *http.Request) (status int)
	page        string
	contentType string // of the page; default text/html
	// noAltSvc removes the server's Alt-Svc advertisement.
	noAltSvc bool
}

func (s site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.noAltSvc {
		w.Header().Del("Alt-Svc")
	}
	switch r.URL.Path {
	case "/":
		status := http.StatusOK
		if s.before != nil {
			status = s.before(w, r)
		}
		page := s.page
		if page == "" {
			page = testPage
		}
		ct := s.contentType
		if ct == "" {
			ct = "text/html; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(page))
	case "/missing.css":
		http.NotFound(w, r)
	case "/moved.css":
		http.Redirect(w, r, "/app.css", http.StatusFound)
	case "/nostore.js":
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("console.log(1)"))
	case "/app.css":
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/css")
		_, _ = w.Write([]byte(`@font-face{font-family:f;src:url(/font.woff2)} body{background:url(/bg.png)}`))
	default:
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if strings.HasSuffix(r.URL.Path, ".js") {
			w.Header().Set("Content-Type", "text/javascript")
		}
		_, _ = w.Write([]byte("/* " + r.URL.Path + " */"))
	}
}

// hints103 returns a before that sends one 103 per list of links.
func hints103(lists ...[]string) func(http.ResponseWriter, *http.Request) int {
	return func(w http.ResponseWriter, _ *http.Request) int {
		for _, links := range lists {
			w.Header()["Link"] = links
			w.WriteHeader(http.StatusEarlyHints)
		}
		w.Header().Del("Link")
		return http.StatusOK
	}
}

func with(links ...string) []string { return append(append([]string(nil), goodHints...), links...) }

// byCode returns the findings with code, and the other error findings.
func byCode(rep *Report, code string) (match, otherErrors []Finding) {
	for _, f := range rep.Findings {
		switch {
		case f.Code == code:
			match = append(match, f)
		case f.Severity == SeverityError:
			otherErrors = append(otherErrors, f)
		}
	}
	return match, otherErrors
}
