package rtmp

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// errParked ends a reader goroutine whose connection parked: the
// connection goes on without one until resume starts the next.
var errParked = errors.New("rtmp: reader parked")

// GoConn runs one RTMP session over nc as ServeConn does, but returns at
// once; done, when not nil, is called once the session has ended (and
// also when the session is refused). ctx ending shuts the session down.
// A session over a plain TCP socket (a *net.TCPConn or a DirectConn) on
// Linux then holds no goroutine while it is idle (Config.ParkAfter,
// docs/architecture.md#idle-connections), which ServeConn, returning only
// at the session's end, cannot offer.
func (s *Server) GoConn(ctx context.Context, nc net.Conn, proto string, done func()) {
	s.init()
	c := s.newConn(nc, proto)
	if c == nil {
		if done != nil {
			done()
		}
		return
	}
	c.done = done
	c.stopCtx = context.AfterFunc(ctx, c.shutdown)
	c.allowPark()
	go c.run()
}

// ReadNotifier is a connection without a socket of its own (an RTMPT
// session) that can say when it has something to read, so that its
// reader, too, may end while it is idle (Config.ParkAfter): the
// connection calls the server back in place of the server's epoll set.
type ReadNotifier interface {
	// NotifyReadable keeps f to be called once, outside the connection's
	// locks, as soon as a Read would not block: bytes arrived, the peer
	// ended, or the connection was closed. It returns false, keeping
	// nothing, when a Read would not block now.
	NotifyReadable(f func()) bool
	// StopNotify forgets the function NotifyReadable kept, if any.
	StopNotify()
}

// SocketConn is a connection over a plain TCP socket that frames the
// byte stream itself (RTMP over WebSocket): its reader, too, may park
// while idle, its socket watched as a TCP connection's is, when the
// connection holds nothing it has read from the socket and not handed on.
type SocketConn interface {
	// ParkSocket returns the socket, or nil when the connection cannot
	// park.
	ParkSocket() syscall.RawConn
	// ReadIdle reports whether the connection holds no bytes read from
	// the socket that Read has not returned. Called by the reader.
	ReadIdle() bool
	// WaitReadable waits until the socket has bytes, is closed, or the
	// read deadline passes (then an error matching
	// os.ErrDeadlineExceeded), without reading; nil at once when the
	// connection holds bytes already. The reader waits so while the
	// park deadline is armed, and puts the idle deadline back before it
	// reads: a deadline passing inside the connection's own framing
	// could leave it unusable.
	WaitReadable() error
}

// allowPark lets c's reader park while idle when its socket can be
// watched (Linux, a plain TCP socket) or the connection calls back when
// readable (ReadNotifier), and Config.ParkAfter allows it. Before the
// reader starts.
func (c *conn) allowPark() {
	if c.cfg.ParkAfter <= 0 {
		return
	}
	if c.sock = RawConnOf(c.nc); c.sock != nil {
		return
	}
	if sc, ok := c.nc.(SocketConn); ok {
		if c.sock = sc.ParkSocket(); c.sock != nil {
			c.sockIdle = sc
		}
		return
	}
	c.notify, _ = c.nc.(ReadNotifier)
}

// readIdle reports whether nothing read from c's socket waits to be
// handled: in the chunk reader, or in a SocketConn's own framing.
func (c *conn) readIdle() bool {
	return c.r.Idle() && (c.sockIdle == nil || c.sockIdle.ReadIdle())
}

// mayPark reports whether allowPark found a way to wake c's reader.
func (c *conn) mayPark() bool { return c.sock != nil || c.notify != nil }

// ParkedConns returns the number of sessions that wait for their next
// message without a goroutine (Config.ParkAfter).
func (s *Server) ParkedConns() int {
	s.init()
	return s.parker.count()
}

// idleAt is when the idle deadline last armed by the reader passes.
func (c *conn) idleAt() time.Time { return c.readArmed.Add(c.cfg.IdleTimeout) }

// armPark, before the reader waits for the next message, shortens the
// socket's read deadline to Config.ParkAfter from now when the connection
// may park: connected, reading nothing (the chunk reader holds no bytes),
// not publishing (a publisher keeps its buffer), not relayed. Reader
// goroutine.
func (c *conn) armPark() {
	if !c.connected || c.keepRead || c.relay != nil || c.virtual || !c.readIdle() {
		return
	}
	at := time.Now().Add(c.cfg.ParkAfter)
	if !at.Before(c.idleAt()) {
		return // the idle deadline comes first
	}
	if c.setReadDeadline(at) == nil {
		c.parkArmed = true
	}
}

// disarmPark puts the idle deadline back once a message starts to
// arrive, so that a peer slow to send the rest of it has the idle
// timeout, not ParkAfter. Reader goroutine.
func (c *conn) disarmPark() error {
	c.parkArmed = false
	if err := c.setReadDeadline(c.idleAt()); err != nil {
		return withReason(ReasonIOError, err)
	}
	return nil
}

// parkOnTimeout handles the error of a wait under the park deadline: the
// connection has been quiet for ParkAfter and parks (errParked: the
// goroutine ends), or the error was another and ends the connection. nil:
// the connection could not park and waits again under its idle deadline.
// Reader goroutine.
func (c *conn) parkOnTimeout(err error) error {
	c.parkArmed = false
	if !errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(c.idleAt()) || !c.readIdle() {
		return err
	}
	if c.srv.parker.park(c) {
		return errParked
	}
	if c.ended.Load() {
		return err
	}
	return c.disarmPark()
}

// resume is the reader goroutine of a connection that was parked: a byte
// arrived, the idle deadline passed, or the connection ended (then its
// reads fail at once and the goroutine ends it as a reader would).
func (c *conn) resume() {
	c.loop(func() error {
		if err := c.setReadDeadline(c.idleAt()); err != nil {
			return withReason(ReasonIOError, err)
		}
		return c.readLoop()
	})
}
