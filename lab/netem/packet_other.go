//go:build !linux

package netem

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
)

// PacketNet is packet mode, available on Linux only.
type PacketNet struct{}

// NewPacketNet reports ErrUnsupported off Linux.
func NewPacketNet(context.Context, PacketConfig) (*PacketNet, error) { return nil, ErrUnsupported }

// SweepStale has nothing to sweep off Linux.
func SweepStale(context.Context) ([]string, error) { return nil, nil }

// CloseAll has nothing to close off Linux.
func CloseAll() error { return nil }

func (*PacketNet) ClientAddr() netip.Addr                       { return netip.Addr{} }
func (*PacketNet) ServerAddr() netip.Addr                       { return netip.Addr{} }
func (*PacketNet) Namespace(Side) string                        { return "" }
func (*PacketNet) Stats() (up, down LinkStats)                  { return }
func (*PacketNet) RunIn(Side, func() error) error               { return ErrUnsupported }
func (*PacketNet) RunInServer(func() error) error               { return ErrUnsupported }
func (*PacketNet) RunInClient(func() error) error               { return ErrUnsupported }
func (*PacketNet) ListenTCP(string) (net.Listener, error)       { return nil, ErrUnsupported }
func (*PacketNet) ListenUDP(string) (*net.UDPConn, error)       { return nil, ErrUnsupported }
func (*PacketNet) ListenClientUDP(string) (*net.UDPConn, error) { return nil, ErrUnsupported }
func (*PacketNet) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, ErrUnsupported
}

func (*PacketNet) Command(ctx context.Context, _ Side, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}
func (*PacketNet) Close() error { return nil }
