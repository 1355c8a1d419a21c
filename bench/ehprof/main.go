// Command ehprof runs an earlyhints command in-process with CPU and
// allocation profiling on, for bench/profile.sh: it is cmd/earlyhints with
// runtime/pprof around cli.Main, so the profiled code is exactly the
// product's.
//
//	ehprof -cpuprofile cpu.pprof -memprofile allocs.pprof -- proxy --origin http://127.0.0.1:9000 ...
//
// The CPU and allocation profiles are written when the command ends
// (SIGINT or SIGTERM for proxy), a heap profile on each SIGUSR1. Read them with go tool pprof.
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
	heapFile := flag.String("heapprofile", "", "write a heap profile to `file` on each SIGUSR1 (what is live now: idle connections, learned routes)")
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
	if *heapFile != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				runtime.GC()
				if err := writeProfile("heap", *heapFile); err != nil {
					fmt.Fprintf(os.Stderr, "ehprof: %v\n", err)
				}
			}
		}()
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
		if err := writeProfile("allocs", *memFile); err != nil {
			fmt.Fprintf(os.Stderr, "ehprof: %v\n", err)
			code = 2
		}
	}
	os.Exit(code)
}

func writeProfile(name, path string) error {
	f, err := os.Create(path) //nolint:gosec // the path is the -cpuprofile/-memprofile flag of whoever runs the bench
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write %s profile: %w", name, err)
	}
	return f.Close()
}
