//go:build chromium

package experiment

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/lab/site"
)

// Real captures replay in Chromium as in the model: the document and every
// resource its markup and stylesheets name requested once, third parties
// on their own origins (their Host), nothing outside the capture.
func TestStack_ReplaysHARInChromium(t *testing.T) {
	binary, err := chromium.FindBinary(chromium.Config{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	factory := func(env Env) (Browser, error) {
		return newChromiumBrowser(env, binary, 60*time.Second, false, quietLogger())
	}
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			rp, err := site.LoadHARFile(filepath.Join("..", "site", "testdata", "har", name))
			if err != nil {
				t.Fatal(err)
			}
			s := &Scenario{HARs: []HARDef{{Name: "page", Replay: rp}}}
			checkReplayOnce(t, s, "har:page", BrowserChromium, factory)
		})
	}
}
