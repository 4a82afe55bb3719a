//go:build linux

package bridge

import "syscall"

// readable is the body of the wait for a readable socket: a byte to
// peek at, the peer's close, or an error the next read will meet ends
// it; nothing yet (EAGAIN) lets the runtime's poller wait.
func (c *wsConn) readable(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), c.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN //nolint:errorlint // a raw errno
}
