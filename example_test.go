package earlyhints_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"time"

	"github.com/earlyhints/earlyhints"
)

// The middleware in front of a plain net/http application: the first view
// of a page teaches its stylesheet and script; every later navigation gets
// them in a 103 while the page is still being rendered.
func Example() {
	app := http.NewServeMux()
	app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // the database, the templates...
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/static/site.css>
<script src=/static/app.js></script></head><body>...</body>`)
	})
	app.HandleFunc("/static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000")
		_, _ = io.WriteString(w, "/* ... */")
	})

	learned := make(chan struct{}, 1)
	hints, err := earlyhints.New(app, earlyhints.Config{
		// Only for this example, to know when the first view has taught
		// the page; a server needs no observer.
		Observer: earlyhints.ObserverFunc(func(e earlyhints.Event) {
			if e.Kind == earlyhints.EventLearned {
				select {
				case learned <- struct{}{}:
				default:
				}
			}
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer hints.Close()

	// Browsers take a 103 over HTTP/2 and HTTP/3: serve it over TLS, as
	// http.Server.ListenAndServeTLS would.
	srv := httptest.NewUnstartedServer(hints)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	navigate := func() {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Mode", "navigate") // as a browser navigates
		req.Header.Set("Sec-Fetch-Dest", "document")
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			for _, link := range h.Values("Link") {
				fmt.Println(code, link)
			}
			return nil
		}}
		res, err := srv.Client().Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			log.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		fmt.Println(res.Proto, res.StatusCode)
	}

	navigate() // the first view: no 103 yet; the middleware learns the page
	select {
	case <-learned:
	case <-time.After(10 * time.Second):
		log.Fatal("the page was not learned")
	}
	navigate() // every later one: the 103 first

	// Output:
	// HTTP/2.0 200
	// 103 </static/site.css>; rel=preload; as=style
	// 103 </static/app.js>; rel=preload; as=script
	// HTTP/2.0 200
}
