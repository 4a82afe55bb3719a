//go:build !linux

package rtmp

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/openfcs/openfcs/rtmp/chunk"
)

// sysWriter is the Linux writer's stand-in: elsewhere every clock round
// runs on a writer goroutine (RawConnOf finds no socket), so it is never
// called.
type sysWriter struct{}

func (sysWriter) tryWrite(syscall.RawConn, *chunk.Batch) (int, bool, error) {
	return 0, false, errors.New("rtmp: non-blocking writes are Linux-only")
}

// DirectConn is a connection whose writes are the plain writes of a TCP
// socket; on Linux the merge clock writes such sockets itself
// (docs/architecture.md#egress). Here it is declared for the transports that
// implement it.
type DirectConn interface {
	net.Conn
	// Socket returns the TCP connection that Write writes to.
	Socket() *net.TCPConn
}

// RawConnOf returns nil: elsewhere no socket is written or waited for
// outside the connection's own reads and writes.
func RawConnOf(net.Conn) syscall.RawConn { return nil }

// DirectReader is a DirectConn whose reads are its socket's; on Linux a
// connection's reader then reads the socket itself.
type DirectReader interface {
	DirectConn
	// SocketReads marks the type; it does nothing.
	SocketReads()
}

// socketReader returns nc: elsewhere a reader reads the connection itself.
func socketReader(nc net.Conn) io.Reader { return nc }
