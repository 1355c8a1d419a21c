package earlyhints_test

import (
	"io"
	"log"
	"net/http"
	"time"

	"github.com/earlyhints/earlyhints"
)

// The middleware in front of a plain net/http application: the first view
// of a page teaches its stylesheet and script; every later navigation gets
// them in a 103 while the page is still being rendered.
func Example() {
	app := http.NewServeMux()
	app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond) // the database, the templates...
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/static/site.css>
<script src=/static/app.js></script></head><body>...</body>`)
	})
	app.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir("static"))))

	hints, err := earlyhints.New(app, earlyhints.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer hints.Close()

	srv := &http.Server{Addr: ":8443", Handler: hints} // 103 reaches browsers over HTTP/2 and HTTP/3
	_ = srv                                            // srv.ListenAndServeTLS("cert.pem", "key.pem")
}
