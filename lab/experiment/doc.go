// Package experiment runs the lab's matrix: page loads of a synthetic site
// through the real earlyhints stack (middleware, reverse proxy, TLS/QUIC
// server) over an emulated network, for each strategy (no hints, preload in
// the HTML, HTTP/2 push, cache-aware push, Early Hints), protocol (HTTP/1.1,
// HTTP/2, HTTP/3), cache state (cold, warm), network profile and server
// think time, a number of times each.
//
// A Scenario, read from YAML, declares the matrix; Run executes it within
// per-run and total time bounds and returns one CellResult per cell: medians
// and interquartile ranges of the first-render time, page load time, bytes
// and wasted bytes, the gain over the no-hint baseline of the same
// conditions and, for Early Hints, the analytic bound on its saving,
// min(T + δ, RTT + x_R), with the measured gain as a fraction of it.
//
// The numbers are meant to hold on a shared machine. The cells that differ
// only by strategy are measured together, their runs interleaved round by
// round with the order rotated, so a change on the machine lands on every
// strategy alike; a gain is the median of the paired differences (run i
// against run i of the baseline) with a bootstrap confidence interval
// (MedianCI). Every run records the machine's 1-minute load average and the
// lab's CPU time; a run taken on a busy machine is measured again within
// bounds, or kept flagged, and LoadSummary says whether the scenario as a
// whole was measured on a busy machine.
//
// Nothing is faked: a strategy whose machinery is unavailable under some
// conditions (push over HTTP/1.1 or HTTP/3, a browser this build does not
// drive) is reported as skipped with the reason.
package experiment
