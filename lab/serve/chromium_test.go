//go:build chromium

package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
)

// browsersUnder lists the processes whose command line names a profile
// under dir.
func browsersUnder(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

// The Try-it page in Chromium: a comparison started through the form (in
// the model) and one through the API (in Chromium) finish, the permalink
// shows a waterfall per cell for h2 and h3, and cancelling a Chromium run
// or stopping the server leaves no browser behind.
func TestTryIt_Chromium(t *testing.T) {
	if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// The visitor's browser, then the runs' browsers, whose profiles all
	// live under tmp.
	b, err := chromium.Launch(t.Context(), chromium.Config{Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s, hs := newTestServer(t, Config{})
	if _, err := b.Navigate(t.Context(), hs.URL+"/"); err != nil {
		t.Fatal(err)
	}
	// Through the form: the tiny page on a custom 10 ms network, 1 run.
	got, err := b.EvalString(t.Context(), `(async () => {
		document.querySelector('input[name=page][value=tiny]').click();
		document.querySelector('input[name=network][value=custom]').click();
		document.querySelector('input[name=rtt_ms]').value = '10';
		document.querySelector('input[name=think_ms]').value = '50';
		document.querySelector('input[name=runs]').value = '1';
		document.getElementById('try').requestSubmit();
		for (let i = 0; i < 1200 && !document.body.dataset.finished; i++) await new Promise(r => setTimeout(r, 100));
		return JSON.stringify({status: document.getElementById('status').dataset.status,
			waterfalls: document.querySelectorAll('#results td.wf svg.waterfall').length});
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"status":"done","waterfalls":4}` {
		t.Errorf("the form's run: %s, want done with 4 waterfalls (h2, h3 × none, early-hints)", got)
	}
	if dir := os.Getenv("SCREENSHOTS"); dir != "" {
		if png, err := b.Screenshot(t.Context()); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "try-it.png"), png, 0o644)
		}
	}

	// Through the API, in Chromium.
	code, out := postJSON(t, hs.URL, `{"page": "tiny", "network": "custom", "rtt_ms": 20, "think_ms": 100, "runs": 1, "browser": "chromium"}`)
	if code != 202 {
		t.Fatalf("POST: %d %v", code, out)
	}
	id := out["id"].(string)
	var snap Snapshot
	for range 1800 {
		if snap = getSnapshot(t, hs.URL, id); snap.finished() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if snap.Status != StatusDone {
		t.Fatalf("chromium run: %s %s", snap.Status, snap.Error)
	}
	if _, err := b.Navigate(t.Context(), hs.URL+"/runs/"+id); err != nil {
		t.Fatal(err)
	}
	got, err = b.EvalString(t.Context(), `JSON.stringify({
		h2h3: [...document.querySelectorAll('table.grid tr:first-child th')].map(e => e.textContent).join(','),
		waterfalls: [...document.querySelectorAll('td.wf svg.waterfall')].filter(s => s.getBoundingClientRect().width > 100).length,
		hinted: document.querySelectorAll('td.wf svg.waterfall g[data-initiator="early-hints"]').length > 0})`)
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"h2h3":",h2,h3","waterfalls":4,"hinted":true}` {
		t.Errorf("permalink of the Chromium run: %s, want h2 and h3 columns, 4 waterfalls, early-hinted rows", got)
	}
	if left := browsersUnder(tmp); len(left) > 0 {
		t.Errorf("browsers left after a finished run: %v", left)
	}

	// Cancel a Chromium run once a browser is up.
	_, out = postJSON(t, hs.URL, `{"page": "news-article", "network": "3g", "runs": 5, "browser": "chromium"}`)
	id = out["id"].(string)
	for range 600 {
		if len(browsersUnder(tmp)) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(browsersUnder(tmp)) == 0 {
		t.Fatal("the run started no browser")
	}
	res, err := hs.Client().Post(hs.URL+"/api/runs/"+id+"/cancel", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	waitStatus(t, hs.URL, id, StatusCancelled)
	if left := browsersUnder(tmp); len(left) > 0 {
		t.Errorf("browsers left after cancel: %v", left)
	}

	// Stop the server while a Chromium run is under way.
	_, out = postJSON(t, hs.URL, `{"page": "news-article", "network": "3g", "runs": 5, "browser": "chromium"}`)
	for range 600 {
		if len(browsersUnder(tmp)) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Close()
	if left := browsersUnder(tmp); len(left) > 0 {
		t.Errorf("browsers left after the server stopped: %v", left)
	}
	if st := s.job(out["id"].(string)).snapshot().Status; st != StatusCancelled {
		t.Errorf("run after stop: %s", st)
	}
}
