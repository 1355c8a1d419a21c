//go:build chromium

package chromium

import (
	"testing"

	"github.com/earlyhints/earlyhints"
)

// BenchmarkStack_FCP reports the first contentful paint of a new visitor
// (fresh profile, new connection) of the 300 ms page behind the proxy, with
// Early Hints and with hints off, over HTTP/2 and HTTP/3 (see
// TestStack_EarlyHintsFirstVisit for the network). Each iteration launches a
// browser: run with -benchtime=5x or so.
func BenchmarkStack_FCP(b *testing.B) {
	for _, p := range []proto{h2, h3} {
		for _, mode := range []string{"hints", "off"} {
			b.Run(string(p)+"/"+mode, func(b *testing.B) {
				st := newStack(b, stackConfig{think: thinkTime, hints: earlyhints.Config{Disabled: mode == "off"}})
				// The first visit teaches the proxy (hints) or warms its
				// origin connections (off).
				mark := st.eventCount()
				first := launch(b, st.browser(b, p))
				st.visit(b, first, st.base(p)+pagePath)
				first.Close()
				if mode == "hints" {
					st.waitLearned(b, mark, 1)
				}
				var fcp, lcp float64
				b.ResetTimer()
				for range b.N {
					br := launch(b, st.browser(b, p))
					v, _ := st.visit(b, br, st.base(p)+pagePath)
					br.Close()
					fcp += v.FCP
					lcp += v.LCP
				}
				b.ReportMetric(fcp/float64(b.N), "fcp-ms")
				b.ReportMetric(lcp/float64(b.N), "lcp-ms")
			})
		}
	}
}
