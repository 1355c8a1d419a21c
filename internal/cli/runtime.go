package cli

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGCPercent is the GC target of proxy and demo when GOGC is not set.
// A proxy keeps little live memory (the hints) and allocates a few KB per
// request, so at Go's default of 100 it collects many times a second under
// load; at 400 it spends about a quarter less CPU per request for a heap up
// to five times the live data (measured in bench/README.md).
const defaultGCPercent = 400

// cgroupMemoryMax is where cgroup v2 states the container's memory limit.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// tuneRuntime sets the GC target and, inside a container with a memory
// limit, a soft memory limit at 90 % of it (so the larger GC target never
// runs the process out of memory), unless GOGC and GOMEMLIMIT say otherwise.
func tuneRuntime(logger *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	b, err := os.ReadFile(cgroupMemoryMax)
	if err != nil {
		return
	}
	if limit, ok := parseMemoryMax(string(b)); ok {
		debug.SetMemoryLimit(limit / 10 * 9)
		logger.Debug("soft memory limit set from the cgroup", "bytes", limit/10*9)
	}
}

// parseMemoryMax reads cgroup v2's memory.max: a byte count, or "max" for
// none.
func parseMemoryMax(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
