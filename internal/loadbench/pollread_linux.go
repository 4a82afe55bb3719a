//go:build linux

package loadbench

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/openfcs/openfcs/rtmp/chunk"
)

// pollGroup reads many connections from a few goroutines: one epoll set
// per core, each waited on by one goroutine that reads every socket the
// set reports with non-blocking system calls and hands the bytes to that
// connection's handler. A goroutine per connection, woken by the
// runtime's poller, costs the tool a wake-up, a scheduling and a second
// read (the one that finds the socket empty and parks) per message; the
// shared-object fan-out delivers a message to every subscriber at each
// tick, a thousand wake-ups at once that compete for the same two cores
// with the server being measured. Here a tick's messages cost about one
// read each and one wait per batch of sockets.
//
// A socket leaves the runtime's poller for good: the group reads a
// duplicate of its descriptor and the net.Conn is closed, so the runtime
// neither hears of its events nor reads it.
type pollGroup struct {
	mu     sync.Mutex
	sets   []*pollSet
	next   int
	closed bool
}

// pollSet is one epoll set and its waiting goroutine. The set's own
// descriptor is waited on through the runtime's poller (as rtmp's parker
// does), so no thread blocks in epoll_wait and closing it ends the wait.
type pollSet struct {
	ep    *os.File
	rc    syscall.RawConn
	mu    sync.Mutex
	seq   uint64
	conns map[uint64]*polled
	done  chan struct{}
}

// polled is one connection of a set. mu is held while its handler runs
// and while it is closed, so a descriptor is never read after close.
type polled struct {
	set    *pollSet
	id     uint64
	mu     sync.Mutex
	fd     int
	closed bool
	src    rawSource
	ready  func(src io.Reader) error
	done   chan struct{}
}

// rawSource reads a non-blocking descriptor: chunk.ErrWouldBlock when it
// has nothing, io.EOF at its end; it counts what it reads into bytes.
type rawSource struct {
	fd    int
	bytes *member
}

func (s *rawSource) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(s.fd, p)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return 0, chunk.ErrWouldBlock
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		s.bytes.bytes.Add(int64(n))
		return n, nil
	}
}

// watch hands nc over to the group: from now on ready is called, on one
// of the group's goroutines, whenever nc's socket has bytes (with a
// reader of them that returns chunk.ErrWouldBlock once it is empty); its
// error, or the end of the stream, closes the connection. m's bytes are
// counted, and m.done and m.close are set. nc must be a *net.TCPConn (or
// wrap one, as countConn does), with nothing of it buffered elsewhere.
func (g *pollGroup) watch(nc net.Conn, m *member, ready func(src io.Reader) error) error {
	if cc, ok := nc.(*countConn); ok {
		nc = cc.Conn
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return errors.New("poll group: not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = syscall.Dup(int(s)) }); err != nil {
		return err
	}
	if derr != nil {
		return os.NewSyscallError("dup", derr)
	}
	// The duplicate shares the socket; closing nc takes the original
	// descriptor out of the runtime's poller.
	_ = tc.Close()
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	s, err := g.set()
	if err != nil {
		_ = syscall.Close(fd)
		return err
	}
	p := &polled{set: s, fd: fd, src: rawSource{fd: fd, bytes: m}, ready: ready, done: make(chan struct{})}
	if err := s.add(p); err != nil {
		_ = syscall.Close(fd)
		return err
	}
	m.done = p.done
	m.close = p.close
	return nil
}

// set returns the next set, round robin, starting them on first use.
func (g *pollGroup) set() (*pollSet, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errors.New("poll group closed")
	}
	if g.sets == nil {
		for range runtime.GOMAXPROCS(0) {
			s, err := newPollSet()
			if err != nil {
				return nil, err
			}
			g.sets = append(g.sets, s)
		}
	}
	s := g.sets[g.next%len(g.sets)]
	g.next++
	return s, nil
}

// close ends the sets' goroutines. The connections must have been closed
// first (fleet.closeAll).
func (g *pollGroup) close() {
	g.mu.Lock()
	g.closed = true
	sets := g.sets
	g.mu.Unlock()
	for _, s := range sets {
		_ = s.ep.Close()
		<-s.done
	}
}

func newPollSet() (*pollSet, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "loadbench-poll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s := &pollSet{ep: f, rc: rc, conns: map[uint64]*polled{}, done: make(chan struct{})}
	go s.wait()
	return s, nil
}

// add registers p, level-triggered: a handler that stops reading before
// the socket is empty (a short read says it is) hears of the rest at the
// next wait.
func (s *pollSet) add(p *polled) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	p.id = s.seq
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = p.id
	var cerr error
	if err := s.rc.Control(func(ep uintptr) {
		cerr = syscall.EpollCtl(int(ep), syscall.EPOLL_CTL_ADD, p.fd, &ev)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return os.NewSyscallError("epoll_ctl", cerr)
	}
	s.conns[p.id] = p
	return nil
}

// wait reads every socket the set reports, until the set is closed.
func (s *pollSet) wait() {
	defer close(s.done)
	evs := make([]syscall.EpollEvent, 256)
	ready := make([]*polled, 0, len(evs))
	for {
		err := s.rc.Read(func(ep uintptr) bool {
			for {
				n, err := syscall.EpollWait(int(ep), evs, 0)
				if err != nil && !errors.Is(err, syscall.EINTR) {
					return true // not expected of a valid set: stop
				}
				ready = s.take(evs[:max(n, 0)], ready[:0])
				for _, p := range ready {
					p.run()
				}
				clear(ready)
				if n < len(evs) {
					// Drained: the runtime's poller reports the set
					// again (edge-triggered) when a socket turns ready.
					return false
				}
			}
		})
		if err != nil {
			return // closed
		}
	}
}

// take looks up the connections of evs.
func (s *pollSet) take(evs []syscall.EpollEvent, out []*polled) []*polled {
	if len(evs) == 0 {
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range evs {
		if p := s.conns[*(*uint64)(unsafe.Pointer(&evs[i].Fd))]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// run calls the handler; its error or the end of the stream closes p.
func (p *polled) run() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if err := p.ready(&p.src); err != nil {
		p.closeLocked()
	}
}

func (p *polled) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked()
}

// closeLocked takes p out of its set and closes its descriptor; p.mu
// held.
func (p *polled) closeLocked() {
	if p.closed {
		return
	}
	p.closed = true
	s := p.set
	s.mu.Lock()
	delete(s.conns, p.id)
	_ = s.rc.Control(func(ep uintptr) {
		var ev syscall.EpollEvent
		_ = syscall.EpollCtl(int(ep), syscall.EPOLL_CTL_DEL, p.fd, &ev)
	})
	s.mu.Unlock()
	_ = syscall.Close(p.fd)
	close(p.done)
}
