package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/lab/site"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.index)
	m.HandleFunc("POST /api/runs", s.create)
	m.HandleFunc("POST /runs", s.createForm)
	m.HandleFunc("GET /api/runs", s.listRuns)
	m.HandleFunc("GET /api/runs/{id}", s.get)
	m.HandleFunc("DELETE /api/runs/{id}", s.cancelRun)
	m.HandleFunc("POST /api/runs/{id}/cancel", s.cancelRun)
	m.HandleFunc("GET /api/runs/{id}/events", s.events)
	m.HandleFunc("GET /runs/{id}", s.permalink)
	m.HandleFunc("GET /runs/{id}/results", s.fragment)
	// Any web page a visitor opens can post to this server: a POST from
	// another origin is refused (Sec-Fetch-Site, else Origin against
	// Host), and so is a Host that is not this server's own, which a page
	// that rebinds its name to this address would send.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, apiError{Error: "a request from another site (Origin " + strconv.Quote(r.Header.Get("Origin")) + "): only this page, or a client that is not a browser, can start or cancel runs"})
	}))
	s.handler = s.guardHost(csrf.Handler(m))
}

// guardHost refuses a request whose Host is not this server's own: an IP
// address, localhost, the listen address's name or one of Config.Hosts.
func (s *Server) guardHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.knownHost(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, apiError{Error: "unknown Host " + strconv.Quote(r.Host) + ": use the listener's address, or start it with --serve-host NAME"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// knownHost: an address, localhost, the listen address's name or one of
// Config.Hosts.
func (s *Server) knownHost(hostport string) bool {
	listen, _, _ := net.SplitHostPort(s.cfg.Addr)
	return httpx.KnownHost(hostport, append([]string{listen}, s.cfg.Hosts...)...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"`
	Param string `json:"param,omitempty"`
}

// create is POST /api/runs: it answers JSON, whatever the request asked.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	j, code, err := s.queueParams(r)
	if err != nil {
		s.badParams(w, code, err)
		return
	}
	w.Header().Set("Location", "/api/runs/"+j.id)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.id, "url": "/runs/" + j.id})
}

// createForm is POST /runs, the page's form posted without JavaScript: it
// goes on to the permalink, or says in plain text what is wrong.
func (s *Server) createForm(w http.ResponseWriter, r *http.Request) {
	j, code, err := s.queueParams(r)
	if err != nil {
		http.Error(w, err.Error()+" (go back to the form and change it)", code)
		return
	}
	http.Redirect(w, r, "/runs/"+j.id, http.StatusSeeOther)
}

// queueParams reads, checks and queues the parameters of r; on failure it
// returns the status to answer.
func (s *Server) queueParams(r *http.Request) (*job, int, error) {
	p, err := ReadParams(r)
	if err != nil {
		return nil, paramStatus(err), err
	}
	sc, err := p.Scenario(s.cfg.MaxRuns, s.cfg.MaxCells)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	if err := s.checkBrowsers(sc); err != nil {
		return nil, http.StatusBadRequest, err
	}
	j, err := s.submit(sc, p)
	if err != nil {
		return nil, http.StatusServiceUnavailable, err
	}
	return j, 0, nil
}

func paramStatus(err error) int {
	if errors.Is(err, ErrBodyTooLarge) || errors.Is(err, site.ErrHARTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func (s *Server) badParams(w http.ResponseWriter, code int, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		writeJSON(w, code, apiError{Error: pe.Error(), Param: pe.Param})
		return
	}
	writeJSON(w, code, apiError{Error: err.Error()})
}

func (s *Server) listRuns(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"runs": s.list()})
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *job {
	j := s.job(r.PathValue("id"))
	if j == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no run %q (finished runs are kept up to %d; GET /api/runs lists them)", r.PathValue("id"), s.cfg.MaxKept)})
	}
	return j
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if j := s.lookup(w, r); j != nil {
		writeJSON(w, http.StatusOK, j.snapshot())
	}
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	j := s.lookup(w, r)
	if j == nil {
		return
	}
	if !s.cancelJob(j, "cancelled by the visitor") {
		writeJSON(w, http.StatusConflict, apiError{Error: "the run has already finished"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.id, "status": "cancelling"})
}

// events streams a run's changes as Server-Sent Events: "status" when it
// changes, "progress" with loads done and planned, "cell" with the cells
// measured so far, and "end" with the final snapshot, after which the
// stream closes.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	j := s.lookup(w, r)
	if j == nil {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "streaming unsupported"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	lastStatus, lastCells, lastDone := "", -1, -1
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		snap, changed := j.watch()
		if snap.Status != lastStatus {
			lastStatus = snap.Status
			if !send("status", map[string]string{"status": snap.Status, "error": snap.Error}) {
				return
			}
		}
		if snap.Progress.Done != lastDone {
			lastDone = snap.Progress.Done
			if !send("progress", snap.Progress) {
				return
			}
		}
		if len(snap.Results) != lastCells {
			lastCells = len(snap.Results)
			if !send("cell", map[string]int{"cells": lastCells}) {
				return
			}
		}
		if snap.finished() {
			snap.Results = nil
			send("end", snap)
			return
		}
		select {
		case <-changed:
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			// The server stops: one last look (the run is being cancelled).
			snap := j.snapshot()
			snap.Results = nil
			send("end", snap)
			return
		}
	}
}
