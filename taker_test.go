package earlyhints_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
)

// taker takes the first hint of each navigation, as push does with what it
// can push.
type taker struct {
	http.ResponseWriter
	mu    *sync.Mutex
	taken *[]string
}

func (t taker) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t taker) TakeHints(_ *http.Request, hints []hintstore.Link) []hintstore.Link {
	t.mu.Lock()
	*t.taken = append(*t.taken, hints[0].Target)
	t.mu.Unlock()
	return hints[1:]
}

// layer is a wrapper between the taker and the Handler.
type layer struct{ http.ResponseWriter }

func (l layer) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// TestHandler_HintTaker: a HintTaker among the writers outside the Handler
// gets the hints before the 103, which carries only what it leaves.
func TestHandler_HintTaker(t *testing.T) {
	h, ev := newHandler(t, htmlOrigin(0, page), earlyhints.Config{})
	var mu sync.Mutex
	var taken []string
	srv := startH2(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(layer{taker{ResponseWriter: w, mu: &mu, taken: &taken}}, r)
	}))
	c := srv.Client()
	navigate(t, c, srv.URL+"/", nil)
	ev.wait(t, earlyhints.EventLearned)
	v := navigate(t, c, srv.URL+"/", nil)
	if len(v.early) != 1 {
		t.Fatalf("got %d 103s, want 1", len(v.early))
	}
	if got := strings.Join(v.early[0].Values("Link"), ", "); got != "</static/app.js>; rel=preload; as=script" {
		t.Errorf("103 links %q, want the script alone", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(taken) != 1 || !strings.HasSuffix(taken[0], "/static/site.css") {
		t.Errorf("taken %q, want the stylesheet once", taken)
	}
}
