//go:build chromium

package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
)

// The report renders in Chromium: one drawn waterfall per measured cell,
// and a screenshot of some size.
func TestWriteHTML_RendersInChromium(t *testing.T) {
	if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	res := htmlResults()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, res); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := chromium.Launch(t.Context(), chromium.Config{Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Navigate(t.Context(), "file://"+path); err != nil {
		t.Fatal(err)
	}
	// Waterfalls laid out with a size, each with its request rows.
	got, err := b.EvalString(t.Context(), `String([...document.querySelectorAll('figure.cell svg.waterfall')]
		.filter(s => s.getBoundingClientRect().width > 100 && s.querySelectorAll('g.req').length > 0).length)`)
	if err != nil {
		t.Fatal(err)
	}
	measured := 0
	for _, c := range res.Cells {
		if c.Runs > 0 {
			measured++
		}
	}
	if n, _ := strconv.Atoi(got); n != measured {
		t.Errorf("%s waterfalls drawn, want %d (one per measured cell)", got, measured)
	}
	shot, err := b.Screenshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 600 || r.Dy() < 1000 {
		t.Errorf("screenshot %v, want a long page at least 600 px wide", r)
	}
}
