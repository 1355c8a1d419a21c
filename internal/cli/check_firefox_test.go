//go:build firefox

package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/inspect"
	"github.com/earlyhints/earlyhints/lab/firefox"
)

// TestCheck_BrowserFirefox loads a hinting origin in Firefox over h2 and
// h3 and reads, per hinted file, whether Firefox took it from the 103.
func TestCheck_BrowserFirefox(t *testing.T) {
	if _, err := firefox.FindBinary(firefox.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	hints := []string{"</s.css>; rel=preload; as=style", "</a.js>; rel=preload; as=script"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			if strings.HasSuffix(r.URL.Path, ".css") {
				w.Header().Set("Content-Type", "text/css")
				_, _ = io.WriteString(w, "body{color:#333}")
				return
			}
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, "void 0")
			return
		}
		w.Header()["Link"] = hints
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		time.Sleep(300 * time.Millisecond) // the origin thinks
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, checkPage)
	})
	srv := serveOnLoopback(t, h)

	code, out, errOut := runMain("check", srv.URL()+"/", "--json", "--browser", "firefox", "--insecure", "--proto", "h2,h3", "--max-time", "5m")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var rep inspect.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Browser) != 2 {
		t.Fatalf("browser results %+v", rep.Browser)
	}
	for _, br := range rep.Browser {
		if br.Browser != "Firefox" || br.Error != "" || !br.GotEarlyHints || len(br.Files) != 2 {
			t.Errorf("%s: %+v", br.Proto, br)
			continue
		}
		for _, f := range br.Files {
			if f.Initiator != "early-hints" || !f.FromEarlyHints {
				t.Errorf("%s: %s has initiator %q (from early hints %v), want early-hints", br.Proto, f.URL, f.Initiator, f.FromEarlyHints)
			}
		}
	}
	for _, f := range rep.Findings {
		if f.Severity == inspect.SeverityError || f.Code == inspect.CodeBrowserNotUsed {
			t.Errorf("finding %+v", f)
		}
	}
	t.Logf("h2: FCP %.0f ms with Early Hints, %.0f ms without", rep.Browser[0].FCPMS, rep.Browser[0].FCPWithoutMS)
}
