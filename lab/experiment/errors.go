package experiment

import "errors"

// Sentinel errors; wrapped errors carry the detail.
var (
	// ErrBadScenario reports a scenario that cannot be run as written.
	ErrBadScenario = errors.New("experiment: invalid scenario")
	// ErrUnavailable reports a strategy or browser this build cannot run.
	ErrUnavailable = errors.New("experiment: unavailable")
	// ErrBudget reports that the scenario's total time budget ran out.
	ErrBudget = errors.New("experiment: time budget exhausted")
	// ErrCellFailed reports cells that could not be measured (a missing
	// or crashed browser, a timeout) or had failed runs.
	ErrCellFailed = errors.New("experiment: some cells failed")
)
