package inspect

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	earlyhints "github.com/earlyhints/earlyhints"
)

// TestCheck_Findings serves one defect per origin over h1, h2 and h3 and
// asserts the defect is named with its severity on the protocols where it
// shows, and that nothing else is reported as an error.
func TestCheck_Findings(t *testing.T) {
	all := []string{H1, H2, H3}
	tests := []struct {
		code     string
		severity Severity
		protos   []string // where the finding is expected
		site     site
	}{
		{CodeNo103, SeverityWarn, []string{H2, H3}, site{}},
		{CodeMultiple103, SeverityWarn, all, site{before: hints103(goodHints, []string{"</hero.jpg>; rel=preload; as=image"})}},
		{Code103OnHTTP1, SeverityWarn, []string{H1}, site{before: hints103(goodHints)}},
		{Code103BeforeError, SeverityError, all, site{before: func(w http.ResponseWriter, r *http.Request) int {
			hints103(goodHints)(w, r)
			return http.StatusForbidden
		}}},
		{Code103BeforeRedirect, SeverityWarn, all, site{before: func(w http.ResponseWriter, r *http.Request) int {
			hints103(goodHints)(w, r)
			w.Header().Set("Location", "https://elsewhere.example/")
			return http.StatusFound
		}}},
		{CodePreloadMissingAs, SeverityError, all, site{before: hints103(with("</hero.jpg>; rel=preload"))}},
		{CodeAsNotAccepted, SeverityError, all, site{before: hints103(with("</hero.jpg>; rel=preload; as=picture"))}},
		{CodeFontMissingCrossorigin, SeverityError, all, site{before: hints103(with("</font.woff2>; rel=preload; as=font; type=font/woff2"))}},
		{CodeAttributeDropped, SeverityError, all, site{before: hints103(with(`</hero.jpg>; rel=preload; as=image; imagesrcset="/hero.jpg 1x"`))}},
		{CodeRelIgnored, SeverityWarn, all, site{before: hints103(with("</hero.jpg>; rel=prefetch"))}},
		{CodeBadLinkTarget, SeverityError, all, site{before: hints103(with("<javascript:alert(1)>; rel=preload; as=script"))}},
		{CodeMalformedLink, SeverityError, all, site{before: hints103(with("</hero.jpg; rel=preload; as=image"))}},
		{CodeHintTargetError, SeverityError, all, site{before: hints103(with("</missing.css>; rel=preload; as=style", "</moved.css>; rel=preload; as=style"))}},
		{CodeHintNotCacheable, SeverityWarn, all, site{before: hints103(with("</nostore.js>; rel=preload; as=script"))}},
		{CodeHintUnused, SeverityWarn, all, site{before: hints103(with("</unused.js>; rel=preload; as=script"))}},
		{CodeCriticalNotHinted, SeverityWarn, all, site{before: hints103([]string{"</app.js>; rel=preload; as=script"})}},
		// Forbidden in HTTP/2 and HTTP/3: Go's HTTP/2 client reads it,
		// quic-go's rejects the response; browsers ignore a 103 over h1.
		{CodeHopByHopIn103, SeverityError, all, site{before: func(w http.ResponseWriter, r *http.Request) int {
			w.Header().Set("Keep-Alive", "timeout=5")
			hints103(goodHints)(w, r)
			w.Header().Del("Keep-Alive")
			return http.StatusOK
		}}},
		{CodeTooManyHints, SeverityWarn, all, site{before: hints103(with(manyPreloads(earlyhints.DefaultMaxPreloads + 2)...)), page: testPage + manyImages(earlyhints.DefaultMaxPreloads+2)}},
		{CodeH3NotAdvertised, SeverityWarn, []string{H3}, site{before: hints103(goodHints), noAltSvc: true}},
		{CodeTooMany1xx, SeverityError, all, site{before: func(w http.ResponseWriter, r *http.Request) int {
			for range 50 {
				hints103(goodHints)(w, r)
			}
			return http.StatusOK
		}}},
		{CodeNotHTML, SeverityInfo, all, site{before: hints103(goodHints), page: `{"json": true}`, contentType: "application/json"}},
		{CodeErrorStatus, SeverityWarn, all, site{before: func(http.ResponseWriter, *http.Request) int { return http.StatusNotFound }}},
		{CodeHeadTooLarge, SeverityWarn, all, site{before: hints103(goodHints), page: hugeHead(10 << 20)}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			srv := startOrigin(t, tt.site)
			rep, err := Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			match, others := byCode(rep, tt.code)
			var seen []string
			for _, f := range match {
				want := tt.severity
				if f.Proto == H1 && tt.code == CodeHopByHopIn103 {
					want = SeverityWarn // browsers ignore a 103 over h1
				}
				if f.Severity != want {
					t.Errorf("%s on %s has severity %s, want %s: %s", f.Code, f.Proto, f.Severity, want, f.Message)
				}
				if !slices.Contains(seen, f.Proto) {
					seen = append(seen, f.Proto)
				}
			}
			slices.Sort(seen)
			if !slices.Equal(seen, tt.protos) {
				t.Errorf("%s seen on %v, want %v\n%s", tt.code, seen, tt.protos, dump(rep))
			}
			if len(others) > 0 {
				t.Errorf("other errors reported: %v\n%s", others, dump(rep))
			}
		})
	}
}

