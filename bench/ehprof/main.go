// Command ehprof runs an earlyhints command in-process with CPU and
// allocation profiling on, for bench/profile.sh: it is cmd/earlyhints with
// runtime/pprof around cli.Main, so the profiled code is exactly the
// product's.
//
//	ehprof -cpuprofile cpu.pprof -memprofile allocs.pprof -- proxy --origin http://127.0.0.1:9000 ...
//
// The profiles are written when the command ends (SIGINT or SIGTERM for
// proxy). Read them with go tool pprof.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/earlyhints/earlyhints/internal/cli"
)

func main() {
	cpuFile := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	memFile := flag.String("memprofile", "", "write an allocation profile (allocs) to `file` at exit")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate: sample one allocation per this many bytes (0: Go's default, 512 KiB)")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	var cpuOut *os.File
	if *cpuFile != "" {
		f, err := os.Create(*cpuFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ehprof: %v\n", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "ehprof: start CPU profile: %v\n", err)
			os.Exit(2)
		}
		cpuOut = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, flag.Args(), os.Stdout, os.Stderr)
	stop()
	if cpuOut != nil {
		pprof.StopCPUProfile()
		if err := cpuOut.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "ehprof: %v\n", err)
			code = 2
		}
	}
	if *memFile != "" {
		if err := writeAllocs(*memFile); err != nil {
			fmt.Fprintf(os.Stderr, "ehprof: %v\n", err)
			code = 2
		}
	}
	os.Exit(code)
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write allocation profile: %w", err)
	}
	return f.Close()
}
