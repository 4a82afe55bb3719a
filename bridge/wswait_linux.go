//go:build linux

package bridge

import (
	"net"
	"syscall"
)

// socketWaiter returns the descriptor access of raw when it is a plain
// TCP socket (a listen.TCPConn or a *net.TCPConn; not TLS, whose records
// are buffered above the socket), else nil.
func socketWaiter(raw net.Conn) syscall.RawConn {
	type socket interface{ Socket() *net.TCPConn }
	var tc *net.TCPConn
	switch c := raw.(type) {
	case *net.TCPConn:
		tc = c
	case socket:
		tc = c.Socket()
	default:
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readable is the body of the wait for a readable socket: a byte to
// peek at, the peer's close, or an error the next read will meet ends
// it; nothing yet (EAGAIN) lets the runtime's poller wait.
func (c *wsConn) readable(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), c.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN //nolint:errorlint // a raw errno
}