// TestCheck_Good: a correct site has no error and, over h2 and h3, no
// warning either.
func TestCheck_Good(t *testing.T) {
	srv := startOrigin(t, site{before: hints103(goodHints)})
	rep, err := Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Runs: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == SeverityError || f.Severity == SeverityWarn && f.Proto != H1 {
			t.Errorf("unexpected finding %+v", f)
		}
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results, want 3", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Status != 200 || len(r.EarlyHints) != 1 || !slices.Equal(r.EarlyHints[0].Links, goodHints) || r.Runs != 3 {
			t.Errorf("%s: status %d, 103s %+v, runs %d", r.Proto, r.Status, r.EarlyHints, r.Runs)
		}
		// Order, not time: the 103 comes before the final headers, which
		// come before the body.
		if eh := r.EarlyHints[0]; !(eh.TMS <= r.FinalHeadersMS && r.FinalHeadersMS <= r.FirstByteMS) {
			t.Errorf("%s: 103 at %v, final at %v, body at %v", r.Proto, eh.TMS, r.FinalHeadersMS, r.FirstByteMS)
		}
	}
}

// TestCheck_Late103 waits 900 ms before the 103 and 100 ms after it: a
// clear case, whatever the load of the machine.
func TestCheck_Late103(t *testing.T) {
	srv := startOrigin(t, site{before: func(w http.ResponseWriter, r *http.Request) int {
		time.Sleep(900 * time.Millisecond)
		hints103(goodHints)(w, r)
		time.Sleep(100 * time.Millisecond)
		return http.StatusOK
	}})
	rep, err := Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Protos: []string{H2, H3}})
	if err != nil {
		t.Fatal(err)
	}
	match, others := byCode(rep, CodeLate103)
	if len(match) != 2 || len(others) > 0 {
		t.Errorf("late-103 %v, other errors %v\n%s", match, others, dump(rep))
	}
}

func manyPreloads(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("</img%d.jpg>; rel=preload; as=image", i))
	}
	return out
}

func manyImages(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `<img src="/img%d.jpg" alt="">`, i)
	}
	return b.String()
}

func hugeHead(n int) string {
	return "<!doctype html><html><head><meta name=x content=\"" + strings.Repeat("x", n) + "\"></head><body></body></html>"
}

func dump(rep *Report) string {
	var b strings.Builder
	_ = WriteText(&b, rep, false)
	return b.String()
}

// TestCheck_Follow reports each hop of a redirect, and the 103 sent before
// the redirect.
func TestCheck_Follow(t *testing.T) {
	page := site{before: hints103(goodHints)}
	srv := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			hints103(goodHints)(w, r)
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
		default:
			page.ServeHTTP(w, r)
		}
	}))
	rep, err := Check(context.Background(), srv.URL()+"/old", Config{RootCAs: srv.CertPool(), Protos: []string{H2, H3}, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	for _, r := range rep.Results {
		hops = append(hops, fmt.Sprintf("%s %d %s", r.Proto, r.Status, strings.TrimPrefix(r.URL, srv.URL())))
	}
	if want := []string{"h2 301 /old", "h2 200 /", "h3 301 /old", "h3 200 /"}; !slices.Equal(hops, want) {
		t.Errorf("hops %q, want %q", hops, want)
	}
	if m, others := byCode(rep, Code103BeforeRedirect); len(m) != 2 || len(others) > 0 {
		t.Errorf("%s", dump(rep))
	}
	if m, _ := byCode(rep, CodeRedirect); len(m) != 0 {
		t.Errorf("redirect reported although followed: %v", m)
	}
}
