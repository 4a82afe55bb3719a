package tunnel

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/openfcs/openfcs/internal/iplimit"
)

// ConnServer runs one RTMP session over a byte stream and returns when it
// ends; *rtmp.Server implements it. proto is "rtmpt" or "rtmpts".
type ConnServer interface {
	ServeConn(ctx context.Context, nc net.Conn, proto string)
}

// ConnStarter is a ConnServer that can also start a session and return
// at once, calling done when the session has ended (also when it was
// refused); *rtmp.Server implements it, and a tunnel session started so
// holds no goroutine while it is idle.
type ConnStarter interface {
	GoConn(ctx context.Context, nc net.Conn, proto string, done func())
}

// Forwarder carries a request for a session of another node to that node
// (cluster mode, docs/cluster.md#forwarding): node is the tag of the
// session id, path the request path, body the request body. It returns
// the owner's status and body; err only explains a failure status.
type Forwarder interface {
	Forward(ctx context.Context, node, path string, body []byte) (status int, resp []byte, err error)
}

// ErrServerClosed: the tunnel server was closed.
var ErrServerClosed = errors.New("tunnel: server closed")

// sendLinger is how long a /send that delivered input waits for the RTMP
// session's answer before responding without it. The session usually
// answers within microseconds (handshake, _result), and catching that in
// the same response saves clients a whole poll interval (ffmpeg sleeps
// 50 ms after an empty response) per round trip.
const sendLinger = 3 * time.Millisecond

// Server is the RTMPT server side: it maps tunnel requests to sessions and
// runs each session's RTMP side with Sessions.ServeConn.
type Server struct {
	Config Config
	Logger *slog.Logger
	// Sessions runs the RTMP session of each tunnel session.
	Sessions ConnServer
	// Forward, when set, takes the /send, /idle and /close requests
	// whose session id carries another node's tag: behind a load balancer
	// without affinity they land on any node. Nil: such requests answer
	// 404, as any unknown session.
	Forward Forwarder

	initOnce sync.Once
	cfg      Config
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc

	perIP *iplimit.Limiter // sessions per client address

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup
	// sweep expires the sessions that got no request for SessionTimeout,
	// armed while there are sessions: one timer for the server, not one
	// per session (docs/architecture.md#idle-connections).
	sweep      *time.Timer
	sweepArmed bool

	refuseMu     sync.Mutex
	refuseCounts map[string]int
	refuseLast   map[string]time.Time

	opened        atomic.Uint64
	expired       atomic.Uint64
	polls         atomic.Uint64
	dataResponses atomic.Uint64
	bytesOut      atomic.Uint64
	requests      atomic.Uint64
	forwarded     atomic.Uint64
	forwardedIn   atomic.Uint64
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.cfg = s.Config.WithDefaults()
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.sessions = map[string]*session{}
		lc := iplimit.Config{ExemptLoopback: s.cfg.ExemptLoopback}
		if s.cfg.MaxSessionsPerIP > 0 {
			lc.MaxPerIP = s.cfg.MaxSessionsPerIP
		}
		s.perIP = iplimit.New(lc)
	})
}

