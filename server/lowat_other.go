//go:build !linux && !darwin

package server

import "net"

// setNotSentLowat does nothing where TCP_NOTSENT_LOWAT does not exist.
func setNotSentLowat(net.Conn) {}
