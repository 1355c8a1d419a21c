package inspect

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// silentFiles is an origin whose page hints n files that never answer:
// each request for one waits until the client gives up. It counts the
// most requests for files it held at once.
type silentFiles struct {
	n        int
	mu       sync.Mutex
	inFlight int
	most     int
}

func (s *silentFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		var links []string
		for i := range s.n {
			links = append(links, fmt.Sprintf("</f%d.css>; rel=preload; as=style", i))
		}
		hints103(links)(w, r)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(testPage))
		return
	}
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.mu.Unlock()
	<-r.Context().Done()
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
}

func (s *silentFiles) mostAtOnce() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

// TestCheck_SilentFiles: a 103 naming 30 files that never answer. The
// check fetches them a few at a time, each bounded by Timeout, and
// reports every one it fetched as timed out.
func TestCheck_SilentFiles(t *testing.T) {
	silent := &silentFiles{n: 30}
	srv := startOrigin(t, silent)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net only
	defer cancel()
	rep, err := Check(ctx, srv.URL()+"/", Config{RootCAs: srv.CertPool(), Protos: []string{H1}, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || len(rep.Results[0].Targets) != MaxTargets {
		t.Fatalf("want one result with %d targets\n%s", MaxTargets, dump(rep))
	}
	for i, tg := range rep.Results[0].Targets {
		if tg.URL != fmt.Sprintf("%s/f%d.css", srv.URL(), i) || tg.Error == "" {
			t.Errorf("target %d: %+v, want f%d.css with an error", i, tg, i)
		}
	}
	if m, _ := byCode(rep, CodeHintTargetError); len(m) != MaxTargets {
		t.Errorf("%d hint-target-error findings, want %d", len(m), MaxTargets)
	}
	// Fetched side by side (TestParallel pins the bound; the server sees
	// a cancelled request end a little after the client moved on).
	if most := silent.mostAtOnce(); most < 2 {
		t.Errorf("at most %d requests at once, want several", most)
	}
}

// TestParallel: every index is called once, never more than MaxFetches
// at once.
func TestParallel(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	called := make([]int, 50)
	release := make(chan struct{})
	go func() {
		// Let the first calls pile up (a bounded wait), then let them go.
		defer close(release)
		for range 5000 {
			mu.Lock()
			n := inFlight
			mu.Unlock()
			if n >= MaxFetches {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	parallel(len(called), func(i int) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		called[i]++
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	if most != MaxFetches {
		t.Errorf("%d at once, want %d", most, MaxFetches)
	}
	for i, n := range called {
		if n != 1 {
			t.Errorf("index %d called %d times", i, n)
		}
	}
}

// TestCheck_MaxTime: with files that never answer and a per-request
// Timeout longer than the test, MaxTime ends the whole check; what it
// cut short says so, on every protocol.
func TestCheck_MaxTime(t *testing.T) {
	silent := &silentFiles{n: 30}
	srv := startOrigin(t, silent)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net only
	defer cancel()
	rep, err := Check(ctx, srv.URL()+"/", Config{RootCAs: srv.CertPool(), Timeout: time.Hour, MaxTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("want a result per protocol\n%s", dump(rep))
	}
	cut := 0
	for _, r := range rep.Results {
		if r.Error != "" && !strings.Contains(r.Error, "--max-time") {
			t.Errorf("%s: error %q does not name --max-time", r.Proto, r.Error)
		}
		for _, tg := range r.Targets {
			if !strings.Contains(tg.Error, "--max-time") {
				t.Errorf("%s: target %s: error %q does not name --max-time", r.Proto, tg.URL, tg.Error)
			}
			cut++
		}
		if r.Error != "" {
			cut++
		}
	}
	if cut == 0 {
		t.Errorf("nothing was cut short\n%s", dump(rep))
	}
	for _, f := range rep.Findings {
		if f.Code == CodeTimeout && !strings.Contains(f.Message, "--max-time") {
			t.Errorf("timeout finding without --max-time: %+v", f)
		}
	}
}
