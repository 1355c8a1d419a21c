package stack

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/earlyhints/earlyhints/internal/logbuf"
)

// NewAccessLog returns the access log of `earlyhints proxy`, for
// Config.AccessLog: one line per request in format ("text", the default,
// or "json") written to w through a buffered, non-blocking writer, so a
// request appends its line to memory and never waits for w. Lines dropped
// because w fell behind are reported through logger (nil means
// slog.Default()). Close the writer once the server has stopped, to write
// out the last lines.
func NewAccessLog(format string, w io.Writer, logger *slog.Logger) (*slog.Logger, *logbuf.Writer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	bw := logbuf.New(w, logbuf.Config{OnDrop: func(n int) {
		logger.Warn("access log lines dropped: the log output is slower than the traffic", "lines", n)
	}})
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(bw, nil)), bw, nil
	case "json":
		return slog.New(slog.NewJSONHandler(bw, nil)), bw, nil
	}
	_ = bw.Close()
	return nil, nil, fmt.Errorf("--log-format %q: use text or json", format)
}
