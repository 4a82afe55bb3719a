//go:build linux

package rtmp

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// parker holds the parked connections of a Server: sockets registered in
// an epoll set of the server's own, whose one waiting goroutine starts a
// connection's reader again when its socket turns readable
// (docs/architecture.md#idle-connections). The set's descriptor is an
// os.File waited on through the runtime's network poller, so no thread
// blocks in epoll_wait and closing the file ends the wait.
//
// Each registration carries a number of its own (park), never reused, so
// an event collected just before its socket was taken out of the set and
// closed, and its descriptor number given to another connection, finds
// no connection to wake.
type parker struct {
	mu     sync.Mutex
	ep     *os.File // nil until the first park; closed by close
	rc     syscall.RawConn
	closed bool
	seq    uint64
	parked map[uint64]*conn
	done   chan struct{} // closed when the waiting goroutine has returned
	// sweep starts the reader of every parked connection whose idle
	// deadline has passed, armed while connections are parked: one timer
	// for the server, not one per parked connection
	// (docs/architecture.md#idle-connections). sweepEvery is a tenth of
	// the idle timeout, at most a second.
	sweep      *time.Timer
	sweepArmed bool
	sweepEvery time.Duration
}

// parkEvents is what a parked socket is registered for: readable, the
// peer's half-close, once (a connection is taken out of the set at its
// first event anyway).
const parkEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newParker() *parker { return &parker{parked: map[uint64]*conn{}} }

// start opens the epoll set and starts the waiting goroutine; p.mu held.
func (p *parker) start() error {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	// A non-blocking descriptor: os.NewFile registers it with the
	// runtime's poller, which reports it readable when the set has events.
	f := os.NewFile(uintptr(fd), "rtmp-park-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return err
	}
	p.ep, p.rc = f, rc
	p.done = make(chan struct{})
	go p.wait()
	return nil
}

// park registers c's socket (c.sock), or c's call-back (c.notify), and
// records c as parked; false (c keeps its reader) if c has ended, the
// server is closing, or the socket, the set or the connection refused.
// The caller is c's reader goroutine, which must not touch c after a true
// return: a reader may already run again.
func (p *parker) park(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	// ended is stored before end takes c out of the set (unpark, under
	// p.mu), so a connection ending now is either seen here or found
	// parked there.
	if p.closed || c.ended.Load() {
		return false
	}
	if c.notify != nil {
		return p.parkNotified(c)
	}
	if p.ep == nil {
		if err := p.start(); err != nil {
			c.log.Warn("idle connections keep their readers: no epoll set", "err", err)
			p.closed = true
			return false
		}
	}
	p.seq++
	id := p.seq
	ev := syscall.EpollEvent{Events: parkEvents}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = id
	var cerr error
	err := p.rc.Control(func(epfd uintptr) {
		// Control keeps both descriptors open while they are used.
		err := c.sock.Control(func(fd uintptr) {
			cerr = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_ADD, int(fd), &ev)
		})
		if cerr == nil {
			cerr = err
		}
	})
	if err != nil || cerr != nil {
		return false
	}
	p.record(c, id)
	return true
}

// parkNotified parks c, a connection without a socket, on its own
// call-back (ReadNotifier) instead of the epoll set; p.mu held.
func (p *parker) parkNotified(c *conn) bool {
	p.seq++
	id := p.seq
	// The call-back carries the registration's number, as an epoll event
	// does: one that comes after the connection was taken out (ended,
	// its idle deadline) wakes nothing.
	if !c.notify.NotifyReadable(func() {
		if p.unpark(c, id) {
			go c.resume()
		}
	}) {
		return false // something to read already: keep reading
	}
	p.record(c, id)
	return true
}

