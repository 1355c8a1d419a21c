package experiment

import (
	"github.com/earlyhints/earlyhints/lab/browser"
)

// Waterfall is one page load as a report draws it. Times are milliseconds
// from the start of the navigation.
type Waterfall struct {
	// HTMLFirstByteMS is when the document's final response headers
	// arrived; EarlyHintsMS when the 103 did (0: none).
	HTMLFirstByteMS float64 `json:"html_first_byte_ms"`
	EarlyHintsMS    float64 `json:"early_hints_ms,omitempty"`
	// FCPMS and LCPMS are the paint marks (0 where the browser reports
	// none: the model paints nothing).
	FCPMS float64 `json:"fcp_ms,omitempty"`
	LCPMS float64 `json:"lcp_ms,omitempty"`
	// RenderMS and LoadMS are the run's render and load times.
	RenderMS float64          `json:"render_ms"`
	LoadMS   float64          `json:"load_ms"`
	Entries  []WaterfallEntry `json:"entries"`
}

// WaterfallEntry is one request of a Waterfall: set-up of a new connection
// (ConnectStartMS..ConnectEndMS, zero when the connection was reused or the
// browser does not say), waiting (RequestMS..FirstByteMS) and download
// (FirstByteMS..EndMS).
type WaterfallEntry struct {
	URL string `json:"url"`
	// Kind is document, style, script, font, image, fetch or other.
	Kind string `json:"kind"`
	// Initiator is navigation, parser, css, early-hints, push or cache.
	Initiator      string  `json:"initiator"`
	StartMS        float64 `json:"start_ms"`
	ConnectStartMS float64 `json:"connect_start_ms,omitempty"`
	ConnectEndMS   float64 `json:"connect_end_ms,omitempty"`
	RequestMS      float64 `json:"request_ms"`
	FirstByteMS    float64 `json:"first_byte_ms"`
	EndMS          float64 `json:"end_ms"`
	Bytes          int64   `json:"bytes"`
	RenderBlocking bool    `json:"render_blocking,omitempty"`
	FromCache      bool    `json:"from_cache,omitempty"`
	Wasted         bool    `json:"wasted,omitempty"`
}

// waterfallOfModel converts the model's result.
func waterfallOfModel(res *browser.Result) *Waterfall {
	wf := &Waterfall{HTMLFirstByteMS: ms(res.HTMLFirstByte), RenderMS: ms(res.RenderTime), LoadMS: ms(res.LoadTime)}
	if res.EarlyHints {
		wf.EarlyHintsMS = ms(res.EarlyHintsAt)
	}
	for _, e := range res.Entries {
		init := e.Initiator
		if init == browser.InitNavigation {
			init = "navigation"
		}
		wf.Entries = append(wf.Entries, WaterfallEntry{
			URL: e.URL, Kind: e.Kind, Initiator: init,
			StartMS: ms(e.Start), RequestMS: ms(e.Start), FirstByteMS: ms(e.FirstByte), EndMS: ms(e.End),
			Bytes: e.Bytes, RenderBlocking: e.RenderBlocking, FromCache: e.FromCache, Wasted: e.Wasted,
		})
	}
	return wf
}
