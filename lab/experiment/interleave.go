package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// groupKey is the key of c's conditions without its strategy: the cells
// sharing it are compared with each other.
func groupKey(c Cell) string {
	c.Strategy = ""
	return c.Key()
}

// groupCells splits cells into groups that differ only by strategy, as
// indices into cells: the groups in the order of their first cell, the
// cells of a group in declaration order.
func groupCells(cells []Cell) [][]int {
	index := map[string]int{}
	var groups [][]int
	for i, c := range cells {
		k := groupKey(c)
		g, ok := index[k]
		if !ok {
			g = len(groups)
			index[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// roundOrder is the order in which round i measures the cells: rotated by
// one each round (none, early-hints, then early-hints, none, …), so every
// strategy takes every place in the round equally often and whatever
// changes on the machine during the group lands on all of them.
func roundOrder[T any](cells []T, round int) []T {
	n := len(cells)
	out := make([]T, 0, n)
	for k := range n {
		out = append(out, cells[(k+round)%n])
	}
	return out
}

// runGroup measures the cells of one group: every stack is built (and
// primed, for the strategies that learn), then round after round run i of
// every cell is measured in turn. The stacks are released when the group
// ends, so a scenario holds at most one group's stacks at a time.
func runGroup(ctx context.Context, members []*cellRun, logger *slog.Logger) {
	defer func() {
		for _, r := range members {
			r.close()
		}
	}()
	var ready []*cellRun
	for _, r := range members {
		if err := ctx.Err(); err != nil {
			r.cr.Skipped = err.Error()
			continue
		}
		if err := r.setup(ctx); err != nil {
			r.cr.Skipped = err.Error()
			r.close()
			continue
		}
		ready = append(ready, r)
	}
	rounds := 0
	for _, r := range ready {
		rounds = max(rounds, r.c.Runs)
	}
	for i := 0; i < rounds && ctx.Err() == nil; i++ {
		place := 0
		for _, r := range roundOrder(ready, i) {
			if i >= r.c.Runs || ctx.Err() != nil {
				continue
			}
			r.runOnce(ctx, i, place, logger)
			place++
		}
	}
}

// runOnce measures run i of the cell, the place-th of its round, with the
// machine's load and the lab's CPU time; a run taken on a busy machine is
// measured again within the bounds of busyState.
func (r *cellRun) runOnce(ctx context.Context, round, place int, logger *slog.Logger) {
	cr := r.cr
	for attempt := 0; ; attempt++ {
		began := time.Now()
		before, _ := r.busy.read()
		self0, child0 := cpuTimes()
		m, err := r.measure(ctx, r.st, cr)
		self1, child1 := cpuTimes()
		after, _ := r.busy.read()
		r.progress.step(r.c)
		if attempt > 0 {
			r.busy.spend(time.Since(began))
		}
		if err != nil {
			cr.Failures++
			cr.Errors = appendCapped(cr.Errors, err.Error())
			logger.Debug("experiment: run failed", "cell", r.c.Key(), "run", round, "err", err)
			return
		}
		x := sampleOf(m)
		x.Round, x.Place = round, place
		x.Load1 = max(before, after)
		x.CPUMS, x.ChildCPUMS = ms(self1-self0), ms(child1-child0)
		if wall := ms(time.Since(began)); wall > 0 {
			x.OwnLoad = min((x.CPUMS+x.ChildCPUMS)/wall, float64(max(r.opts.CPUs, 1)))
		}
		r.busy.own = x.OwnLoad
		x.Retries = attempt
		if r.busy.isBusy(x.Load1) {
			if attempt < r.opts.BusyRetries && ctx.Err() == nil && r.busy.wait(ctx) {
				cr.BusyDropped++
				r.progress.extend(r.c)
				logger.Debug("experiment: busy run measured again", "cell", r.c.Key(), "run", round, "load1", x.Load1)
				continue
			}
			x.Busy = true
			logger.Debug("experiment: busy run kept", "cell", r.c.Key(), "run", round, "load1", x.Load1)
		}
		cr.Samples = append(cr.Samples, x)
		cr.waterfalls = append(cr.waterfalls, m.Waterfall)
		cr.hinted = append(cr.hinted, m.EarlyHinted)
		return
	}
}

// busyState judges runs against the load threshold and holds what is left
// of the time the scenario may spend on busy waits and retries.
type busyState struct {
	opts      Options
	allowance time.Duration
	// own is the lab's own share of the load: its CPU time and its
	// browsers' over the latest run, per second of the run. The load
	// average counts the lab's processes too; only the rest is others'.
	own float64
}

// read returns the 1-minute load average, 0 when it cannot be read.
func (b *busyState) read() (float64, error) {
	x, err := b.opts.ReadLoad()
	if err != nil {
		return 0, fmt.Errorf("experiment: load: %w", err)
	}
	return x, nil
}

func (b *busyState) isBusy(load1 float64) bool {
	return b.opts.BusyLoad > 0 && b.opts.CPUs > 0 && (load1-b.own)/float64(b.opts.CPUs) > b.opts.BusyLoad
}

func (b *busyState) spend(d time.Duration) { b.allowance -= d }

// wait waits up to BusyWait (and what is left of the allowance) for the
// load to fall under the threshold; it reports whether a retry may go
// ahead: false once the allowance is spent or ctx has ended.
func (b *busyState) wait(ctx context.Context) bool {
	if b.allowance <= 0 {
		return false
	}
	began := time.Now()
	defer func() { b.spend(time.Since(began)) }()
	deadline := began.Add(min(b.opts.BusyWait, b.allowance))
	tick := max(min(time.Second, b.opts.BusyWait/5), time.Millisecond)
	for {
		if x, err := b.read(); err != nil || !b.isBusy(x) || !time.Now().Before(deadline) {
			return true
		}
		t := time.NewTimer(tick)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// tracker counts the loads done against those planned for Progress.
type tracker struct {
	done, total int
	report      func(done, total int, cell Cell)
}

// step counts one load of c done.
func (p *tracker) step(c Cell) {
	p.done++
	p.show(c)
}

// extend plans the loads of one more run of c (a busy run's retry).
func (p *tracker) extend(c Cell) {
	p.total++
	if c.Cache == Warm {
		p.total++
	}
}

// skip counts as done the n loads of c that will not be made.
func (p *tracker) skip(c Cell, n int) {
	p.done += n
	p.show(c)
}

func (p *tracker) show(c Cell) {
	if p.report != nil {
		p.report(min(p.done, p.total), p.total, c)
	}
}
