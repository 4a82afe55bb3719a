package listen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/internal/acceptretry"
	"github.com/openfcs/openfcs/internal/iplimit"
)

// Mux shares one port between RTMP and HTTP, as FCS did (docs/rtmpt.md#ports-and-urls): it
// reads the first byte of each accepted connection and yields connections
// starting with an upper-case ASCII letter (an HTTP method) on HTTP() and
// every other one on RTMP(). RTMP's C0 is 0x03 (0x06 for RTMPE); any other
// byte goes to RTMP too, whose handshake then rejects it with a logged
// reason, and so does a connection that sends nothing within the sniff
// timeout.
//
// Serve may be called for several listeners (plain and TLS ports); the
// yielded conns of a TLS listener implement ConnectionState, so fasthttp's
// IsTLS sees them as TLS, and Proto names them.
//
// Every accepted socket counts against MaxConns and its address's limits
// (Limits) from accept until it is closed, whatever it turns out to be: one
// being sniffed, an RTMP session, an HTTP keep-alive connection. A socket
// over a limit is closed as soon as it is accepted.
type Mux struct {
	// SniffTimeout bounds the wait for the first byte (for TLS, the
	// handshake and the first byte). Default 5s.
	SniffTimeout time.Duration
	// MaxConns bounds the sockets open at once: the file descriptors
	// network clients can make the process hold. 0: unlimited.
	MaxConns int
	// Limits bounds each client address; zero fields take their defaults.
	Limits Config
	// Logger receives accept errors and refusals; nil discards.
	Logger *slog.Logger

	initOnce  sync.Once
	rtmp, web *chanListener
	lim       *iplimit.Limiter
	open      atomic.Int64 // sockets accepted and not yet closed
	stopped   atomic.Bool  // StopAccepting was called
	refused   refusals
	mu        sync.Mutex
	lns       map[net.Listener]struct{}
	closed    bool
	done      chan struct{} // closed by Close: ends back-off sleeps
	wg        sync.WaitGroup
}

func (m *Mux) init() {
	m.initOnce.Do(func() {
		if m.SniffTimeout <= 0 {
			m.SniffTimeout = 5 * time.Second
		}
		if m.Logger == nil {
			m.Logger = slog.New(slog.DiscardHandler)
		}
		m.Limits = m.Limits.WithDefaults()
		m.lim = iplimit.New(m.Limits.iplimit())
		m.refused.log = m.Logger
		m.rtmp = newChanListener()
		m.web = newChanListener()
		m.lns = map[net.Listener]struct{}{}
		m.done = make(chan struct{})
	})
}

// Open returns the number of sockets accepted and not yet closed.
func (m *Mux) Open() int { m.init(); return int(m.open.Load()) }

// RTMP returns the listener of RTMP connections.
func (m *Mux) RTMP() net.Listener { m.init(); return m.rtmp }

// HTTP returns the listener of HTTP connections.
func (m *Mux) HTTP() net.Listener { m.init(); return m.web }

// Serve accepts on ln until it fails or the Mux is closed. Each connection
// is sniffed on its own goroutine, so a silent client delays nobody.
// After Close it returns net.ErrClosed.
func (m *Mux) Serve(ln net.Listener) error {
	m.init()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = ln.Close()
		return net.ErrClosed
	}
	m.lns[ln] = struct{}{}
	m.mu.Unlock()
	// Out of descriptors (EMFILE) and the like pass: back off and accept
	// again, as net/http does, rather than end the port. While backing off
	// the Mux takes no new connection; they wait in the kernel's backlog.
	retry := acceptretry.Retry{Log: m.Logger, What: ln.Addr().String()}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if m.isClosed() || m.stopped.Load() {
				return net.ErrClosed
			}
			if retry.Failed(err, m.done) {
				continue
			}
			return fmt.Errorf("listen: accept: %w", err)
		}
		retry.Succeeded()
		sl, why := m.admit(nc)
		if sl == nil {
			_ = nc.Close()
			m.refused.add(why, nc.RemoteAddr())
			continue
		}
		// Add under mu, after checking closed: a conn accepted while Close
		// runs must not start a sniffer that Close's Wait does not see.
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			_ = nc.Close()
			sl.release()
			return net.ErrClosed
		}
		m.wg.Add(1)
		m.mu.Unlock()
		go func() {
			defer m.wg.Done()
			m.sniff(nc, sl)
		}()
	}
}

// admit takes a place for nc under MaxConns and its address's limits, or
// returns why not.
func (m *Mux) admit(nc net.Conn) (*slot, string) {
	if n := m.open.Add(1); m.MaxConns > 0 && n > int64(m.MaxConns) {
		m.open.Add(-1)
		return nil, "max_conns"
	}
	ip := iplimit.AddrOf(nc.RemoteAddr())
	if why, ok := m.lim.Admit(ip); !ok {
		m.open.Add(-1)
		return nil, string(why)
	}
	return &slot{m: m, ip: ip}, ""
}

// slot is an accepted socket's place under the Mux's limits, given back
// once, when the socket is closed.
type slot struct {
	m    *Mux
	ip   netip.Addr
	once sync.Once
}

func (s *slot) release() {
	s.once.Do(func() {
		s.m.open.Add(-1)
		s.m.lim.Release(s.ip)
	})
}

