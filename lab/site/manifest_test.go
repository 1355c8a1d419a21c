package site

import (
	"bytes"
	"testing"
	"time"
)

func TestManifest_Tiny(t *testing.T) {
	_, s := mustSite(t, "tiny", Options{})
	m := s.Manifest()
	doc := s.Document()
	if m.HTMLSize != 2000 || m.Requests != 4 || m.TotalBytes != 22_000 || m.CriticalBytes != 10_000 || m.HintedBytes != 10_000 {
		t.Fatalf("manifest = %+v", m)
	}
	for _, d := range m.Discovery {
		if want := bytes.Index(doc, []byte(`<link rel="stylesheet" href="/style.css">`)); d.URL == "/style.css" && d.Offset != want {
			t.Errorf("%s offset %d, want %d", d.URL, d.Offset, want)
		}
		if d.Depth != 1 || d.Offset <= 0 || !bytes.HasPrefix(doc[d.Offset:], []byte("<")) {
			t.Errorf("%s: depth %d offset %d", d.URL, d.Depth, d.Offset)
		}
	}
	const bps = 100_000.0 // bytes per second: 1 byte = 10 µs
	jsOffset := m.Discovery[1].Offset
	wantDelta := time.Duration(jsOffset) * 10 * time.Microsecond
	if got := m.Delta(100*time.Millisecond, bps); got != wantDelta {
		t.Errorf("Delta = %v, want %v", got, wantDelta)
	}
	if got := m.CriticalTransfer(bps); got != 100*time.Millisecond {
		t.Errorf("x_R = %v, want 100ms", got)
	}
	// Long think: the bound is RTT + x_R.
	if got := m.Bound(300*time.Millisecond, 100*time.Millisecond, bps); got != 200*time.Millisecond {
		t.Errorf("Bound(T=300ms) = %v, want 200ms", got)
	}
	// No think: the bound is δ.
	if got := m.Bound(0, 100*time.Millisecond, bps); got != wantDelta {
		t.Errorf("Bound(T=0) = %v, want %v", got, wantDelta)
	}
}

func TestManifest_ChainedDiscovery(t *testing.T) {
	p, _ := ProfileByName("spa-shell")
	m, err := p.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	const bps = 1_000_000.0 // 1 byte = 1 µs
	rtt := 50 * time.Millisecond
	var entry Discovery
	for _, d := range m.Discovery {
		if d.URL == "/assets/index-D4f8aL.js" {
			entry = d
		}
	}
	// page-home is imported by router, imported by the entry module.
	want := time.Duration(entry.Offset)*time.Microsecond + rtt + 148_000*time.Microsecond + rtt + 28_000*time.Microsecond
	got, ok := m.DiscoveryTime("/assets/page-home-Df7hQw.js", rtt, bps)
	if !ok || got != want {
		t.Errorf("DiscoveryTime(page-home) = %v, %v; want %v", got, ok, want)
	}
	if m.Delta(rtt, bps) != want {
		t.Errorf("Delta = %v, want the deepest module's %v", m.Delta(rtt, bps), want)
	}
	depth := map[string]int{}
	for _, d := range m.Discovery {
		depth[d.URL] = d.Depth
	}
	if depth["/assets/page-home-Df7hQw.js"] != 3 || depth["/img/hero-960.webp"] != 4 || depth["/assets/inter-var-Bx4tQ.woff2"] != 2 {
		t.Errorf("depths = %v", depth)
	}
	// With the preload strategy every hinted module is found in the head.
	_, s := mustSite(t, "spa-shell", Options{PreloadInHTML: true})
	pm := s.Manifest()
	if d := pm.Delta(rtt, bps); d > 3*time.Millisecond {
		t.Errorf("Delta with preloads = %v, want within the first kilobytes of the document", d)
	}
	if _, ok := pm.DiscoveryTime("/nope", rtt, bps); ok {
		t.Error("DiscoveryTime of an unknown URL")
	}
}
