//go:build !linux

package bridge

import (
	"net"
	"syscall"
)

// socketWaiter: elsewhere a session waits for its next message inside
// the library's read.
func socketWaiter(net.Conn) syscall.RawConn { return nil }

func (*wsConn) readable(uintptr) bool { return true }
