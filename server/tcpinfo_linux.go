package server

import (
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tcpPath reads TCP_INFO of one connection. Its buffer and callback are
// made once, so a reading does not allocate; the mutex serialises the
// streams of one HTTP/2 connection.
type tcpPath struct {
	rc   syscall.RawConn
	mu   sync.Mutex
	info unix.TCPInfo
	len  uint32
	err  syscall.Errno
	read func(fd uintptr)
}

func newTCPPath(c net.Conn) pathReader {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &tcpPath{rc: rc}
	p.read = p.getsockopt
	return p
}

func (p *tcpPath) getsockopt(fd uintptr) {
	p.len = uint32(unsafe.Sizeof(p.info))
	// unix.GetsockoptTCPInfo would allocate a TCPInfo per read; this one
	// reuses p.info.
	_, _, p.err = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(&p.info)), uintptr(unsafe.Pointer(&p.len)), 0) //nolint:gosec // G103: getsockopt writes into p.info and p.len, sized above
}

func (p *tcpPath) path() (time.Duration, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.rc.Control(p.read); err != nil || p.err != 0 {
		return 0, 0
	}
	rtt := time.Duration(p.info.Rtt) * time.Microsecond
	// The byte after tcpi_options and the window scales holds the
	// tcpi_delivery_rate_app_limited bit: a sample taken while the server
	// had nothing more to send (the handshake, a small page) says nothing
	// of the link.
	appLimited := *(*uint8)(unsafe.Add(unsafe.Pointer(&p.info), 7))&1 != 0 //nolint:gosec // G103: unix.TCPInfo has no field for this bit field; byte 7 is within the struct
	var bandwidth int64
	if !appLimited && p.info.Delivery_rate > 0 {
		bandwidth = int64(min(p.info.Delivery_rate, 1<<59)) * 8
	}
	return rtt, bandwidth
}
