package experiment

import (
	"slices"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/firefox"
	"github.com/earlyhints/earlyhints/lab/site"
)

// TestMeasurementOfFirefox: files the site was asked for before it wrote
// the document's headers count as taken from the 103; render is the first
// contentful paint; a responseEnd before the final headers (Firefox's
// after a 103) is replaced by the site's log.
func TestMeasurementOfFirefox(t *testing.T) {
	t0 := time.UnixMilli(1_000_000)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	v := &firefox.Visit{
		URL: "https://127.0.0.1:1/", TimeOrigin: float64(t0.UnixMilli()),
		Navigation: firefox.NavigationTiming{
			ResourceTiming:            firefox.ResourceTiming{ResponseEnd: 120, EncodedBodySize: 1000},
			FirstInterimResponseStart: 120, FinalResponseHeadersStart: 500,
		},
		Resources: []firefox.ResourceTiming{
			{Name: "https://127.0.0.1:1/a.css", InitiatorType: "early-hints", RequestStart: 150, ResponseEnd: 300, TransferSize: 600, EncodedBodySize: 500},
			{Name: "https://127.0.0.1:1/b.js", InitiatorType: "script", RequestStart: 160, ResponseEnd: 320, TransferSize: 400, EncodedBodySize: 300},
			{Name: "https://127.0.0.1:1/c.png", InitiatorType: "img", RequestStart: 600, ResponseEnd: 700, TransferSize: 200, EncodedBodySize: 100},
		},
		FCP: 800,
	}
	log := []site.LogEntry{
		{Path: "/", Start: at(100), FirstByte: at(480), End: at(520), Status: 200, Bytes: 1000},
		{Path: "/a.css", Start: at(160), FirstByte: at(161), End: at(170), Status: 200, Bytes: 500},
		{Path: "/b.js", Start: at(170), FirstByte: at(171), End: at(180), Status: 200, Bytes: 300},
		{Path: "/c.png", Start: at(610), FirstByte: at(611), End: at(620), Status: 200, Bytes: 100},
		{Path: "/c.png", Start: at(630), FirstByte: at(631), End: at(640), Status: 200, Bytes: 100},
	}
	m, err := measurementOfFirefox(v, log, 40*time.Millisecond, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/a.css", "/b.js"}; !slices.Equal(m.EarlyHinted, want) {
		t.Errorf("EarlyHinted = %v, want %v", m.EarlyHinted, want)
	}
	if m.HTML != 540*time.Millisecond {
		t.Errorf("HTML = %v, want 540ms (the site's end plus half the round trip)", m.HTML)
	}
	if m.Render != 800*time.Millisecond || m.EarlyHintsAt != 120*time.Millisecond || m.HTMLFirstByte != 500*time.Millisecond {
		t.Errorf("render %v, 103 at %v, first byte %v", m.Render, m.EarlyHintsAt, m.HTMLFirstByte)
	}
	if m.Wasted != 100 {
		t.Errorf("Wasted = %d, want 100 (c.png served twice)", m.Wasted)
	}
	if m.Bytes != 1900 {
		t.Errorf("Bytes = %d, want 1900", m.Bytes)
	}

	v.Navigation.ResponseEnd = 0
	if _, err := measurementOfFirefox(v, log, 0, true); err == nil {
		t.Error("a visit without navigation timing measured")
	}
}
