// Package serve is the lab's "Try it" page: `earlyhints lab --serve ADDR`.
// A visitor picks a page, a network, the server's think time, protocols,
// strategies, cache state, browser and run count; the comparison goes into
// a bounded queue and runs one at a time (lab/experiment), its progress
// streams to the page as Server-Sent Events, and its results draw as they
// land, with the report's drawing code (lab/report): waterfalls side by
// side, render bars per strategy with the analytic bound, what each
// strategy wasted.
//
// The JSON API:
//
//	POST /api/runs            form-encoded or JSON parameters → 202 {"id", "url"}
//	POST /runs                the page's form without JavaScript → 303 to the permalink
//	GET  /api/runs            the runs kept, newest first
//	GET  /api/runs/ID         {"status": "queued|running|done|failed|cancelled", "progress", "results"}
//	GET  /api/runs/ID/events  Server-Sent Events: status, progress, cell, end
//	POST /api/runs/ID/cancel  (or DELETE /api/runs/ID) cancels a queued or running run
//	GET  /runs/ID             the permalink: table and SVG rendered on the server
//
// A run's browsers and emulated links are torn down when it ends, is
// cancelled, or the server stops. A POST from another origin, and any
// request whose Host is not the server's own, is refused.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/lab/experiment"
)

// Config configures a Server. The zero value serves on 127.0.0.1:8080 with
// the limits below.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:8080". An address that
	// is not loopback needs AllowRemote: a comparison runs browsers and
	// relays on this machine for whoever asks.
	Addr        string
	AllowRemote bool
	// Hosts are the host names (without port) the page may be reached by,
	// besides IP addresses, localhost and Addr's own name; any other Host
	// is refused, so that a web page whose name is rebound to this address
	// cannot drive it.
	Hosts []string
	// MaxQueued bounds the runs waiting (the running one excluded); more
	// are refused with 503. Default 8.
	MaxQueued int
	// MaxKept bounds the finished runs kept for their permalinks; the
	// oldest go first. Default 50.
	MaxKept int
	// MaxRuns bounds the runs per cell of one request (default 10);
	// MaxCells the cells of one request (default 40).
	MaxRuns, MaxCells int
	// RunBudget bounds one comparison. Default 10m.
	RunBudget time.Duration
	// Run measures a scenario. Default experiment.Run.
	Run func(context.Context, *experiment.Scenario, experiment.Options) (*experiment.Results, error)
	// ChromiumBinary is the Chromium to offer. Default: found as
	// lab/chromium finds it; none found means the model only.
	ChromiumBinary string
	// Netem is the emulation mode of the runs. Default relay.
	Netem experiment.NetemMode
	// Logger receives notes. Default slog.Default().
	Logger *slog.Logger
}

// ErrConfig reports a Config that cannot be served.
var ErrConfig = errors.New("serve: invalid config")

func (c *Config) applyDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = 8
	}
	if c.MaxKept <= 0 {
		c.MaxKept = 50
	}
	if c.MaxRuns <= 0 {
		c.MaxRuns = 10
	}
	if c.MaxCells <= 0 {
		c.MaxCells = 40
	}
	if c.RunBudget <= 0 {
		c.RunBudget = 10 * time.Minute
	}
	if c.Run == nil {
		c.Run = experiment.Run
	}
	if c.Netem == "" {
		c.Netem = experiment.Relay
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// CheckAddr refuses an address that is not loopback unless allowRemote.
func CheckAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrConfig, addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %s is not a loopback address; the page starts browsers and network emulators on this machine for anyone who reaches it: pass --allow-remote to serve it there anyway", ErrConfig, addr)
	}
	return nil
}

