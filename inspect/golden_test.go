package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestReport_JSONGolden pins the JSON schema, a contract: a change here is
// a change for every CI job that reads it.
func TestReport_JSONGolden(t *testing.T) {
	srv := startOrigin(t, site{before: hints103([]string{
		"</app.css>; rel=preload; as=style",
		"</app.js>; rel=preload; as=script",
		"</font.woff2>; rel=preload; as=font",
		"</unused.js>; rel=preload; as=script",
	})})
	rep, err := Check(context.Background(), srv.URL()+"/", Config{RootCAs: srv.CertPool(), Protos: []string{H2, H3}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as earlyhints check --json writes it
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Ports and times change from run to run.
	_, port, _ := net.SplitHostPort(srv.Addr())
	b = bytes.ReplaceAll(b, []byte(srv.URL()), []byte("https://127.0.0.1:PORT"))
	b = bytes.ReplaceAll(b, []byte(`:`+port), []byte(":PORT"))
	got := times.ReplaceAll(b, []byte(`"$1": 0`))
	path := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReport_JSONGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report JSON differs from %s (rerun with -update if the change is meant):\n%s", path, got)
	}
}

var times = regexp.MustCompile(`"([a-z_]+_ms)": [0-9.e+-]+`)
