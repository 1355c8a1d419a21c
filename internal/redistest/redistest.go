// Package redistest runs a throwaway redis-server for tests: its own
// directory, a free loopback port, no persistence, killed at cleanup.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process the test started.
type Server struct {
	// Addr is host:port on loopback; URL is redis://Addr/0.
	Addr, URL string

	t    testing.TB
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// Start runs redis-server on a free loopback port. Without redis-server
// it skips the test, or fails it when CI=true (make test installs it).
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith is Start with more redis-server settings, which override the
// defaults (64mb maxmemory, volatile-ttl): for example "--maxmemory",
// "2mb", "--maxmemory-policy", "allkeys-lru".
func StartWith(t testing.TB, args ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found; install it (apt-get install redis-server) or run make test")
		}
		t.Skip("redis-server not found (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &Server{t: t, port: port, dir: t.TempDir(), args: args, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.URL = "redis://" + s.Addr + "/0"
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	args := append([]string{
		"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--maxmemory", "64mb", "--maxmemory-policy", "volatile-ttl",
	}, s.args...)
	//nolint:gosec // G204: the arguments are this package's own: a free port, a temporary directory and the test's settings
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	// Wait for it to answer: a bounded number of tries, not a time bound
	// on anything under test.
	for range 500 {
		if s.ping() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill()
	s.t.Fatalf("redis-server on %s never answered PING", s.Addr)
}

func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Kill stops the server with SIGKILL, as a crash would; it is idempotent.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Freeze stops the process (SIGSTOP): the port still accepts connections
// but nothing answers. Thaw resumes it.
func (s *Server) Freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Do runs one command on a connection of its own and returns the reply
// as text (an array's elements one per line, nil as ""); an error reply
// is returned as an error. It is for setting up and inspecting a test's
// server (CONFIG SET, INFO, SET of a hostile value), not for load.
func (s *Server) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

// MustDo is Do that fails the test on an error.
func (s *Server) MustDo(args ...string) string {
	s.t.Helper()
	out, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redis %v: %v", args, err)
	}
	return out
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply line")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", fmt.Errorf("%s", body)
	case '$':
		var n int
		if _, err := fmt.Sscan(body, &n); err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		var n int
		if _, err := fmt.Sscan(body, &n); err != nil || n < 0 {
			return "", err
		}
		parts := make([]string, 0, n)
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unknown reply %q", line)
}

// Info returns one field of INFO (such as used_memory), or "".
func (s *Server) Info(field string) string {
	s.t.Helper()
	for _, l := range strings.Split(s.MustDo("INFO"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), field+":"); ok {
			return v
		}
	}
	return ""
}
