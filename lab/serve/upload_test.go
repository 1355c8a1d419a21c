package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/site"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "site", "testdata", "har", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// postHAR posts the Try-it form with file as the har field.
func postHAR(t *testing.T, url, name string, file []byte, fields map[string]string) (int, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("har", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(file); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(url, mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	if json.Unmarshal(data, &out) != nil {
		out = map[string]any{"error": string(data)}
	}
	return res.StatusCode, out
}

// A bad upload gets its named error and status, and no run is queued.
func TestUpload_Refused(t *testing.T) {
	g := newGate()
	s, hs := newTestServer(t, Config{Run: g.run})
	hostile := `{"log":{"entries":[{"request":{"method":"GET","url":"https://a.example/"},"response":{"status":200,"headers":[{"name":"Link","value":"<x>\r\nSet-Cookie: a=b"}],"content":{"size":9,"mimeType":"text/html"}}}]}}`
	many := `{"log":{"entries":[` + strings.TrimSuffix(strings.Repeat(`{},`, site.MaxHAREntries+1), ",") + `]}}`
	tests := []struct {
		name string
		file []byte
		code int
		want error
		msg  string
	}{
		{"malformed", []byte(`{"log":`), http.StatusBadRequest, site.ErrBadHAR, "invalid HAR file"},
		{"truncated", fixture(t, "www.wikipedia.org.har.gz")[:2000], http.StatusBadRequest, site.ErrBadHAR, "gzip"},
		{"oversized", bytes.Repeat([]byte(" "), MaxHARUploadBytes+1), http.StatusRequestEntityTooLarge, site.ErrHARTooLarge, "10 MiB"},
		{"too many entries", []byte(many), http.StatusRequestEntityTooLarge, site.ErrHARTooLarge, "entries"},
		{"hostile", []byte(hostile), http.StatusBadRequest, site.ErrUnsafeHAR, "unsafe HAR file"},
		{"not a page", []byte(`{"log":{"entries":[{"request":{"method":"GET","url":"file:///etc/passwd"},"response":{"status":200,"content":{"mimeType":"text/html"}}}]}}`), http.StatusBadRequest, site.ErrBadHAR, "not an http"},
		{"empty", nil, http.StatusBadRequest, site.ErrBadHAR, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := postHAR(t, hs.URL+"/api/runs", "page.har", tt.file, nil)
			if code != tt.code || out["param"] != "har" || !strings.Contains(out["error"].(string), tt.msg) {
				t.Errorf("POST: %d %v; want %d naming har and %q", code, out, tt.code, tt.msg)
			}
			// The same error, from ReadParams, is the sentinel.
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			fw, _ := mw.CreateFormFile("har", "page.har")
			_, _ = fw.Write(tt.file)
			_ = mw.Close()
			req, _ := http.NewRequest(http.MethodPost, "/api/runs", &b)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			if _, err := ReadParams(req); !errors.Is(err, tt.want) {
				t.Errorf("ReadParams: %v, want %v", err, tt.want)
			}
			// The form without JavaScript says it in plain text.
			if code, out := postHAR(t, hs.URL+"/runs", "page.har", tt.file, nil); code != tt.code || !strings.Contains(out["error"].(string), tt.msg) {
				t.Errorf("form POST: %d %v", code, out)
			}
		})
	}
	if runs := s.list(); len(runs) != 0 {
		t.Errorf("%d runs queued by refused uploads", len(runs))
	}
}

// An uploaded capture runs the same comparison as a built-in page, at the
// capture's own think time, whether posted as a form or as the body.
func TestUpload_Runs(t *testing.T) {
	g := newGate()
	close(g.release)
	_, hs := newTestServer(t, Config{Run: g.run})
	check := func(code int, out map[string]any) {
		t.Helper()
		if code != http.StatusAccepted {
			t.Fatalf("POST: %d %v", code, out)
		}
		select {
		case <-g.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the run did not start")
		}
		var snap Snapshot
		for range 200 {
			if snap = getSnapshot(t, hs.URL, out["id"].(string)); snap.finished() {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if snap.Params.Page != "har:www.wikipedia.org" || snap.Params.HAR != "www.wikipedia.org" || snap.Params.ThinkMS == nil || *snap.Params.ThinkMS != 286 {
			t.Errorf("params %+v, want the capture at its own 286 ms", snap.Params)
		}
		if len(snap.Results) == 0 || snap.Results[0].Page != "har:www.wikipedia.org" || snap.Results[0].ThinkMS != 286 {
			t.Errorf("cells %+v", snap.Results)
		}
	}
	check(postHAR(t, hs.URL+"/api/runs", "www.wikipedia.org.har.gz", fixture(t, "www.wikipedia.org.har.gz"), map[string]string{"network": "3g", "strategies": "none,early-hints", "think_ms": ""}))

	res, err := http.Post(hs.URL+"/api/runs?har=www.wikipedia.org&network=4g", "application/gzip", bytes.NewReader(fixture(t, "www.wikipedia.org.har.gz")))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	check(res.StatusCode, out)
}

// The uploaded capture measured for real in the model: the same report as
// a built-in page.
func TestUpload_ModelReport(t *testing.T) {
	_, hs := newTestServer(t, Config{})
	code, out := postHAR(t, hs.URL+"/api/runs", "www.wikipedia.org.har.gz", fixture(t, "www.wikipedia.org.har.gz"),
		map[string]string{"network": "custom", "rtt_ms": "10", "protocols": "h2", "runs": "1"})
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, out)
	}
	id := out["id"].(string)
	var snap Snapshot
	for range 1200 {
		if snap = getSnapshot(t, hs.URL, id); snap.finished() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if snap.Status != StatusDone || snap.Error != "" {
		t.Fatalf("run: %s %s", snap.Status, snap.Error)
	}
	page := get(t, hs.URL+"/runs/"+id)
	for _, want := range []string{"har:www.wikipedia.org", "early-hints", `<svg class="waterfall"`, "286 ms of think time"} {
		if !strings.Contains(page, want) {
			t.Errorf("permalink lacks %q", want)
		}
	}
}
