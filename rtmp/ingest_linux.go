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

// sockReader reads a publisher's socket without waiting, for the ingest
// clock's goroutines (docs/architecture.md#ingest-and-shared-objects):
// one read system call, EAGAIN reported as chunk.ErrWouldBlock.
//
// As sysWriter does, it borrows the descriptor with RawConn.Control and
// calls read directly: RawConn.Read would take the socket's read lock
// and ready the runtime's poll descriptor for a wait the clock never
// does, and a raw system call does not make the runtime's monitor
// (sysmon) watch a processor in a system call. Control keeps the
// descriptor open (and its number unused) during the read. The reader
// goroutine, which reads the same socket otherwise, is asleep meanwhile.
type sockReader struct {
	rc    syscall.RawConn
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr)
}

// newSockReader returns a reader of nc's socket when reads of nc are
// plain reads of it (readSocketOf finds its socket), else nil.
func newSockReader(nc net.Conn) *sockReader {
	tc := readSocketOf(nc)
	if tc == nil {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &sockReader{rc: rc}
	s.fn = s.read
	return s
}

func (s *sockReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.p, s.n, s.errno = p, 0, 0
	err := s.rc.Control(s.fn)
	s.p = nil
	switch {
	case err != nil:
		return 0, err
	case s.errno == syscall.EAGAIN:
		return 0, chunk.ErrWouldBlock
	case s.errno != 0:
		return 0, os.NewSyscallError("read", s.errno)
	case s.n == 0:
		return 0, io.EOF
	}
	return s.n, nil
}

// read is what RawConn.Control calls with the descriptor.
func (s *sockReader) read(fd uintptr) {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.p[0])), uintptr(len(s.p)))
		if e == syscall.EINTR {
			continue
		}
		if e == 0 {
			s.n = int(r)
		}
		s.errno = e
		return
	}
}

// quietLowat is the receive low-water mark (SO_RCVLOWAT) of a socket the
// clock reads: more than a tick of a few-Mbit/s stream, and no more than
// the chunk reader's kept buffer, so that it leaves the socket's receive
// buffer as it is (Linux grows it for a mark larger than half of it).
const quietLowat = 32 << 10

// quiet makes the socket report itself readable only once quietLowat
// bytes wait (on), or at the first byte as a socket does by default
// (off). The runtime's network poller watches every socket of the
// process, and a publisher's socket would otherwise wake it at each
// message that arrives, a thread woken for nothing while the clock reads
// the socket at its ticks; a reader goroutine that waits for the socket
// must have it off. A non-blocking read returns what is there whatever
// the mark. Errors are left to the next read.
func (s *sockReader) quiet(on bool) {
	n := 1
	if on {
		n = quietLowat
	}
	_ = s.rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	})
}