// NumSessions returns the number of live session ids.
func (s *Server) NumSessions() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Stats are the server's counters.
type Stats struct {
	Sessions int    `json:"sessions"` // live session ids
	Opened   uint64 `json:"opened"`   // sessions created since start
	Expired  uint64 `json:"expired"`  // sessions ended by the session timeout
	// Polls counts /send and /idle answers; DataResponses those that
	// carried RTMP bytes, BytesOut the RTMP bytes they carried.
	Polls         uint64 `json:"polls"`
	DataResponses uint64 `json:"data_responses"`
	BytesOut      uint64 `json:"bytes_out"`
	// Requests counts the /send, /idle and /close requests clients sent
	// to this node, Forwarded those of them it passed to another node
	// (the session's owner), ForwardedIn those other nodes passed here.
	Requests    uint64 `json:"requests"`
	Forwarded   uint64 `json:"forwarded"`
	ForwardedIn uint64 `json:"forwarded_in"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{Sessions: s.NumSessions(), Opened: s.opened.Load(), Expired: s.expired.Load(),
		Polls: s.polls.Load(), DataResponses: s.dataResponses.Load(), BytesOut: s.bytesOut.Load(),
		Requests: s.requests.Load(), Forwarded: s.forwarded.Load(), ForwardedIn: s.forwardedIn.Load()}
}

// Close ends every session (their RTMP sides see net.ErrClosed) and waits
// for their RTMP sessions to return or ctx to end. Later /open requests
// answer 503.
func (s *Server) Close(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed = true
	if s.sweep != nil {
		s.sweep.Stop()
		s.sweepArmed = false
	}
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	s.cancel()
	for _, ss := range all {
		ss.endPeer(net.ErrClosed)
		s.remove(ss)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// idEncoding spells session ids in upper-case letters and digits: URL-safe
// and free of '/' and whitespace (docs/rtmpt.md#sessions-and-sequence-numbers).
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns "<node tag>-<16 characters>": 80 bits from crypto/rand,
// the id being the tunnel's only credential (docs/rtmpt.md#sessions-and-sequence-numbers).
func (s *Server) newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return s.cfg.NodeTag + "-" + idEncoding.EncodeToString(b[:])
}

// NodeOf returns the node tag of a session id ("" when it has none), for a
// front end routing requests to the node that owns the session.
func NodeOf(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == '-' {
			return id[:i]
		}
	}
	return ""
}

// open creates a session and starts its RTMP side.
func (s *Server) open(proto string, local, remote net.Addr) (*session, int) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, http.StatusServiceUnavailable
	}
	if len(s.sessions) >= s.cfg.MaxSessions {
		s.mu.Unlock()
		s.refused("max_sessions", remote)
		return nil, http.StatusServiceUnavailable
	}
	ip := iplimit.AddrOf(remote)
	if _, ok := s.perIP.Admit(ip); !ok {
		s.mu.Unlock()
		s.refused("max_sessions_per_ip", remote)
		return nil, http.StatusServiceUnavailable
	}
	id := s.newID()
	for s.sessions[id] != nil { // 80 random bits: never in practice
		id = s.newID()
	}
	ss := newSession(s, id, local, remote)
	s.sessions[id] = ss
	s.armSweep()
	s.wg.Add(1)
	s.mu.Unlock()
	s.opened.Add(1)
	s.log.Debug("tunnel open", "session", id, "proto", proto, "remote", addrString(remote))
	if st, ok := s.Sessions.(ConnStarter); ok {
		// No goroutine waits for the session's end: its RTMP reader may
		// end while it is idle (docs/architecture.md#idle-connections).
		st.GoConn(s.ctx, ss, proto, func() {
			_ = ss.Close()
			s.wg.Done()
		})
		return ss, http.StatusOK
	}
	go func() {
		defer s.wg.Done()
		if s.Sessions != nil {
			s.Sessions.ServeConn(s.ctx, ss, proto)
		}
		_ = ss.Close()
	}()
	return ss, http.StatusOK
}

// sweepEvery is how often the sweep looks for expired sessions: a
// session expires at most a tenth of SessionTimeout (and at most a second)
// late.
func (s *Server) sweepEvery() time.Duration {
	return min(time.Second, max(s.cfg.SessionTimeout/10, time.Millisecond))
}

// armSweep starts the sweep unless it is armed already; s.mu held.
func (s *Server) armSweep() {
	if s.sweepArmed || s.closed {
		return
	}
	s.sweepArmed = true
	if s.sweep == nil {
		s.sweep = time.AfterFunc(s.sweepEvery(), s.expireIdle)
		return
	}
	s.sweep.Reset(s.sweepEvery())
}

// expireIdle runs on the sweep timer: it expires every session that got
// no request for SessionTimeout, never one with a request in progress,
// and re-arms while sessions are left.
func (s *Server) expireIdle() {
	now := time.Now()
	var idle []*session
	s.mu.Lock()
	s.sweepArmed = false
	for _, ss := range s.sessions {
		if ss.busy.Load() == 0 && now.Sub(time.Unix(0, ss.lastSeen.Load())) >= s.cfg.SessionTimeout {
			idle = append(idle, ss)
		}
	}
	if len(s.sessions) > len(idle) {
		s.armSweep()
	}
	s.mu.Unlock()
	for _, ss := range idle {
		if ss.endPeer(ErrSessionExpired) {
			s.expired.Add(1)
			s.log.Info("tunnel expired", "session", ss.id,
				"idle", now.Sub(time.Unix(0, ss.lastSeen.Load())).Round(time.Millisecond))
		}
		s.remove(ss)
	}
}

// remove forgets the session id; requests for it then answer 404.
func (s *Server) remove(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
		s.perIP.Release(iplimit.AddrOf(ss.remote))
	}
	s.mu.Unlock()
}

func (s *Server) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// openBody is the /open/1 answer: the id and exactly one terminator byte
// (docs/rtmpt.md#response-bodies-and-the-polling-byte: librtmp takes Content-Length - 1 bytes as the id).
const openTerminator = "\n"

// serve handles one parsed, POST tunnel request whose body is body (not
// retained) and appends the response body to w. It returns the HTTP
// status; a non-200 status has an empty body.
func (s *Server) serve(req Request, body []byte, proto string, local, remote net.Addr, w bodyAppender) int {
	if req.Kind != KindIdent && req.Kind != KindOpen {
		s.requests.Add(1)
	}
	return s.serveLocal(req, body, proto, local, remote, w, s.Forward != nil)
}

// ServeForwarded answers a request another node forwarded here (path and
// body as the client sent them to that node). It never forwards again: a
// session this node does not hold answers 404.
func (s *Server) ServeForwarded(path string, body []byte) (int, []byte) {
	s.init()
	req, err := ParsePath(path)
	if err != nil || req.Kind == KindIdent || req.Kind == KindOpen {
		return http.StatusBadRequest, nil
	}
	s.forwardedIn.Add(1)
	var b sliceBody
	status := s.serveLocal(req, body, "", nil, nil, &b, false)
	if status != http.StatusOK {
		return status, nil
	}
	return status, b.b
}

// forward passes req to the node whose tag its session id carries.
func (s *Server) forward(node string, req Request, body []byte, w bodyAppender) int {
	s.forwarded.Add(1)
	path := "/" + req.Kind.String() + "/" + req.ID + "/" + strconv.FormatUint(req.Seq, 10)
	status, resp, err := s.Forward.Forward(s.ctx, node, path, body)
	if err != nil {
		s.log.Debug("tunnel forward failed", "session", req.ID, "node", node, "err", err)
	}
	if status == http.StatusOK {
		w.appendBody(resp)
	}
	return status
}

func (s *Server) serveLocal(req Request, body []byte, proto string, local, remote net.Addr, w bodyAppender, mayForward bool) int {
	switch req.Kind {
	case KindIdent:
		return http.StatusNotFound // docs/rtmpt.md#requests: Flash Player then opens
	case KindOpen:
		ss, status := s.open(proto, local, remote)
		if ss != nil {
			w.appendBody([]byte(ss.id))
			w.appendBody([]byte(openTerminator))
		}
		return status
	}
	if len(body) == 0 {
		return http.StatusBadRequest // docs/rtmpt.md#headers: clients always send ≥ 1 byte
	}
	ss := s.lookup(req.ID)
	if ss == nil {
		if node := NodeOf(req.ID); mayForward && node != "" && node != s.cfg.NodeTag {
			// A copy: handing body itself to the Forwarder interface
			// would make every caller's body escape, forwarded or not.
			return s.forward(node, req, slices.Clone(body), w)
		}
		return http.StatusNotFound
	}
	ss.busy.Add(1)
	ss.touch()
	defer func() {
		ss.touch()
		ss.busy.Add(-1)
	}()
	switch req.Kind {
	case KindClose:
		_ = ss.apply(req.Seq, nil, 0)
		if ss.endPeer(io.EOF) {
			s.log.Debug("tunnel close", "session", ss.id)
		}
		s.remove(ss)
		w.appendBody(closingByte[:])
		return http.StatusOK
	case KindSend:
		ss.begin(req.Seq)
		if err := ss.apply(req.Seq, body, s.cfg.RequestTimeout); err != nil {
			ss.abort(req.Seq)
			s.log.Warn("tunnel send refused", "session", ss.id, "err", err)
			return http.StatusServiceUnavailable
		}
		// Not HoldIdle: a client with bytes to send is often a publisher
		// that reads nothing back, and would stall.
		ss.waitOutput(sendLinger)
	case KindIdle:
		ss.begin(req.Seq)
		_ = ss.apply(req.Seq, nil, 0)
		if s.cfg.HoldIdle > 0 {
			ss.waitOutput(s.cfg.HoldIdle)
		}
	default:
		return http.StatusBadRequest // not reached: ParsePath makes no other kind
	}
	n, finished := ss.respond(w, s.cfg.MaxResponseSize, req.Seq)
	s.polls.Add(1)
	if n > 0 {
		s.dataResponses.Add(1)
		s.bytesOut.Add(uint64(n))
	}
	if finished {
		s.remove(ss)
	}
	return http.StatusOK
}

// refused logs a refused /open, at most once per refuseLogEvery per
// reason with the count since the last line: a flood is not a log flood.
func (s *Server) refused(reason string, remote net.Addr) {
	s.refuseMu.Lock()
	defer s.refuseMu.Unlock()
	if s.refuseCounts == nil {
		s.refuseCounts, s.refuseLast = map[string]int{}, map[string]time.Time{}
	}
	s.refuseCounts[reason]++
	if now := time.Now(); now.Sub(s.refuseLast[reason]) >= refuseLogEvery {
		s.log.Warn("tunnel refused", "reason", reason, "count", s.refuseCounts[reason], "last_remote", addrString(remote),
			"max_sessions", s.cfg.MaxSessions, "max_sessions_per_ip", s.cfg.MaxSessionsPerIP)
		s.refuseLast[reason] = now
		s.refuseCounts[reason] = 0
	}
}

// refuseLogEvery is the least time between two "tunnel refused" lines of
// one reason.
const refuseLogEvery = 5 * time.Second

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ---------------------------------------------------------------------------
// HTTP/1.1 on fiber

// fastBody appends to a fasthttp response body without allocating: the
// conversion from *fasthttp.Response is pointer-shaped.
type fastBody fasthttp.Response

func (b *fastBody) appendBody(p []byte) { (*fasthttp.Response)(b).AppendBody(p) }

// Handler returns the fiber middleware serving the tunnel paths; other
// paths go to the next handler. Install it with app.Use before other
// routes. Requests on TLS connections are RTMPTS sessions.
func (s *Server) Handler() fiber.Handler {
	s.init()
	return func(c *fiber.Ctx) error {
		req, err := ParsePath(c.Path())
		if errors.Is(err, ErrNotTunnel) {
			return c.Next()
		}
		fc := c.Context()
		resp := &fc.Response
		var status int
		switch {
		case err != nil:
			status = http.StatusBadRequest
		case !fc.IsPost():
			resp.Header.Set("Allow", "POST")
			status = http.StatusMethodNotAllowed
		default:
			proto := "rtmpt"
			if fc.IsTLS() {
				proto = "rtmpts"
			}
			status = s.serve(req, fc.PostBody(), proto, fc.LocalAddr(), fc.RemoteAddr(), (*fastBody)(resp))
		}
		resp.SetStatusCode(status)
		if status != http.StatusOK {
			resp.ResetBody()
		}
		setFastHeaders(&resp.Header)
		return nil
	}
}

// setFastHeaders writes the tunnel response headers of docs/rtmpt.md#headers.
// fasthttp always sends Content-Length for a body set this way.
func setFastHeaders(h *fasthttp.ResponseHeader) {
	h.SetContentType("application/x-fcs")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "Keep-Alive")
}

// FiberConfig returns the fiber settings the tunnel needs: body limit (413
// beyond it), request timeouts against slowloris, and no startup banner.
//
// ReduceMemoryUsage makes fasthttp lend a connection its read and write
// buffers (4 KB each) and its body buffers only while a request is being
// read or answered, instead of for the connection's life. Most of this
// server's HTTP connections sit between requests: an RTMPT client's
// kept-alive connection between two polls, and every WebSocket and
// HTTP-FLV session, which fasthttp then hands the bare socket instead of
// the request's read buffer, since nothing is buffered after the request
// (docs/architecture.md#idle-connections). What it costs is a pool round
// trip per request.
func (c Config) FiberConfig() fiber.Config {
	c = c.WithDefaults()
	return fiber.Config{
		BodyLimit:             c.MaxBodySize,
		ReadTimeout:           c.RequestTimeout,
		WriteTimeout:          c.RequestTimeout,
		IdleTimeout:           max(c.SessionTimeout, c.RequestTimeout),
		DisableStartupMessage: true,
		ServerHeader:          "openfcs",
		ReduceMemoryUsage:     true,
	}
}

// ---------------------------------------------------------------------------
// net/http (HTTP/3)

// bufPool holds response and request buffers of the net/http adapter.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

type sliceBody struct{ b []byte }

func (s *sliceBody) appendBody(p []byte) { s.b = append(s.b, p...) }

// HTTPHandler returns a net/http handler serving the tunnel paths as proto
// ("rtmpts" for HTTP/3) and passing other paths to next (nil: 404).
func (s *Server) HTTPHandler(proto string, next http.Handler) http.Handler {
	s.init()
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := ParsePath(r.URL.Path)
		if errors.Is(err, ErrNotTunnel) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/x-fcs")
		h.Set("Cache-Control", "no-cache")
		if err != nil {
			writeEmpty(w, http.StatusBadRequest)
			return
		}
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST")
			writeEmpty(w, http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > int64(s.cfg.MaxBodySize) {
			writeEmpty(w, http.StatusRequestEntityTooLarge)
			return
		}
		inp := bufPool.Get().(*[]byte)
		defer bufPool.Put(inp)
		in, err := readBody((*inp)[:0], http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxBodySize)))
		*inp = in[:0]
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeEmpty(w, http.StatusRequestEntityTooLarge)
			} else {
				writeEmpty(w, http.StatusBadRequest)
			}
			return
		}
		outp := bufPool.Get().(*[]byte)
		defer bufPool.Put(outp)
		out := sliceBody{b: (*outp)[:0]}
		status := s.serve(req, in, proto, httpAddr(r.Host), httpAddr(r.RemoteAddr), &out)
		*outp = out.b[:0]
		if status != http.StatusOK {
			writeEmpty(w, status)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(out.b)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out.b)
	})
}

func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// readBody appends all of r to b.
func readBody(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// httpAddr is a net.Addr for an address net/http gives as a string.
type httpAddr string

func (a httpAddr) Network() string { return "udp" }
func (a httpAddr) String() string  { return string(a) }
