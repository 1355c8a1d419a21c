package netem

import (
	"log/slog"
)

// Side names one end of an emulated network.
type Side int

const (
	// Client is the side whose packets travel the Up direction.
	Client Side = iota
	// Server is the side whose packets travel the Down direction.
	Server
)

func (s Side) String() string {
	if s == Server {
		return "server"
	}
	return "client"
}

// PacketConfig configures packet mode. The zero value is a perfect link.
type PacketConfig struct {
	// Profile shapes the link: Up from client to server, Down back.
	Profile Profile
	// Logger receives setup, teardown and drop notes. Default slog.Default().
	Logger *slog.Logger
}

// Validate reports whether the configuration can be emulated.
func (c PacketConfig) Validate() error { return c.Profile.Validate() }

func (c PacketConfig) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
