package earlyhints

import (
	"net/http"

	"github.com/earlyhints/earlyhints/hintstore"
)

// A HintTaker is a ResponseWriter that delivers some of a navigation's hints
// by other means than a 103 (legacy HTTP/2 push does: package push wraps
// the Handler with one). The Handler looks for one in the writer it is given
// and in the writers below it (through Unwrap, as http.ResponseController
// does), and, for each navigation that has hints and may get a 103, calls
// TakeHints with them before writing the 103; the 103 carries only the hints
// TakeHints returns.
type HintTaker interface {
	TakeHints(r *http.Request, hints []hintstore.Link) []hintstore.Link
}

// hintTaker returns the HintTaker among w and the writers below it, or nil.
func hintTaker(w http.ResponseWriter) HintTaker {
	for {
		switch t := w.(type) {
		case HintTaker:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}
