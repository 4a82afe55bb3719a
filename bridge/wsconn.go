package bridge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// closeGrace bounds sending the close frame when a conn closes. A peer
// that reads gets it within microseconds; one that stopped reading (the
// slow consumer being cut off) must not hold the closing goroutine, which
// may be the server shutting every connection down in turn.
const closeGrace = 200 * time.Millisecond

// Close codes sent to the peer (RFC 6455 §7.4.1).
// A message over MaxMessageSize gets 1009 from the library itself.
const (
	closeNormal      = websocket.CloseNormalClosure   // 1000: the RTMP session ended
	closeGoingAway   = websocket.CloseGoingAway       // 1001: server shutdown
	closeUnsupported = websocket.CloseUnsupportedData // 1003: a text message
)

// ErrTextFrame is the read error of a conn whose peer sent a text message:
// the RTMP byte stream travels in binary messages only.
var ErrTextFrame = errors.New("websocket: text message (RTMP travels in binary messages)")

// tooBigError is the read error of a message over the size limit. It
// matches chunk.ErrMessageTooLarge, so the RTMP layer logs the close with
// reason limit, as for an RTMP message over its own limit.
type tooBigError struct{ limit int64 }

func (e tooBigError) Error() string {
	return fmt.Sprintf("websocket: message over %d bytes (bridge.max_message_size)", e.limit)
}

func (tooBigError) Is(target error) bool { return target == chunk.ErrMessageTooLarge }

// peerCloseError is the read error after the peer closed the WebSocket
// with a code other than normal closure or going away.
type peerCloseError struct{ ce *websocket.CloseError }

func (e peerCloseError) Error() string {
	return fmt.Sprintf("websocket: closed by the peer with code %d %q", e.ce.Code, e.ce.Text)
}

func (e peerCloseError) Unwrap() error { return e.ce }

// wsConn is a WebSocket as a net.Conn: the byte stream is the
// concatenation of the payloads of the binary messages, in order, and
// message boundaries mean nothing (RTMP has its own framing). Each Write,
// and each WriteBuffers (one RTMP flush), is one binary message in one
// frame.
//
// The RTMP session reads on one goroutine and writes on another (one
// writer at a time), which is the concurrency the library allows; Close
// and the deadlines may be called from any goroutine.
type wsConn struct {
	ws  *websocket.Conn
	raw net.Conn // the socket; see rawConn

	// Reader goroutine only.
	r     io.Reader // the message being read; nil between messages
	limit int64
	// Between messages, with nothing in the library's buffer, the reader
	// waits for the socket itself (sock, waitFn) instead of inside the
	// library's read (WaitReadable); peek is the wait's one-byte buffer.
	sock   syscall.RawConn
	waitFn func(fd uintptr) bool
	peek   [1]byte

	closeOnce sync.Once
	closeCode int // set once before Close's frame; mu
	mu        sync.Mutex
}

// gatherPool lends flush buffers to writers.
var gatherPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledGather keeps a keyframe-sized buffer from staying in the pool.
const maxPooledGather = 1 << 20

// newWSConn wraps ws; bare says that ws reads the socket with nothing
// buffered above it but the library's own buffer, so that the reader may
// wait for the socket itself (WaitReadable) and park.
func newWSConn(ws *websocket.Conn, limit int64, bare bool) *wsConn {
	if limit > 0 {
		ws.SetReadLimit(limit)
	}
	c := &wsConn{ws: ws, raw: rawConn(ws.NetConn()), limit: limit}
	if bare && libBuffered != nil && libMessageRead != nil {
		// A plain TCP socket (not TLS, whose records are buffered above
		// the socket), as the RTMP server's own sessions wait for.
		if c.sock = rtmp.RawConnOf(c.raw); c.sock != nil {
			c.waitFn = c.readable
		}
	}
	return c
}

// libBuffered returns how many bytes the library's connection has read
// from the socket and not yet handed on, or is nil when that cannot be
// known: the library does not say, so it is read from its connection's
// bufio.Reader (fields br, then r and w), found once by reflection.
var libBuffered = func() func(ws *websocket.Conn) int {
	br, ok := reflect.TypeFor[websocket.Conn]().FieldByName("br")
	if !ok || br.Type != reflect.TypeFor[*bufio.Reader]() {
		return nil
	}
	bt := reflect.TypeFor[bufio.Reader]()
	r, okr := bt.FieldByName("r")
	w, okw := bt.FieldByName("w")
	if !okr || !okw || r.Type.Kind() != reflect.Int || w.Type.Kind() != reflect.Int {
		return nil
	}
	return func(ws *websocket.Conn) int {
		b := reflect.ValueOf(ws).Elem().FieldByIndex(br.Index)
		if b.IsNil() {
			return 0
		}
		b = b.Elem()
		return int(b.FieldByIndex(w.Index).Int() - b.FieldByIndex(r.Index).Int())
	}
}()

