package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

func TestWriteTablesMarkdown(t *testing.T) {
	res := sampleResults()
	res.Browser = "model,chromium"
	// The same conditions in Chromium, whose push cell is not measurable.
	for _, c := range append([]experiment.CellResult(nil), res.Cells...) {
		c.Browser = experiment.BrowserChromium
		if c.Strategy == experiment.EarlyHints {
			c.EarlyHinted = []string{"/a.css", "/b.js"}
			c.Gain = &experiment.Gain{RenderMS: 80, RenderCI: &experiment.Interval{Lo: 20, Hi: 130}}
		}
		if c.Strategy == experiment.PushDigest {
			c.Skipped, c.NotMeasurable = "not measurable in Chromium", true
		}
		res.Cells = append(res.Cells, c)
	}
	res.Cells[1].Calibration = &experiment.Calibration{RenderErrPct: 12.4}
	var b bytes.Buffer
	if err := WriteTablesMarkdown(&b, res); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"#### m\n",
		"| page | strategy | proto | cache | network | think | model render | model gain | chromium render | chromium gain | from the 103 (chromium) | model error | KB wasted (model) |",
		"| tiny | none | h2 | cold | 4g | 300 | 1000 ± 50 |  | 1000 ± 50 |  |  |  | 0 |",
		"| tiny | early-hints | h2 | cold | 4g | 300 | 900 ± 20 | +100 | 900 ± 20 | +80 [+20, +130] | 2 | +12 % | 0 |",
		"| tiny | push-digest | h2 | warm | 4g | 300 | skipped |  | n/m |  |  |  |  |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("tables lack %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "\n| tiny |"); n != 3 {
		t.Errorf("%d rows, want one per condition (3):\n%s", n, md)
	}
}
