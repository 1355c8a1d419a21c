// Package cli is the earlyhints command line: one file per subcommand,
// standard flag parsing, and Main, which cmd/earlyhints calls.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks an error in the command line; its message was printed.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"proxy", "put Early Hints in front of an origin", runProxy},
		{"demo", "run a demo site behind the proxy on https://127.0.0.1:8443", runDemo},
		{"check", "show what a site's server sends as Early Hints and what is wrong with it", runCheck},
		{"lab", "measure no hints, preload, push and Early Hints over emulated networks", runLab},
		{"version", "print the version", runVersion},
	}
}

// Main runs the command line args (without the program name) until ctx is
// done and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" || name == "help" {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var code exitCode
		switch {
		case errors.As(err, &code):
			return int(code)
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			return exitUsage
		default:
			fmt.Fprintf(stderr, "earlyhints %s: %v\n", name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "earlyhints: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("earlyhints sends 103 Early Hints in front of any website: it learns which files\n" +
		"each page needs and tells the browser the moment a request arrives.\n\nUsage:\n  earlyhints <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'earlyhints <command> --help' for a command's flags and examples.\n")
	_, _ = io.WriteString(w, b.String())
}

// newFlagSet returns a flag set whose --help prints the synopsis, the
// examples and the flags to stdout.
func newFlagSet(name, synopsis, examples string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("earlyhints "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: earlyhints %s\n\n", synopsis)
		if examples != "" {
			fmt.Fprintf(fs.Output(), "Examples:\n%s\n", examples)
		}
		fmt.Fprintln(fs.Output(), "Flags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, sending --help to stdout, and maps errors to
// errUsage (the flag package has printed them).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// newLogger returns the process logger writing to w in format text or json.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
