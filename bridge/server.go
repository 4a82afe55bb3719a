package bridge

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/openfcs/openfcs/instance"
)

// ConnServer runs one RTMP session over a byte stream and returns when it
// ends; *rtmp.Server implements it. proto is rtmpws or rtmpwss.
type ConnServer interface {
	ServeConn(ctx context.Context, nc net.Conn, proto string)
}

// ConnStarter is a ConnServer that can also start a session and return
// at once, calling done when it has ended; *rtmp.Server implements it.
type ConnStarter interface {
	GoConn(ctx context.Context, nc net.Conn, proto string, done func())
}

// Engine admits clients to application instances; *instance.Manager
// implements it. HTTP-FLV players come through it like every client, so
// the application's script decides on them.
type Engine interface {
	Connect(app, inst string, info instance.ClientInfo) (*instance.Instance, *instance.Client, error)
}

// Server serves browsers on the HTTP ports: RTMP over WebSocket at Path,
// and live streams as HTTP-FLV at /<app>[/<instance>]/<stream>.flv.
type Server struct {
	Config Config
	Logger *slog.Logger
	// Sessions runs the RTMP session of each WebSocket.
	Sessions ConnServer
	// Engine admits HTTP-FLV players; nil disables HTTP-FLV (404).
	Engine Engine
	// Inherited are settings shared with the RTMP side.
	Inherited Inherited

	initOnce sync.Once
	cfg      Config
	inh      Inherited
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	upgrader websocket.FastHTTPUpgrader

	mu     sync.Mutex
	closed bool
	wsOpen map[*wsConn]struct{}
	flvs   map[*flvPlayer]struct{}
	wg     sync.WaitGroup

	wsOpened  atomic.Uint64
	wsRefused atomic.Uint64
	flvServed atomic.Uint64
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.cfg = s.Config.WithDefaults()
		s.inh = s.Inherited.withDefaults()
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.wsOpen = map[*wsConn]struct{}{}
		s.flvs = map[*flvPlayer]struct{}{}
		s.upgrader = websocket.FastHTTPUpgrader{
			// Write buffers are lent per message, so an idle session
			// holds none; one holds a whole player's flush, which then
			// leaves in one write (a longer frame takes two: the hijacked
			// conn has no writev).
			WriteBufferPool: &sync.Pool{},
			WriteBufferSize: wsWriteBuffer,
			// The RTMP chunk reader buffers what it reads (with a pooled
			// buffer, none while idle): the library's own read buffer
			// only needs to hold frame headers and control frames.
			ReadBufferSize: wsReadBuffer,
			// Offered by clients that name what they speak; the stream
			// is the same without it.
			Subprotocols: []string{"rtmp"},
			CheckOrigin:  s.checkOrigin,
			Error: func(fc *fasthttp.RequestCtx, status int, reason error) {
				fc.Error(reason.Error()+"\n", status)
			},
		}
	})
}

// wsWriteBuffer is the size of the write buffers lent to sessions: a tick
// of a few Mbit/s with its chunk headers.
const wsWriteBuffer = 64 << 10

// wsReadBuffer is each session's read buffer in the WebSocket library:
// a frame header (2 to 14 bytes) or a control frame (at most 125 bytes)
// fits; payload reads larger than it bypass it.
const wsReadBuffer = 256

// Stats are the server's counters.
type Stats struct {
	WebSockets   int    `json:"websockets"`    // open RTMP-over-WebSocket sessions
	WSOpened     uint64 `json:"ws_opened"`     // upgrades since start
	WSRefused    uint64 `json:"ws_refused"`    // upgrades refused for their Origin
	FLVPlayers   int    `json:"flv_players"`   // HTTP-FLV responses streaming
	FLVResponses uint64 `json:"flv_responses"` // HTTP-FLV responses started since start
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	ws, flvs := len(s.wsOpen), len(s.flvs)
	s.mu.Unlock()
	return Stats{WebSockets: ws, WSOpened: s.wsOpened.Load(), WSRefused: s.wsRefused.Load(),
		FLVPlayers: flvs, FLVResponses: s.flvServed.Load()}
}

