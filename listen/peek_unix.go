//go:build unix

package listen

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// peekTCP reads the first byte of tc without consuming it (MSG_PEEK), so
// that the connection can be handed on as the *net.TCPConn it is: the RTMP
// writer's vectored writes (writev through net.Buffers) need the concrete
// type, which a wrapper would hide. It honors tc's read deadline.
func peekTCP(tc *net.TCPConn) (byte, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var b [1]byte
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		return !errors.Is(rerr, syscall.EAGAIN) && !errors.Is(rerr, syscall.EINTR)
	})
	switch {
	case err != nil:
		return 0, err // deadline, closed
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return b[0], nil
}
