package rtmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/acceptretry"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("rtmp: server closed")

// Engine is what the session layer needs of the engine: admitting clients
// to application instances. *instance.Manager implements it.
type Engine interface {
	Connect(app, inst string, info instance.ClientInfo) (*instance.Instance, *instance.Client, error)
}

// Signaller negotiates a WebRTC peer for a NetStream of an admitted
// client: the session hands it the client's offer and relays the answer,
// and knows nothing else of WebRTC. The webrtc package's server
// implements it. ended is called with a reason when the peer ends by
// itself; stop ends it from this side. control, not nil when the peer
// plays a recorded stream, pauses and seeks it for the NetStream's pause
// and seek (docs/webrtc.md#pause-and-seek). A refusal's error may carry
// the HTTP status of the equivalent WHIP or WHEP refusal (StatusCode()
// int).
type Signaller interface {
	Negotiate(in *instance.Instance, cl *instance.Client, publish bool, stream, query, offer string,
		ended func(reason string)) (answer string, stop func(), control playback.Control, err error)
}

// Converter gives players that cannot decode a live stream's Flash-era
// codecs (Sorenson H.263, VP6, Nellymoser, Speex) a copy of it converted
// once per stream (docs/webrtc.md#flash-era-streams-in-pages). The
// webrtc package's server implements it. Convert returns the name of
// the copy to subscribe to instead of stream, and release, to call once
// when that player ends; ok false when the stream needs no conversion
// for a client with these Flash codec masks (the connect's audioCodecs
// and videoCodecs), is not published, or cannot be converted.
type Converter interface {
	Convert(in *instance.Instance, stream string, audioCodecs, videoCodecs uint32) (name string, release func(), ok bool)
}

// Server accepts RTMP sessions and hands their commands to the engine.
type Server struct {
	Config Config
	Logger *slog.Logger
	Engine Engine
	// Relay, when set, carries sessions whose instance runs on another
	// node there (docs/cluster.md#one-instance-one-owner).
	Relay Relayer
	// Signal, when set, negotiates WebRTC media for a NetStream
	// (docs/webrtc.md#netstream-signaling); without it a webrtcOffer is
	// refused and the client stays on RTMP.
	Signal Signaller
	// Convert, when set, gives players that leave a stream's Flash-era
	// codecs out of their connect a converted copy; without it they get
	// the stream as published.
	Convert Converter

	initOnce sync.Once
	cfg      Config
	ctx      context.Context
	cancel   context.CancelFunc
	// clock runs the writer rounds of this server's playing connections
	// at its ticks (Config.MergeWrite, mergeclock.go).
	clock *mergeClock
	// parker holds the connections idle without a reader goroutine
	// (Config.ParkAfter, park.go).
	parker *parker
	// ingest wakes publishers' readers at its ticks (Config.IngestTick,
	// ingest.go); nil when they read as bytes arrive.
	ingest *ingestClock
	// egress counts the writer rounds (EgressStats).
	egress struct {
		clockRounds, clockWaits, goroutineRounds atomic.Uint64
	}

	// pending is charged with the reassembly buffers of every connection
	// (Config.MaxPendingTotal).
	pending *chunk.Budget

	// playQueued, set by tests, runs after a live play's statuses are
	// queued and before its player joins the writer's rounds.
	playQueued atomic.Pointer[func()]

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	ended     map[string]*ProtoStats // counters of each protocol's ended connections (stats.go)
	reasons   map[string]uint64      // ended connections by close reason
	closed    bool
	wg        sync.WaitGroup
	nextID    atomic.Uint64
	// pings is the ping sweep (pingQuiet), armed while connections ping.
	pings      *time.Timer
	pingsArmed bool
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.cfg = s.Config.WithDefaults()
		s.pending = chunk.NewBudget(s.cfg.MaxPendingTotal)
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.clock = newMergeClock(s.cfg.MergeWrite)
		s.parker = newParker()
		s.ingest = newIngestClock(&s.cfg, s.clock)
		if s.ingest != nil && s.ingest.clocked {
			s.clock.beforeTick = s.ingest.beforeTick
		}
	})
}

// Serve accepts connections on ln until Shutdown. It always returns a
// non-nil error; after Shutdown it is ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	// Out of descriptors and the like pass: back off and accept again
	// (listen.Mux, the server's own ports, does the same).
	retry := acceptretry.Retry{Log: s.Logger, What: ln.Addr().String()}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if retry.Failed(err, s.ctx.Done()) {
				continue
			}
			return fmt.Errorf("rtmp: accept: %w", err)
		}
		retry.Succeeded()
		s.startConn(nc, "rtmp")
	}
}

// ServeConn runs one RTMP session over nc (any byte stream: a tunnel
// session, a TLS connection, a WebSocket) and returns when it ends. proto
// is recorded as the client's protocol (rtmp, rtmps, rtmpt, rtmpts, ...).
func (s *Server) ServeConn(ctx context.Context, nc net.Conn, proto string) {
	s.init()
	c := s.newConn(nc, proto)
	if c == nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { c.shutdown() })
	defer stop()
	c.run()
}

func (s *Server) startConn(nc net.Conn, proto string) {
	c := s.newConn(nc, proto)
	if c == nil {
		return
	}
	c.allowPark()
	go c.run()
}

// newConn registers a connection or refuses it at the limit.
func (s *Server) newConn(nc net.Conn, proto string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return nil
	}
	if len(s.conns) >= s.cfg.MaxConns {
		s.Logger.Warn("refused", "remote", nc.RemoteAddr().String(), "reason", "max_conns", "limit", s.cfg.MaxConns)
		_ = nc.Close()
		return nil
	}
	c := newConn(s, nc, proto, s.nextID.Add(1))
	s.conns[c] = struct{}{}
	s.protoLocked(proto).Accepted++
	s.wg.Add(1)
	return c
}

func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.countClosedLocked(c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// PendingBytes returns the bytes all connections hold for messages still
// arriving (bounded by Config.MaxPendingTotal).
func (s *Server) PendingBytes() int64 {
	s.init()
	return s.pending.Used()
}

// NumConns returns the number of open sessions.
func (s *Server) NumConns() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// EgressStats counts the writer rounds of a server's connections since it
// started (docs/architecture.md#egress).
type EgressStats struct {
	// ClockRounds are rounds run by the merge clock, writing the socket
	// without a goroutine of the connection.
	ClockRounds uint64 `json:"clock_rounds"`
	// ClockWaits are clock rounds whose write the socket could not take
	// at once, finished by a writer goroutine (a slow reader, a full
	// socket buffer).
	ClockWaits uint64 `json:"clock_waits"`
	// GoroutineRounds are rounds run by a connection's writer goroutine:
	// commands written at once, connections that are not plain TCP
	// sockets (TLS, tunnels, WebSocket), merge_write negative.
	GoroutineRounds uint64 `json:"goroutine_rounds"`
}

// EgressStats returns the server's writer round counts.
func (s *Server) EgressStats() EgressStats {
	s.init()
	return EgressStats{
		ClockRounds:     s.egress.clockRounds.Load(),
		ClockWaits:      s.egress.clockWaits.Load(),
		GoroutineRounds: s.egress.goroutineRounds.Load(),
	}
}

// Shutdown stops the listeners, closes every session and waits for them to
// finish or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed = true
	if s.pings != nil {
		s.pings.Stop()
		s.pingsArmed = false
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.parker.close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
