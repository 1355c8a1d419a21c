package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time: go build -ldflags "-X github.com/earlyhints/earlyhints/internal/cli.version=v1.2.3 -X ...commit=abc".
var (
	version = "dev"
	commit  = ""
)

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", "  earlyhints version\n", stdout, stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if len(c) > 12 {
		c = c[:12]
	}
	if c != "" {
		c = " " + c
	}
	fmt.Fprintf(stdout, "earlyhints %s%s %s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