// record notes c as parked under id and makes sure the sweep runs; p.mu
// held.
func (p *parker) record(c *conn, id uint64) {
	p.parked[id] = c
	c.parkID = id
	if p.sweepArmed {
		return
	}
	p.sweepArmed = true
	if p.sweep == nil {
		p.sweepEvery = min(time.Second, max(c.cfg.IdleTimeout/10, time.Millisecond))
		p.sweep = time.AfterFunc(p.sweepEvery, p.sweepIdle)
		return
	}
	p.sweep.Reset(p.sweepEvery)
}

// sweepIdle runs on the sweep timer: the idle timeout of connections
// without a reader. The reader of each one whose idle deadline has passed
// starts again and finds it passed.
func (p *parker) sweepIdle() {
	now := time.Now()
	var wake []*conn
	p.mu.Lock()
	p.sweepArmed = false
	for _, c := range p.parked {
		// idleAt is the reader's, which does not run while c is parked.
		if !now.Before(c.idleAt()) {
			wake = append(wake, c)
		}
	}
	for _, c := range wake {
		p.remove(c)
	}
	if len(p.parked) > 0 && !p.closed {
		p.sweepArmed = true
		p.sweep.Reset(p.sweepEvery)
	}
	p.mu.Unlock()
	for _, c := range wake {
		go c.resume()
	}
}

// unpark takes c out of the set if it is parked (as park id, or under any
// id when id is 0) and reports whether it was: the caller then starts its
// reader. It runs before c's socket is closed (conn.end), so the
// descriptor is never used after.
func (p *parker) unpark(c *conn, id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.parkID == 0 || (id != 0 && id != c.parkID) {
		return false
	}
	p.remove(c)
	return true
}

// remove deletes c's registration; p.mu held, c parked.
func (p *parker) remove(c *conn) {
	delete(p.parked, c.parkID)
	c.parkID = 0
	if c.notify != nil {
		c.notify.StopNotify()
		return
	}
	rc := c.sock
	_ = p.rc.Control(func(epfd uintptr) {
		_ = rc.Control(func(fd uintptr) {
			// The event argument is ignored by DEL on current kernels
			// but must not be nil before 2.6.9.
			var ev syscall.EpollEvent
			_ = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_DEL, int(fd), &ev)
		})
	})
}

// wait is the waiting goroutine: it takes every connection whose socket
// has an event out of the set and starts its reader, until close.
func (p *parker) wait() {
	defer close(p.done)
	evs := make([]syscall.EpollEvent, 128)
	var wake []*conn
	for {
		err := p.rc.Read(func(epfd uintptr) bool {
			for {
				n, err := syscall.EpollWait(int(epfd), evs, 0)
				if err != nil && !errors.Is(err, syscall.EINTR) {
					return true // not expected of a valid set: stop waiting
				}
				wake = p.take(evs[:max(n, 0)], wake[:0])
				for _, c := range wake {
					go c.resume()
				}
				clear(wake)
				if n < len(evs) {
					// Drained: wait for the poller to report new events
					// (it reports the set edge-triggered).
					return false
				}
			}
		})
		if err != nil {
			return // closed
		}
	}
}

// take removes the connections of evs from the set and appends them to
// wake.
func (p *parker) take(evs []syscall.EpollEvent, wake []*conn) []*conn {
	if len(evs) == 0 {
		return wake
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range evs {
		id := *(*uint64)(unsafe.Pointer(&evs[i].Fd))
		c := p.parked[id]
		if c == nil {
			continue // taken out already (ended, timer)
		}
		p.remove(c)
		wake = append(wake, c)
	}
	return wake
}

// count returns the number of parked connections.
func (p *parker) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// close stops parking and ends the waiting goroutine. Connections still
// parked (none once the server's connections have all ended) are started
// again, to end on their own.
func (p *parker) close() {
	p.mu.Lock()
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweepArmed = false
	}
	var wake []*conn
	for _, c := range p.parked {
		p.remove(c)
		wake = append(wake, c)
	}
	ep, done := p.ep, p.done
	p.mu.Unlock()
	for _, c := range wake {
		go c.resume()
	}
	if ep != nil {
		_ = ep.Close()
		<-done
	}
}
