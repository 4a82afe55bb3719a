//go:build linux

package rtmp

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"github.com/openfcs/openfcs/rtmp/chunk"
)

// maxIOV is the most iovecs one writev takes (IOV_MAX on Linux).
const maxIOV = 1024

// sysWriter writes a batch to a socket without waiting: one writev (more
// only past maxIOV iovecs) on the descriptor, called from the merge
// clock's goroutines. Owned by one writer.
type sysWriter struct {
	iov   []syscall.Iovec
	n     int           // bytes written by the last write
	errno syscall.Errno // its error; EAGAIN when the socket took less than all
	fn    func(fd uintptr)
}

// tryWrite writes as much of b as the socket takes now. complete reports
// that all of it went (b is then empty); otherwise b keeps the rest.
//
// The descriptor is borrowed with RawConn.Control, not RawConn.Write: the
// merge clock is the only writer while it owns the write side, so the
// socket's write lock would exclude nobody, and Write also readies the
// runtime's poll descriptor for a wait the clock never does. Control only
// holds a reference that keeps the descriptor from being closed (and
// reused) under the writev; per connection per tick that is one memory
// line and two atomic operations fewer (docs/architecture.md#egress). A
// write deadline left by a writer goroutine's earlier wait is therefore
// not seen here: the goroutine that takes the rest sets a fresh one.
func (s *sysWriter) tryWrite(rc syscall.RawConn, b *chunk.Batch) (n int, complete bool, err error) {
	total := b.Len()
	for _, p := range b.Buffers() {
		if len(p) == 0 {
			continue
		}
		v := syscall.Iovec{Base: &p[0]}
		v.SetLen(len(p))
		s.iov = append(s.iov, v)
	}
	if s.fn == nil {
		s.fn = s.writev
	}
	s.n, s.errno = 0, 0
	werr := rc.Control(s.fn)
	clear(s.iov) // the iovecs point into payloads: keep none alive
	s.iov = s.iov[:0]
	n = s.n
	switch {
	case werr != nil:
		return 0, false, werr
	case s.errno != 0 && s.errno != syscall.EAGAIN:
		b.Reset()
		return n, false, os.NewSyscallError("writev", s.errno)
	case n >= total:
		b.Reset()
		return n, true, nil
	}
	b.Consume(n)
	return n, false, nil
}

// writev is what RawConn.Control calls with the descriptor. The clock does
// not wait for a socket: EAGAIN and short writes are left for the caller
// to hand on.
func (s *sysWriter) writev(fd uintptr) {
	iov := s.iov
	for len(iov) > 0 {
		k := min(len(iov), maxIOV)
		want := 0
		for i := range iov[:k] {
			want += int(iov[i].Len)
		}
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			s.errno = e
			return
		}
		s.n += int(r)
		if int(r) < want {
			s.errno = syscall.EAGAIN
			return
		}
		iov = iov[k:]
	}
}

// DirectConn is a connection whose writes are the plain writes of a TCP
// socket (no framing, no buffering of its own), such as the connections
// package listen hands out: the merge clock may then write the socket
// itself, without a goroutine of the connection (docs/architecture.md#egress).
// A *net.TCPConn qualifies as it is.
type DirectConn interface {
	net.Conn
	// Socket returns the TCP connection that Write writes to.
	Socket() *net.TCPConn
}

// DirectReader is a DirectConn whose reads, too, are the plain reads of
// its socket (no bytes of its own, such as a peeked prefix, come first):
// a connection's reader may then read the socket itself
// (docs/architecture.md#egress). A *net.TCPConn qualifies as it is.
type DirectReader interface {
	DirectConn
	// SocketReads marks the type; it does nothing.
	SocketReads()
}

// socketOf returns the TCP socket nc's writes go to: nc itself, or a
// DirectConn's socket; else nil.
func socketOf(nc net.Conn) *net.TCPConn {
	switch v := nc.(type) {
	case *net.TCPConn:
		return v
	case DirectConn:
		return v.Socket()
	}
	return nil
}

// readSocketOf returns the TCP socket whose plain reads are nc's reads
// (a *net.TCPConn or a DirectReader: no bytes of the connection's own come
// first); else nil.
func readSocketOf(nc net.Conn) *net.TCPConn {
	switch nc.(type) {
	case *net.TCPConn, DirectReader:
		return socketOf(nc)
	}
	return nil
}

// RawConnOf returns the descriptor access of nc's socket when nc is a
// DirectConn or a *net.TCPConn, else nil: the socket the merge clock
// writes itself and a parked reader waits for. A transport that frames
// the stream above such a socket (a SocketConn) finds its ParkSocket here.
func RawConnOf(nc net.Conn) syscall.RawConn {
	tc := socketOf(nc)
	if tc == nil {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawReader reads a TCP socket with raw read system calls, for a
// connection's reader goroutine: what RawConn.Read finds empty it waits
// for through the runtime's network poller, under the socket's read
// deadline, as net.TCPConn.Read does. The difference is the call itself:
// a read made through the runtime (entersyscall) wakes the runtime's
// sysmon thread from its deep sleep, which then naps 20 µs at a time for
// as long as a processor stays busy, through every merge-clock round of
// the tick that follows (docs/architecture.md#where-the-cpu-above-the-floor-goes).
// A raw call on a non-blocking socket returns at once, so not handing the
// processor over while it runs costs nothing.
type rawReader struct {
	rc  syscall.RawConn
	p   []byte // the read's buffer, while fn runs
	n   int
	err error
	fn  func(fd uintptr) bool
}

// newRawReader returns a reader of tc's socket, or nil when it has no
// descriptor access.
func newRawReader(tc *net.TCPConn) *rawReader {
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawReader{rc: rc}
	r.fn = r.read
	return r
}

// Read reads what the socket holds, waiting for at least one byte.
func (r *rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.p, r.err = nil, nil
	switch {
	case err != nil:
		return 0, err // closed, or the read deadline passed
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// read is what RawConn.Read calls with the descriptor; false: nothing to
// read yet, wait for the poller.
func (r *rawReader) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", e)}
		return true
	}
}

// socketReader returns what a connection's reader reads nc through: the
// socket itself with raw system calls (rawReader) when nc is a
// *net.TCPConn or a DirectReader, else nc.
func socketReader(nc net.Conn) io.Reader {
	if tc := readSocketOf(nc); tc != nil {
		if r := newRawReader(tc); r != nil {
			return r
		}
	}
	return nc
}