// ParkSocket returns the plain TCP socket a server session waits for
// between messages, nil when it waits inside the library
// (rtmp.SocketConn): the RTMP reader may then park while the session is
// idle, the socket watched as a TCP connection's.
func (c *wsConn) ParkSocket() syscall.RawConn { return c.sock }

// ReadIdle reports whether the session is between messages (the last one
// read to its end, though Read may not have seen its end yet) with
// nothing in the library's buffer (rtmp.SocketConn). Reader goroutine.
func (c *wsConn) ReadIdle() bool {
	return c.sock != nil && (c.r == nil || libMessageRead(c.ws)) && libBuffered(c.ws) == 0
}

// libMessageRead reports whether the library's message being read has
// been read to its end: its last frame, nothing of it left (fields
// readRemaining and readFinal); nil when not found (libBuffered then is
// nil too, and no session waits for its socket).
var libMessageRead = func() func(ws *websocket.Conn) bool {
	ct := reflect.TypeFor[websocket.Conn]()
	rem, okr := ct.FieldByName("readRemaining")
	fin, okf := ct.FieldByName("readFinal")
	if !okr || !okf || rem.Type.Kind() != reflect.Int64 || fin.Type.Kind() != reflect.Bool {
		return nil
	}
	return func(ws *websocket.Conn) bool {
		v := reflect.ValueOf(ws).Elem()
		return v.FieldByIndex(rem.Index).Int() == 0 && v.FieldByIndex(fin.Index).Bool()
	}
}()

// WaitReadable waits, between two messages, until the socket has bytes
// (or is closed, or the read deadline passes) when the library holds
// none (rtmp.SocketConn): the RTMP reader waits so under its park
// deadline, since a deadline passing inside the library's read ends the
// library's connection for good, and the goroutine waits in a shallow
// frame (docs/architecture.md#idle-connections).
func (c *wsConn) WaitReadable() error {
	if !c.ReadIdle() {
		return nil
	}
	return c.sock.Read(c.waitFn)
}

// Read returns bytes of the binary messages in order.
func (c *wsConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, c.readErr(err)
			}
			if typ != websocket.BinaryMessage {
				c.closeWith(closeUnsupported, "text message: RTMP travels in binary messages")
				return 0, ErrTextFrame
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil // the next message continues the stream
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, c.readErr(err)
		}
		return n, nil
	}
}

// readErr maps the library's read errors to what the RTMP layer logs: a
// normal close is the end of the stream, an oversized message a limit.
func (c *wsConn) readErr(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		return tooBigError{limit: c.limit}
	}
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		switch ce.Code {
		case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived:
			return io.EOF
		}
		return peerCloseError{ce: ce}
	}
	return err
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteBuffers sends one RTMP flush as one binary message in one frame
// (chunk.BuffersWriter). The library writes a frame from one contiguous
// slice, so the segments are gathered into a pooled buffer: one copy per
// flush, where TCP's writev needs none. (Copying each segment into the
// library's writer instead saves that copy but allocates the writer:
// BenchmarkWriteBuffers measured no gain.)
func (c *wsConn) WriteBuffers(bufs [][]byte) (int64, error) {
	if len(bufs) == 1 {
		n, err := c.Write(bufs[0])
		return int64(n), err
	}
	bp := gatherPool.Get().(*[]byte)
	b := (*bp)[:0]
	for _, s := range bufs {
		b = append(b, s...)
	}
	err := c.ws.WriteMessage(websocket.BinaryMessage, b)
	n := len(b)
	if cap(b) <= maxPooledGather {
		*bp = b[:0]
		gatherPool.Put(bp)
	}
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}

// closeWith records the close code to send when the conn closes; the
// first one wins.
func (c *wsConn) closeWith(code int, text string) {
	c.mu.Lock()
	if c.closeCode == 0 {
		c.closeCode = code
		c.sendClose(code, text)
	}
	c.mu.Unlock()
}

// sendClose writes a close frame, bounded by closeGrace. mu held.
func (c *wsConn) sendClose(code int, text string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeGrace))
}

// Close sends a close frame (normal closure unless a reason was sent
// before) and closes the socket. Safe to call more than once and from any
// goroutine.
func (c *wsConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.closeCode == 0 {
			c.closeCode = closeNormal
			c.sendClose(closeNormal, "")
		}
		c.mu.Unlock()
		err = c.ws.Close()
		if c.raw != nil {
			// Closed already when fasthttp keeps hijacked conns (closing
			// the hijacked conn then closes the socket).
			if rerr := c.raw.Close(); !errors.Is(rerr, net.ErrClosed) {
				err = rerr
			}
		}
	})
	return err
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

var _ chunk.BuffersWriter = (*wsConn)(nil)