func (m *Mux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// StopAccepting closes the listeners given to Serve, so that no new
// connection arrives, and leaves alone the connections already handed on
// and the two yielded listeners: while a server drains, HTTP keep-alive
// connections (RTMPT polls) are still served. Close ends the rest.
func (m *Mux) StopAccepting() {
	m.init()
	m.stopped.Store(true)
	m.mu.Lock()
	for ln := range m.lns {
		_ = ln.Close()
	}
	m.mu.Unlock()
}

// Close closes the listeners given to Serve and the two yielded listeners,
// and waits for connections being sniffed (they are closed).
func (m *Mux) Close() error {
	m.init()
	m.mu.Lock()
	if !m.closed {
		close(m.done)
	}
	m.closed = true
	for ln := range m.lns {
		_ = ln.Close()
	}
	m.mu.Unlock()
	m.rtmp.close()
	m.web.close()
	m.wg.Wait()
	return nil
}

// sniff reads the first byte of nc and hands it on. A plain TCP conn is
// peeked and handed on as a TCPConn (see peekTCP); others are read and
// wrapped so that the byte is given back. Either way the conn handed on
// gives sl back when closed.
func (m *Mux) sniff(nc net.Conn, sl *slot) {
	_ = nc.SetReadDeadline(time.Now().Add(m.SniffTimeout))
	var first byte
	var n int
	var err error
	var out net.Conn
	tc, isTCP := nc.(*net.TCPConn)
	if isTCP {
		first, err = peekTCP(tc)
		if errors.Is(err, errNoPeek) {
			isTCP = false
		} else if err == nil {
			n = 1
		}
		out = &TCPConn{TCPConn: tc, slot: sl}
	}
	if !isTCP {
		var b [1]byte
		n, err = nc.Read(b[:])
		first = b[0]
		pc := &peekedConn{Conn: nc, first: first, has: n == 1, slot: sl}
		out = pc
		if tc, ok := nc.(*tls.Conn); ok {
			out = &peekedTLSConn{peekedConn: pc, tc: tc}
		}
	}
	_ = nc.SetReadDeadline(time.Time{})
	if n == 0 {
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			_ = out.Close() // closed, reset or a failed TLS handshake
			return
		}
	}
	dst := m.rtmp
	if n == 1 && first >= 'A' && first <= 'Z' {
		dst = m.web
	}
	if !dst.deliver(out) {
		_ = out.Close()
	}
}

// TCPConn is a plain TCP connection yielded by a Mux. It embeds the
// *net.TCPConn itself, not a net.Conn, so that net.Buffers still writes it
// with one writev (the RTMP writer's flushes); Close also gives the
// connection's place under the Mux's limits back.
type TCPConn struct {
	*net.TCPConn
	slot *slot
}

// Close closes the connection.
func (c *TCPConn) Close() error {
	err := c.TCPConn.Close()
	c.slot.release()
	return err
}

// Socket returns the TCP connection itself: writes to c are plain writes
// to it, so the RTMP server's merge clock may write its socket directly
// (rtmp.DirectConn, docs/architecture.md#egress).
func (c *TCPConn) Socket() *net.TCPConn { return c.TCPConn }

// SocketReads says that reads of c are plain reads of its socket too: the
// Mux peeks at the first byte without taking it, so the RTMP server's
// reader may read the socket directly (rtmp.DirectReader).
func (c *TCPConn) SocketReads() {}

// errNoPeek: the platform cannot peek at a socket (see peekTCP).
var errNoPeek = errors.New("listen: MSG_PEEK unavailable")

// Proto names a connection yielded by a Mux for the RTMP layer: "rtmps"
// for one from a TLS listener, "rtmp" otherwise.
func Proto(nc net.Conn) string {
	if _, ok := nc.(*peekedTLSConn); ok {
		return "rtmps"
	}
	if _, ok := nc.(*tls.Conn); ok {
		return "rtmps"
	}
	return "rtmp"
}

// peekedConn gives back the sniffed byte before reading on.
type peekedConn struct {
	net.Conn
	first byte
	has   bool // first not yet returned; reader goroutine only
	slot  *slot
}

func (c *peekedConn) Close() error {
	err := c.Conn.Close()
	c.slot.release()
	return err
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.has && len(p) > 0 {
		p[0] = c.first
		c.has = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// peekedTLSConn is a peekedConn over TLS. Handshake and ConnectionState
// make fasthttp (RequestCtx.IsTLS) and others recognize it.
type peekedTLSConn struct {
	*peekedConn
	tc *tls.Conn
}

// Handshake is a no-op: the sniff read completed it.
func (c *peekedTLSConn) Handshake() error { return c.tc.Handshake() }

// CloseWrite sends TLS's close_notify and shuts the socket's write side,
// so that a server ending a session after its last reply can still read
// (and discard) what the client sends (rtmp.Config.CloseDrain).
func (c *peekedTLSConn) CloseWrite() error {
	if err := c.tc.CloseWrite(); err != nil {
		return err
	}
	if tc, ok := c.tc.NetConn().(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// ConnectionState returns the TLS state.
func (c *peekedTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// chanListener is a net.Listener fed by deliver.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands nc to Accept; false when the listener is closed.
func (l *chanListener) deliver(nc net.Conn) bool {
	select {
	case l.ch <- nc:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.ch:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close() { l.once.Do(func() { close(l.done) }) }

// Close stops Accept. The Mux's own listeners stay open (Mux.Close closes
// them), so a server shutting down its side does not stop the other.
func (l *chanListener) Close() error { l.close(); return nil }

func (l *chanListener) Addr() net.Addr { return muxAddr{} }

type muxAddr struct{}

func (muxAddr) Network() string { return "mux" }
func (muxAddr) String() string  { return "mux" }
