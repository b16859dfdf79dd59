package h1

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads a TCP connection's non-blocking socket with raw system
// calls, which return at once (EAGAIN when nothing has arrived, and the
// connection's poller then waits as net.Conn's own Read does, deadlines
// included); writes are net.Conn's. A raw call keeps the goroutine's
// processor instead of announcing a system call to the runtime: at a few
// thousand requests a second on a mostly idle process, each announced
// call woke the runtime's monitor thread from its deep sleep, which then
// polled every 20 µs until the process was idle again, and that thread's
// wakeups cost more CPU per request than the load generator's own work
// (see docs/benchmarks.md, "Beside vegeta"). A read, half of them finding
// nothing, only copies what has arrived; a write on loopback also delivers
// the data to the server inside the call, so it stays announced and the
// runtime may hand its processor to other work if it is long.
type rawIO struct {
	net.Conn
	rc syscall.RawConn
}

// withRawIO wraps c when it is a TCP connection; others are returned as
// they are.
func withRawIO(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &rawIO{Conn: c, rc: rc}
}

// SyscallConn is the socket's (connAlive peeks through it).
func (c *rawIO) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

func (c *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// opError is err as net.Conn's own Read reports it (the raw call's
// errors name "raw-read").
func (c *rawIO) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