// Close ends every WebSocket session (close code 1001) and HTTP-FLV
// response and waits for them or for ctx. Later requests answer 503.
func (s *Server) Close(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed = true
	conns := make([]*wsConn, 0, len(s.wsOpen))
	for c := range s.wsOpen {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(closeGoingAway, "server shutting down")
	}
	s.cancel() // RTMP sessions shut down; HTTP-FLV players stop
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handler returns the fiber middleware serving the WebSocket endpoint and
// HTTP-FLV; other paths go to the next handler.
func (s *Server) Handler() fiber.Handler {
	s.init()
	return func(c *fiber.Ctx) error {
		fc := c.Context()
		path := string(fc.Path())
		switch {
		case path == Path:
			s.serveWS(fc)
			return nil
		case strings.HasSuffix(path, ".flv") && s.Engine != nil:
			s.serveFLV(fc, path)
			return nil
		}
		return c.Next()
	}
}

// checkOrigin applies Config.AllowedOrigins; a refusal is logged once.
func (s *Server) checkOrigin(fc *fasthttp.RequestCtx) bool {
	origin := string(fc.Request.Header.Peek("Origin"))
	if originAllowed(s.cfg.AllowedOrigins, origin, string(fc.Host())) {
		return true
	}
	s.wsRefused.Add(1)
	s.log.Warn("websocket refused", "remote", fc.RemoteAddr().String(), "reason", "origin",
		"origin", origin, "host", string(fc.Host()))
	return false
}

// serveWS upgrades a request to a WebSocket and runs its RTMP session.
func (s *Server) serveWS(fc *fasthttp.RequestCtx) {
	if !websocket.FastHTTPIsWebSocketUpgrade(fc) {
		fc.Error("RTMP over WebSocket: open this URL with a WebSocket client (binary messages)\n", http.StatusUpgradeRequired)
		fc.Response.Header.Set("Upgrade", "websocket") // after Error, which resets the headers
		return
	}
	if s.isClosed() {
		fc.Error("server shutting down\n", http.StatusServiceUnavailable)
		return
	}
	proto := "rtmpws"
	if fc.IsTLS() {
		proto = "rtmpwss"
	}
	// The upgrader answers a refusal itself (403 for the Origin, 400 for a
	// malformed handshake); its error needs nothing more.
	_ = s.upgrader.Upgrade(fc, func(ws *websocket.Conn) {
		bare, kept := hijacked(ws.NetConn())
		nc := newWSConn(ws, int64(s.cfg.MaxMessageSize), bare)
		if !s.track(nc) {
			nc.closeWith(closeGoingAway, "server shutting down")
			_ = nc.Close()
			return
		}
		s.wsOpened.Add(1)
		s.log.Debug("websocket open", "proto", proto, "remote", nc.RemoteAddr().String())
		if st, ok := s.Sessions.(ConnStarter); ok && bare && kept {
			// The handler returns now and fasthttp takes back the
			// request's context and headers: the session goes on over
			// the bare socket (docs/architecture.md#idle-connections).
			st.GoConn(s.ctx, nc, proto, func() {
				_ = nc.Close()
				s.untrack(nc)
			})
			return
		}
		defer s.untrack(nc)
		if s.Sessions != nil {
			s.Sessions.ServeConn(s.ctx, nc, proto)
		}
		_ = nc.Close()
	})
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers a session; false once Close has begun, so that Close's
// Wait never races an Add.
func (s *Server) track(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wsOpen[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *wsConn) {
	s.mu.Lock()
	delete(s.wsOpen, c)
	s.mu.Unlock()
	s.wg.Done()
}

// hijacked reports whether nc, a conn fasthttp hijacked, reads the bare
// socket and whether its server keeps hijacked conns open
// (KeepHijackedConns); with both, nc may be used after the hijack handler
// returns. When the client sent bytes behind its upgrade request, nc
// reads through the request's read buffer instead, which fasthttp puts
// back in its pool when the handler returns; such a session keeps its
// handler, as does one under a server that closes hijacked conns.
// fasthttp exposes neither, so they are read from its hijacked conn's
// fields; anything unexpected there answers false, the handler staying
// for the whole session as before (TestWebSocketHandlerReturns keeps both
// true for the fasthttp in use).
func hijacked(nc net.Conn) (bare, kept bool) {
	v := reflect.ValueOf(nc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false, false
	}
	r, srv := v.Elem().FieldByName("r"), v.Elem().FieldByName("s")
	if !r.IsValid() || r.Kind() != reflect.Interface || r.IsNil() ||
		!srv.IsValid() || srv.Type() != reflect.TypeFor[*fasthttp.Server]() || srv.IsNil() {
		return false, false
	}
	if _, ok := nc.(interface{ UnsafeConn() net.Conn }); !ok {
		return false, false
	}
	bare = r.Elem().Type() != reflect.TypeFor[*bufio.Reader]() // else bytes buffered past the request
	return bare, srv.Elem().FieldByName("KeepHijackedConns").Bool()
}

// rawConn returns the socket under a conn fasthttp hijacked: closing the
// hijacked conn itself does nothing until the handler returns, and the
// RTMP session needs Close to unblock its reader.
func rawConn(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}
