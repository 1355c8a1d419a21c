package netem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// nsPrefix starts the name of every namespace this package creates; names
// are nsPrefix-{c|s}-PID-RANDOM so SweepStale can tell a crashed run's
// namespaces from a live one's.
const nsPrefix = "ehlab-"

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// tunName is the TUN device's name inside each namespace (alone there, so it
// cannot collide with another run's).
const tunName = "ehtun0"

// ipCmd runs the iproute2 `ip` tool and folds its stderr into the error.
func ipCmd(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...) //nolint:gosec // a fixed binary; the arguments are names this package builds
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// inNamespace runs fn on an OS thread switched into the named namespace. Only
// sockets and devices fn creates on that thread land in the namespace;
// goroutines it starts run elsewhere.
func inNamespace(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// If switching back fails the thread stays locked, and the runtime
		// ends it with the goroutine rather than reuse it in the wrong
		// namespace.
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(filepath.Join(netnsDir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open network namespace %s: %w", name, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// openTUN creates a TUN device (IP packets, no packet-info header) in the
// current thread's namespace. The device lives as long as the file.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	req, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create TUN device %s: %w", name, err)
	}
	req.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, req); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create TUN device %s: %w", name, err)
	}
	// Non-blocking, so the runtime poller serves reads and Close interrupts them.
	return os.NewFile(uintptr(fd), "tun:"+name), nil
}

// SweepStale deletes network namespaces left behind by runs of this package
// whose process is gone (a crash or kill -9 skips Close). It leaves alone
// namespaces of live processes, including this one, and returns the names it
// removed.
func SweepStale(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, nsPrefix) || ownerAlive(name) {
			continue
		}
		if err := ipCmd(ctx, "netns", "del", name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// ownerAlive reports whether the process named in a namespace's name still
// runs. Names that do not parse are treated as orphans.
func ownerAlive(name string) bool {
	parts := strings.Split(strings.TrimPrefix(name, nsPrefix), "-")
	if len(parts) != 3 {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