// Server is the Try-it page and its API.
type Server struct {
	cfg          Config
	haveChromium bool
	handler      http.Handler
	// wake tells the worker that a run was queued.
	wake chan struct{}

	mu sync.Mutex
	// queued are the runs waiting, oldest first: a cancelled one leaves
	// at once, so it never holds a place another could take.
	queued []*job
	jobs   map[string]*job
	order  []string // ids, oldest first
	nextID int
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg and starts the worker that runs the queue. Close
// stops it.
func New(cfg Config) (*Server, error) {
	cfg.applyDefaults()
	if err := CheckAddr(cfg.Addr, cfg.AllowRemote); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, wake: make(chan struct{}, 1), jobs: map[string]*job{}}
	if _, err := chromium.FindBinary(chromium.Config{Binary: cfg.ChromiumBinary}); err == nil {
		s.haveChromium = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	s.wg.Add(1)
	go s.work()
	return s, nil
}

// Handler returns the page and the API, refusing foreign Hosts and
// cross-origin POSTs.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe serves on Config.Addr until ctx ends, then stops the
// running comparison and returns.
func (s *Server) ListenAndServe(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.Close() // ends the event streams and the running comparison first
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

// Close cancels every queued and running comparison and waits for the
// running one to tear its browsers and links down.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, j := range s.jobs {
		j.cancelRun("the server stopped")
	}
	s.queued = nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// work runs the queue, one comparison at a time.
func (s *Server) work() {
	defer s.wg.Done()
	for {
		if j := s.next(); j != nil {
			s.runJob(j)
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
	}
}

// next takes the oldest queued run off the queue, or returns nil.
func (s *Server) next() *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.queued) == 0 {
		return nil
	}
	j := s.queued[0]
	s.queued = s.queued[1:]
	return j
}

// cancelJob cancels a queued or running run; a queued one leaves the queue
// at once. False if it had finished.
func (s *Server) cancelJob(j *job, reason string) bool {
	if !j.cancelRun(reason) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = slices.DeleteFunc(s.queued, func(q *job) bool { return q == j })
	return true
}

func (s *Server) runJob(j *job) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RunBudget)
	if !j.start(cancel) {
		cancel()
		return // cancelled while queued
	}
	defer cancel()
	res, err := s.cfg.Run(ctx, j.scenario, experiment.Options{
		Netem:          s.cfg.Netem,
		ChromiumBinary: s.cfg.ChromiumBinary,
		Logger:         s.cfg.Logger,
		Progress:       j.progress,
		OnCell:         j.cell,
	})
	j.finish(res, err)
	s.cfg.Logger.Info("lab serve: run ended", "id", j.id, "status", j.snapshot().Status)
}

// checkBrowsers refuses Chromium when this server has none.
func (s *Server) checkBrowsers(sc *experiment.Scenario) error {
	if !s.haveChromium && slices.Contains(sc.Browsers(), experiment.BrowserChromium) {
		return bad("browser", "Chromium is not installed on this server (apt-get install chromium); use model")
	}
	return nil
}

// submit queues a scenario; it fails when the queue is full.
func (s *Server) submit(sc *experiment.Scenario, params Params) (*job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("the server is stopping")
	}
	if len(s.queued) >= s.cfg.MaxQueued {
		return nil, fmt.Errorf("%d comparisons are already waiting; try again when one has finished", s.cfg.MaxQueued)
	}
	s.nextID++
	j := newJob(strconv.Itoa(s.nextID), sc, params)
	s.queued = append(s.queued, j)
	select {
	case s.wake <- struct{}{}:
	default: // the worker has been told already
	}
	s.jobs[j.id] = j
	s.order = append(s.order, j.id)
	s.evict()
	return j, nil
}

// evict drops the oldest finished runs beyond MaxKept. Queued and running
// ones are kept: the queue bounds them.
func (s *Server) evict() {
	for len(s.order) > s.cfg.MaxKept {
		dropped := false
		for i, id := range s.order {
			if s.jobs[id].snapshot().finished() {
				delete(s.jobs, id)
				s.order = append(s.order[:i], s.order[i+1:]...)
				dropped = true
				break
			}
		}
		if !dropped {
			return
		}
	}
}

func (s *Server) job(id string) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id]
}

// list returns the runs kept, newest first.
func (s *Server) list() []Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Snapshot, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		snap := s.jobs[s.order[i]].snapshot()
		snap.Results = nil
		out = append(out, snap)
	}
	return out
}
