package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// The statuses of a run.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusDone      = "done"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Progress is how far a run is: page loads done of planned, and the cell
// being measured.
type Progress struct {
	Done  int    `json:"done"`
	Total int    `json:"total"`
	Cell  string `json:"cell,omitempty"`
}

// Snapshot is a run as the API shows it.
type Snapshot struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Status   string    `json:"status"`
	Params   Params    `json:"params"`
	Created  time.Time `json:"created"`
	Progress Progress  `json:"progress"`
	// Error says why a run failed or was cancelled, or which cells failed.
	Error   string                  `json:"error,omitempty"`
	Results []experiment.CellResult `json:"results"`
	Elapsed float64                 `json:"elapsed_s,omitempty"`
	// Version counts the changes, for the event stream.
	Version int `json:"-"`
}

func (s Snapshot) finished() bool {
	return s.Status == StatusDone || s.Status == StatusFailed || s.Status == StatusCancelled
}

// job is one comparison: its scenario, its state, and the watchers of its
// event stream.
type job struct {
	id       string
	scenario *experiment.Scenario

	mu       sync.Mutex
	snap     Snapshot
	res      *experiment.Results
	cancel   context.CancelFunc
	changed  chan struct{} // closed and replaced on every change
	cancelBy string
}

func newJob(id string, sc *experiment.Scenario, p Params) *job {
	return &job{id: id, scenario: sc, changed: make(chan struct{}), snap: Snapshot{
		ID: id, URL: "/runs/" + id, Status: StatusQueued, Params: p, Created: time.Now().UTC(), Results: []experiment.CellResult{},
	}}
}

// update changes the snapshot under the lock and wakes the watchers.
func (j *job) update(f func(*Snapshot)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(&j.snap)
	j.snap.Version++
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *job) snapshot() Snapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.snap
}

// watch returns the snapshot and a channel closed at its next change.
func (j *job) watch() (Snapshot, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.snap, j.changed
}

func (j *job) results() *experiment.Results {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.res
}

// start marks the job running; false if it was cancelled while queued.
func (j *job) start(cancel context.CancelFunc) bool {
	j.mu.Lock()
	if j.snap.Status != StatusQueued {
		j.mu.Unlock()
		return false
	}
	j.cancel = cancel
	j.mu.Unlock()
	j.update(func(s *Snapshot) { s.Status = StatusRunning })
	return true
}

func (j *job) progress(done, total int, c experiment.Cell) {
	j.update(func(s *Snapshot) { s.Progress = Progress{Done: done, Total: total, Cell: c.Key()} })
}

func (j *job) cell(res *experiment.Results) {
	j.mu.Lock()
	j.res = res
	j.mu.Unlock()
	j.update(func(s *Snapshot) { s.Results, s.Elapsed = res.Cells, res.Elapsed })
}

func (j *job) finish(res *experiment.Results, err error) {
	j.mu.Lock()
	if res != nil {
		j.res = res
	}
	reason := j.cancelBy
	j.mu.Unlock()
	j.update(func(s *Snapshot) {
		if res != nil {
			s.Results, s.Elapsed = res.Cells, res.Elapsed
		}
		switch {
		case reason != "":
			s.Status, s.Error = StatusCancelled, reason
		case err != nil && res == nil:
			s.Status, s.Error = StatusFailed, err.Error()
		case err != nil && errors.Is(err, experiment.ErrCellFailed):
			// The comparison ran; some cells say why they have no number.
			s.Status, s.Error = StatusDone, err.Error()
		case err != nil:
			s.Status, s.Error = StatusFailed, err.Error()
		default:
			s.Status = StatusDone
		}
	})
}

// cancelRun cancels a queued or running job; false if it had finished.
func (j *job) cancelRun(reason string) bool {
	j.mu.Lock()
	status, cancel := j.snap.Status, j.cancel
	if status == StatusQueued || status == StatusRunning {
		j.cancelBy = reason
	}
	j.mu.Unlock()
	switch status {
	case StatusQueued:
		j.update(func(s *Snapshot) { s.Status, s.Error = StatusCancelled, reason })
		return true
	case StatusRunning:
		if cancel != nil {
			cancel() // finish marks it cancelled once the run has torn down
		}
		return true
	}
	return false
}
