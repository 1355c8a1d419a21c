package inspect

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// fakeBrowser reports the first hinted file as taken from the 103 and
// every other as loaded by the page.
type fakeBrowser struct {
	mu    sync.Mutex
	asked []BrowserVisitRequest
	fail  bool
	// failWithout fails the visit with Early Hints off only.
	failWithout bool
}

func (f *fakeBrowser) Visit(_ context.Context, v BrowserVisitRequest) (*BrowserVisit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, v)
	if f.fail {
		return nil, errors.New("no browser here")
	}
	if f.failWithout && v.WithoutEarlyHints {
		return nil, errors.New("no browser without hints")
	}
	base := strings.TrimSuffix(v.URL, "/")
	return &BrowserVisit{
		EarlyHints: goodHints,
		Resources: []BrowserResource{
			{Name: base + "/app.css", InitiatorType: "early-hints"},
			{Name: base + "/app.js", InitiatorType: "script"},
		},
		FromEarlyHints: []string{base + "/app.css"},
		FCP:            100, LCP: 120,
	}, nil
}

func TestCheck_Browser(t *testing.T) {
	srv := startOrigin(t, site{before: hints103(goodHints[:2])})
	b := &fakeBrowser{}
	rep, err := Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Browser: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Browser) != 2 || rep.Browser[0].Proto != H2 || rep.Browser[1].Proto != H3 {
		t.Fatalf("browser results %+v", rep.Browser)
	}
	for _, br := range rep.Browser {
		if len(br.Files) != 2 || br.Files[0].Initiator != "early-hints" || !br.Files[0].FromEarlyHints || br.Files[1].Initiator != "script" {
			t.Errorf("%s: files %+v", br.Proto, br.Files)
		}
	}
	// A visit with and one without Early Hints per protocol, each
	// trusting the server's own certificate.
	if len(b.asked) != 4 || !b.asked[1].WithoutEarlyHints || b.asked[0].Leaf == nil || !b.asked[0].Leaf.Equal(srv.Certificate()) {
		t.Errorf("visits %+v", b.asked)
	}
	match, others := byCode(rep, CodeBrowserNotUsed)
	if len(match) != 2 || !strings.Contains(match[0].Link, "app.js") || len(others) > 0 {
		t.Errorf("browser-not-used %v, other errors %v", match, others)
	}

	rep, err = Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Protos: []string{H2}, Browser: &fakeBrowser{fail: true}})
	if err != nil {
		t.Fatal(err)
	}
	if match, _ := byCode(rep, CodeBrowserError); len(match) != 1 || match[0].Severity != SeverityError {
		t.Errorf("a failing browser: %s", dump(rep))
	}
}

// TestCheck_BrowserWithoutFails: when the visit with Early Hints off
// fails, the report says so (a field, a finding and the text) instead of
// leaving the figures without them out in silence.
func TestCheck_BrowserWithoutFails(t *testing.T) {
	srv := startOrigin(t, site{before: hints103(goodHints[:2])})
	b := &fakeBrowser{failWithout: true}
	rep, err := Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Protos: []string{H2}, Browser: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Browser) != 1 {
		t.Fatalf("browser results %+v", rep.Browser)
	}
	br := rep.Browser[0]
	if br.FCPMS != 100 || br.FCPWithoutMS != 0 || !strings.Contains(br.ErrorWithout, "no browser without hints") {
		t.Errorf("browser result %+v, want the first visit's figures and the second's error", br)
	}
	match, _ := byCode(rep, CodeBrowserError)
	if len(match) != 1 || match[0].Proto != H2 || !strings.Contains(match[0].Message, "Early Hints off") {
		t.Errorf("browser-error findings %+v", match)
	}
	var text strings.Builder
	if err := WriteText(&text, rep, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "not measured, the visit failed: no browser without hints") {
		t.Errorf("text lacks the failed visit:\n%s", text.String())
	}
}
