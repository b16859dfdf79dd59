//go:build !linux

package h1

import "net"

// withRawIO is c: raw socket calls are made on Linux only.
func withRawIO(c net.Conn) net.Conn { return c }
