package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// Progress draws a one-line progress bar, redrawn in place with a carriage
// return: loads done of planned, elapsed time and the cell being measured.
// It is meant for a terminal's standard error.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	width int
	last  int
}

// NewProgress returns a bar writing to w.
func NewProgress(w io.Writer) *Progress {
	return &Progress{w: w, start: time.Now(), width: 30}
}

// Update redraws the bar; it fits experiment.Options.Progress.
func (p *Progress) Update(done, total int, c experiment.Cell) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if total <= 0 {
		total = 1
	}
	filled := p.width * done / total
	bar := strings.Repeat("#", filled) + strings.Repeat(".", p.width-filled)
	line := fmt.Sprintf("[%s] %3d%% %d/%d loads %s  %s %s %s %s %s %dms",
		bar, 100*done/total, done, total, time.Since(p.start).Round(time.Second),
		c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS)
	pad := ""
	if n := p.last - len(line); n > 0 {
		pad = strings.Repeat(" ", n) // erase the tail of a longer line
	}
	p.last = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// Done ends the bar's line.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w)
}
