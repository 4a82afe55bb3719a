package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// errQueueFull closes a connection whose command queue overflowed: commands
// and status are never dropped silently (docs/architecture.md#backpressure).
var errQueueFull = errors.New("rtmp: outgoing command queue full")

// errEnded stops the reader of a connection already ended (its error is
// the one recorded first).
var errEnded = errors.New("rtmp: connection ended")

// errTooLong closes a connection that was to be sent a message longer than
// RTMP's 24-bit length field: a script's or a peer's values decide that
// size, and what cannot be sent whole must not be sent in part.
var errTooLong = errors.New("rtmp: outgoing message longer than the length field allows")

// outMsg is one queued control/command message. chunkSize, when set, is
// applied to the writer right after this message (it is a Set Chunk Size).
type outMsg struct {
	h         chunk.Header
	p         []byte
	chunkSize uint32
}

// conn is one server-side RTMP session.
//
// Goroutines: run (the reader: handshake, message dispatch, engine calls)
// and writeLoop (owns the socket for writing, the chunk.Writer and the
// batch). mu guards the fields shared between them.
type conn struct {
	srv   *Server
	cfg   *Config
	nc    net.Conn
	id    uint64
	proto string
	log   *slog.Logger
	start time.Time

	ctx    context.Context
	cancel context.CancelFunc

	// Reader goroutine only.
	r         *chunk.Reader
	connected bool
	rejected  bool
	inst      *instance.Instance
	client    *instance.Client
	encoding  int
	// legacyAudio: the client's connect did not announce Enhanced RTMP
	// Opus, so its plays get converted audio where a stream has it.
	legacyAudio bool

	// audioCodecs and videoCodecs are the connect's Flash codec masks
	// (docs/rtmp.md#connect), allCodecs when it sent none: a client that
	// names its codecs and leaves a Flash-era one out may be given a
	// converted copy of a stream (Server.Convert).
	audioCodecs, videoCodecs uint32

	streams    map[uint32]*netStream
	so         *soConn  // shared objects, created on first use (sharedobject.go)
	bw         *bwCheck // reader goroutine: the latest bandwidth check (bwcheck.go)
	peerWindow uint32
	lastAck    uint64
	keepRead   bool // reader goroutine: the chunk reader keeps its buffer (keepReadBuffer)
	// relay carries the session to the node running its instance
	// (relay.go); connectMsg keeps the connect message until then.
	relay      RelayLink
	connectMsg *Message
	// virtual: the session of a client relayed here from another node,
	// which must not be relayed again.
	virtual bool

	mu              sync.Mutex
	out             []outMsg
	outBytes        int // mu; payload bytes in out
	plays           []*player
	closeAfterFlush bool
	closeWhy        error // mu; what the close after the flush is logged as
	// draining: the final reply is written and the write side shut; the
	// reader goroutine reads and discards the client's input before it
	// closes (drain). drainCut: the server is shutting down, the drain
	// ends at once. Both under mu, as is every read deadline the reader
	// sets after connect (setReadDeadline), so none outlives the drain's.
	draining, drainCut bool
	// wake tells the writer goroutine, while one owns the write side
	// (wGoroutine), that something is pending.
	wake chan struct{}

	failOnce sync.Once
	failErr  error
	// ended is set by fail: ctx.Err, which takes a lock, is too dear for
	// the writer's per-round checks.
	ended atomic.Bool
	// endPeer is the peer whose closed hook runs once the connection ends
	// (watchEnd, peer.go).
	endPeer atomic.Pointer[peer]

	// Who writes (writer.go). mu guards these.
	ws writerState
	// kicked: something became pending after the owner of the write
	// side last took the queues.
	kicked bool
	// schedAt is the deadline at which the merge clock holds the
	// connection (ws == wClock, until its round starts).
	schedAt time.Duration
	// lastFlush is the merge-clock time of the last flush; for a round
	// run at a deadline, that deadline, so writers in step stay on one
	// grid point.
	lastFlush   time.Duration
	writersDone bool           // set once finish waits: no writer may start after
	writers     sync.WaitGroup // one while anyone owns the write side (ws != wIdle)

	// The owner of the write side only (writer.go). w keeps the chunk
	// stream state across rounds and owners: the next round must
	// continue the same header compression.
	w           *chunk.Writer
	deadlineSet time.Duration    // merge-clock time the write deadline was last set
	raw         syscall.RawConn  // the socket, when the clock may write it itself
	tw          BuffersTryWriter // else the connection, when the clock may write it
	rawChecked  bool             // raw and tw have been looked for
	// mediaKick is kick(true) as a func value, for the subscribers and
	// players of this connection (made on the first play).
	mediaKick func()
	bytesOut  atomic.Uint64
	msgsOut   atomic.Uint64 // messages written, counted per round (stats.go)

	// armedAt is when the reader last pushed the idle deadline forward
	// (unix ns); the server's ping sweep asks a connection quiet since
	// then for a PingResponse once pinging is set (startPinger), through
	// pingPeer when it has one.
	armedAt  atomic.Int64
	pinging  atomic.Bool
	pingPeer atomic.Pointer[peer]

	// Parking (park.go): sock is the socket (or notify the connection
	// calling back) when the reader may end while the connection is
	// idle, set before the reader starts.
	// readArmed (when the idle deadline was last pushed) and parkArmed
	// (the read deadline is the park deadline) belong to the reader
	// goroutine of the moment; parkID (registered in the server's set)
	// to the parker's lock, whose sweep keeps the idle timeout meanwhile.
	sock      syscall.RawConn
	notify    ReadNotifier // in place of sock, for a conn without a socket
	sockIdle  SocketConn   // sock's conn when it frames the stream itself
	readArmed time.Time
	parkArmed bool
	parkID    uint64
	// Reading at the ingest ticks (ingest.go): ingestWake wakes the
	// reader, ingestBusy says it has not yet handled what it read since
	// (reader goroutine); ingestAt is the tick it was woken for (the
	// ingest clock's lock).
	ingestWake chan struct{}
	ingestBusy bool
	ingestAt   time.Duration
	// tickRead: this publisher's reads may wait for the ticks (a plain
	// TCP socket); tickChecked: that has been looked at. Reader goroutine.
	tickRead, tickChecked bool
	// tick: the ingest clock's reads of this publisher (ingest_read.go).
	tick tickReads
	// stopCtx ends the watch of GoConn's context; done is GoConn's.
	stopCtx func() bool
	done    func()
}

func newConn(s *Server, nc net.Conn, proto string, id uint64) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		srv:        s,
		cfg:        &s.cfg,
		nc:         nc,
		id:         id,
		proto:      proto,
		log:        s.Logger.With("conn", id, "proto", proto, "remote", nc.RemoteAddr().String()),
		start:      time.Now(),
		ctx:        ctx,
		cancel:     cancel,
		streams:    map[uint32]*netStream{},
		peerWindow: s.cfg.WindowAckSize,
		wake:       make(chan struct{}, 1),
		w:          chunk.NewWriter(),
		// Far in the past: the first blocking write sets the deadline.
		deadlineSet: -1 << 62,
	}
}

// fail records the first error that ends the connection and closes the
// socket so that both goroutines unblock.
func (c *conn) fail(err error) { c.end(err, false) }

// endAfterReply is fail for a connection the server ends once its final
// reply is written (closeAfterFlushAs): the socket's write side is shut
// and the reader drains it before closing (drain), so that input the
// client sent behind its connect does not make the close a reset that
// destroys the reply (docs/limits.md#sessions-and-transports). Sockets
// that cannot half-close (RTMPT and WebSocket sessions, which deliver
// pending output themselves) are closed at once.
func (c *conn) endAfterReply(why error) { c.end(why, true) }

func (c *conn) end(err error, drain bool) {
	c.failOnce.Do(func() {
		c.failErr = err
		c.ended.Store(true)
		c.cancel()
		c.peerEnded()
		// A parked connection leaves the server's set before its socket
		// is closed, so that its descriptor is never watched after; then
		// a reader starts to end it.
		woke := c.mayPark() && c.srv.parker.unpark(c, 0)
		if !drain || !c.startDrain() {
			_ = c.nc.Close()
		}
		if woke {
			go c.resume()
		}
	})
}

// startDrain shuts the write side and wakes the reader, which then drains
// instead of reading messages; false if the socket cannot half-close.
func (c *conn) startDrain() bool {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || c.cfg.CloseDrain < 0 || cw.CloseWrite() != nil {
		return false
	}
	c.mu.Lock()
	c.draining = true
	_ = c.nc.SetReadDeadline(time.Now())
	c.mu.Unlock()
	return true
}

// setReadDeadline sets the read deadline unless a drain has taken the
// read side over.
func (c *conn) setReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return nil
	}
	return c.nc.SetReadDeadline(t)
}

// drain reads and discards what the client still sends, for at most
// CloseDrain and CloseDrainBytes, and closes the socket: a client that
// read its reply and closed ends it at once (EOF), one that keeps sending
// holds it no longer than the bounds. Until then the socket counts
// against the server's and its address's limits. A no-op unless
// endAfterReply started a drain.
func (c *conn) drain() {
	c.mu.Lock()
	draining := c.draining
	if draining {
		dl := time.Now().Add(c.cfg.CloseDrain)
		if c.drainCut {
			dl = time.Now()
		}
		_ = c.nc.SetReadDeadline(dl)
	}
	c.mu.Unlock()
	if !draining {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, c.cfg.CloseDrainBytes))
	_ = c.nc.Close()
}

// shutdown ends the session because the server (or the transport that
// owns it) is going away; a drain in progress ends too.
func (c *conn) shutdown() {
	c.fail(withReason(ReasonShutdown, errors.New("server shutting down")))
	c.mu.Lock()
	c.drainCut = true
	if c.draining {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
}

func (c *conn) run() { c.loop(c.serve) }

// loop runs a reader goroutine's body (serve, or the rest of the read
// loop in resume) and ends the connection after it, unless it parked.
func (c *conn) loop(body func() error) {
	parked := false
	defer func() {
		if !parked {
			c.exited()
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic", "value", v, "stack", string(debug.Stack()))
			c.fail(withReason(ReasonPanic, fmt.Errorf("panic: %v", v)))
			c.finish()
			_ = c.nc.Close() // a drain may have been started
		}
	}()
	err := body()
	if err == errParked { //nolint:errorlint // the sentinel itself, never wrapped
		parked = true
		return
	}
	c.fail(err)
	c.finish()
	c.drain()
}

// exited tells the server, and GoConn's caller, that the session is over.
func (c *conn) exited() {
	c.srv.connDone(c)
	if c.stopCtx != nil {
		c.stopCtx()
	}
	if c.done != nil {
		c.done()
	}
}

// finish waits for the writer, leaves the engine and logs the closed line.
func (c *conn) finish() {
	c.mu.Lock()
	c.writersDone = true
	if c.ws == wClock && c.srv.clock.remove(c, c.schedAt) {
		// Queued for a round that will not run now.
		c.ws = wIdle
		c.writers.Done()
	}
	c.mu.Unlock()
	c.writers.Wait()
	if c.r != nil {
		c.r.Release()
	}
	if c.ingestBusy {
		c.ingestBusy = false
		c.srv.ingest.done(c)
	}
	c.leave()
	err := c.failErr
	reason := classify(err)
	attrs := []any{"reason", reason.String(), "bytes_in", c.bytesIn(), "bytes_out", c.bytesOut.Load(),
		"duration", time.Since(c.start).Round(time.Millisecond)}
	if reason != ReasonEOF && err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	if reason == ReasonEOF || reason == ReasonShutdown || reason == ReasonRejected || reason == ReasonDisconnected {
		c.log.Info("closed", attrs...)
	} else {
		c.log.Warn("closed", attrs...)
	}
}

func (c *conn) bytesIn() uint64 {
	if c.r == nil {
		return 0
	}
	return c.r.BytesRead()
}

// shake runs the handshake under its deadline, which still applies to
// reads until connect, and sets up the chunk reader. It is apart from serve
// so that serve's frame, under every idle connection's parked reader,
// stays small (see chunk.Reader.Wait).
func (c *conn) shake() error {
	if err := c.nc.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout)); err != nil {
		return withReason(ReasonIOError, err)
	}
	hs, err := handshake.Server(c.nc, nil)
	if err != nil {
		return withReason(ReasonHandshake, fmt.Errorf("handshake: %w", err))
	}
	c.log.Debug("handshake", "digest", hs.Digest)
	if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
		return withReason(ReasonIOError, err)
	}
	c.r = chunk.NewReader(socketReader(c.nc), c.cfg.Chunk)
	c.r.SetBudget(c.srv.pending)
	return nil
}

// serve runs the handshake and the read loop; it returns what ended them.
func (c *conn) serve() error {
	if err := c.shake(); err != nil {
		return err
	}
	return c.readLoop()
}

// readLoop reads and handles messages until the connection ends or, quiet
// for Config.ParkAfter, parks (errParked).
func (c *conn) readLoop() error {
	for {
		// Idle connections wait in Wait, whose shallow stack lets the
		// runtime halve the goroutine's stack at GC (8 KB to 4 KB): the
		// runtime allows it only with less than 1248 bytes in use, so
		// this frame, under every waiting reader, stays small and the
		// rest of the loop is in readOne and park.go.
		if !c.parkArmed && c.mayPark() {
			c.armPark()
		}
		if c.parkArmed && c.sockIdle != nil {
			// A conn that frames the stream itself waits for its socket
			// under the park deadline, so that the deadline never passes
			// inside its framing (park.go, SocketConn).
			if err := c.sockIdle.WaitReadable(); err != nil {
				if err := c.parkOnTimeout(err); err != nil {
					return err
				}
				continue
			}
			if err := c.disarmPark(); err != nil {
				return err
			}
		}
		if err := c.r.Wait(); err != nil {
			if !c.parkArmed {
				return err
			}
			if err := c.parkOnTimeout(err); err != nil {
				return err
			}
			continue
		}
		if c.parkArmed {
			if err := c.disarmPark(); err != nil {
				return err
			}
		}
		if err := c.readOne(&c.readArmed); err != nil {
			return err
		}
	}
}

// readOne reads and handles the message Wait saw coming, acknowledges
// the bytes read when due and re-arms the idle deadline for the next.
//
//go:noinline // its frame must not add to serve's (see serve)
func (c *conn) readOne(deadlineSet *time.Time) error {
	if c.ended.Load() {
		// Messages buffered behind the final reply are not handled.
		return errEnded
	}
	// The ingest clock may have read for this reader (ingest_read.go).
	h, p, ok, err := c.tick.take()
	if !ok {
		h, p, err = c.r.ReadMessage()
	}
	if err != nil {
		return err
	}
	if c.connected {
		err = c.handleMessage(h, p)
	} else {
		err = c.handleAside(h, p)
	}
	if err != nil {
		return err
	}
	if c.keepRead && (h.Type == message.TypeCommand || h.Type == message.TypeCommandAMF3) && !c.publishesAny() {
		// Unpublishing is a command: the buffer goes back with the last
		// stream published.
		c.keepReadBuffer(false)
	}
	if err := c.afterMessage(deadlineSet); err != nil {
		return err
	}
	c.awaitTick()
	return nil
}

// startPinger makes a quiet connection answer before its idle deadline.
// A client with nothing to say (a chat page nobody types in, a player
// whose acknowledgement window is far off) would otherwise be closed
// after session.idle_timeout although it is alive. Every quarter of the
// timeout, a connection whose deadline nothing pushed for a quarter (it
// is less than three quarters away) gets a PingRequest, which every RTMP
// client answers (Flash, librtmp, ffmpeg, openfcs.js): the answer is a
// read that pushes the deadline, and it has at least half of the timeout
// to arrive, which a busy client or a slow network needs. A peer that is
// gone answers nothing and is closed at the deadline, three quarters to
// the whole of the timeout after its last message. Reader goroutine, once
// connected.
func (c *conn) startPinger() {
	c.pingPeer.Store(c.peer())
	c.pinging.Store(true)
	c.srv.armPings()
}

// ping asks the peer for a PingResponse; any goroutine.
func (c *conn) ping() {
	if p := c.pingPeer.Load(); p != nil {
		p.Ping() // also times the round trip
		return
	}
	c.sendUserControl(message.EventPingRequest, uint32(time.Since(c.start).Milliseconds()))
}

// armPings starts the ping sweep unless it is armed: one timer for the
// server, not one per connection (docs/architecture.md#idle-connections).
func (s *Server) armPings() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armPingsLocked()
}

// armPingsLocked is armPings with s.mu held.
func (s *Server) armPingsLocked() {
	if s.pingsArmed || s.closed {
		return
	}
	s.pingsArmed = true
	if s.pings == nil {
		s.pings = time.AfterFunc(s.cfg.IdleTimeout/4, s.pingQuiet)
		return
	}
	s.pings.Reset(s.cfg.IdleTimeout / 4)
}

// pingQuiet runs every quarter of the idle timeout while connections
// ping: each one quiet for more than a quarter (nothing read since its
// idle deadline was last pushed) is pinged, so a peer that answers is
// asked at the latest half the idle timeout into its silence.
func (s *Server) pingQuiet() {
	quarter := s.cfg.IdleTimeout / 4
	now := time.Now().UnixNano()
	var quiet []*conn
	pinging := false
	s.mu.Lock()
	s.pingsArmed = false
	for c := range s.conns {
		if !c.pinging.Load() {
			continue
		}
		pinging = true
		if !c.ended.Load() && time.Duration(now-c.armedAt.Load()) > quarter {
			quiet = append(quiet, c)
		}
	}
	if pinging {
		s.armPingsLocked()
	}
	s.mu.Unlock()
	for _, c := range quiet {
		c.ping()
	}
}

// handleAside runs handleMessage on a short-lived goroutine and waits for
// it; the reader uses it until connect is done. Handling connect (AMF,
// engine, script, logging) needs more than 4 KB of stack: on the reader it
// would leave every connection's long-lived goroutine at 8 KB until a GC
// halves it, while the helper's stack is freed when it returns and reused
// by the next connection's helper. The reader is blocked meanwhile, so
// reader-only state stays single-threaded.
func (c *conn) handleAside(h chunk.Header, p []byte) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				// As run's recover would: log where it happened, then end
				// the connection with reason panic.
				c.log.Error("panic", "value", v, "stack", string(debug.Stack()))
				done <- withReason(ReasonPanic, fmt.Errorf("panic: %v", v))
			}
		}()
		done <- c.handleMessage(h, p)
	}()
	return <-done
}

// enqueue queues a message for the writer. Overflow, by count or by bytes,
// closes the connection, and so does a message too long to be sent.
func (c *conn) enqueue(m outMsg) {
	if len(m.p) > chunk.MaxLength {
		c.log.Error("outgoing message too long", "type", m.h.Type, "len", len(m.p), "limit", chunk.MaxLength)
		c.fail(withReason(ReasonLimit, fmt.Errorf("%w: %d bytes of type %d", errTooLong, len(m.p), m.h.Type)))
		return
	}
	c.mu.Lock()
	if len(c.out) >= c.cfg.MaxQueuedCommands || c.outBytes+len(m.p) > c.cfg.MaxQueuedBytes {
		n, b := len(c.out), c.outBytes
		c.mu.Unlock()
		c.fail(withReason(ReasonSlowConsumer, fmt.Errorf("%w: %d messages, %d bytes queued (limits %d, %d)",
			errQueueFull, n, b, c.cfg.MaxQueuedCommands, c.cfg.MaxQueuedBytes)))
		return
	}
	if c.out == nil {
		c.out = outQueues.Get().(*[outQueueLen]outMsg)[:0]
	}
	c.out = append(c.out, m)
	c.outBytes += len(m.p)
	c.mu.Unlock()
	c.signal()
}

// outQueueLen is the capacity of a pooled command queue: what a connect
// or a play answer queues at once. A longer queue grows past it and is
// dropped once written.
const outQueueLen = 8

// outQueues lends command queues to connections while commands wait: an
// idle connection holds none, and a writer copies the queue out and gives
// it back at each round.
var outQueues = sync.Pool{New: func() any { return new([outQueueLen]outMsg) }}

// signal tells the writer that commands are pending, starting one if
// none runs.
func (c *conn) signal() { c.kick(false) }

// decoders lends AMF decoders to command parsing, so an idle connection
// keeps no decoder tables.
var decoders = sync.Pool{New: func() any { return new(amf.Decoder) }}

// getDecoder returns a decoder with the connection's limits. Payloads are
// never reused after ReadMessage, so decoded strings may point into them.
func (c *conn) getDecoder() *amf.Decoder {
	d := decoders.Get().(*amf.Decoder)
	d.Limits = c.cfg.AMF
	d.AliasInput = true
	return d
}

func putDecoder(d *amf.Decoder) {
	d.Reset()
	decoders.Put(d)
}

func (c *conn) sendControl(t uint8, payload []byte) {
	c.enqueue(outMsg{h: chunk.Header{CSID: message.CSIDControl, Type: t}, p: payload})
}

func (c *conn) sendUserControl(ev message.Event, v uint32) {
	c.sendControl(message.TypeUserControl, message.UserControl{Event: ev, Value: v}.Append(nil))
}

// encoders lends AMF encoders (about 2 KB each with their reference
// tables) to whoever encodes a command, so an idle connection holds none.
var encoders = sync.Pool{New: func() any { return new(amf.Encoder) }}

func getEncoder() *amf.Encoder { return encoders.Get().(*amf.Encoder) }

func putEncoder(e *amf.Encoder) {
	e.Reset()
	encoders.Put(e)
}

// sendCommand encodes and queues a command on msid.
func (c *conn) sendCommand(msid uint32, cmd *message.Command) {
	enc := getEncoder()
	p, err := cmd.Append(nil, enc)
	putEncoder(enc)
	if err != nil {
		c.log.Error("encode command", "name", cmd.Name, "err", err)
		return
	}
	c.enqueue(outMsg{h: chunk.Header{CSID: message.CSIDCommand, Type: message.TypeCommand, StreamID: msid}, p: p})
}

// sendData encodes and queues a data message on msid.
func (c *conn) sendData(msid uint32, d *message.Data) {
	enc := getEncoder()
	p, err := d.Append(nil, enc)
	putEncoder(enc)
	if err != nil {
		c.log.Error("encode data", "handler", d.Handler, "err", err)
		return
	}
	c.enqueue(outMsg{h: chunk.Header{CSID: message.CSIDData, Type: message.TypeData, StreamID: msid}, p: p})
}

// sendStatus queues an onStatus on msid; the code decides the level.
func (c *conn) sendStatus(msid uint32, code, desc string, extra ...amf.Prop) {
	c.sendCommand(msid, &message.Command{Name: "onStatus", Object: amf.Null(),
		Args: []amf.Value{status.Info(code, desc, extra...)}})
}

func (c *conn) sendResult(txn float64, args ...amf.Value) {
	c.sendCommand(0, &message.Command{Name: "_result", Txn: txn, Object: amf.Null(), Args: args})
}

// rejectAndClose queues an _error for the connect transaction and closes
// the connection once it is flushed (docs/rtmp.md#connect).
func (c *conn) rejectAndClose(txn float64, code, desc string, extra ...amf.Prop) {
	c.sendCommand(0, &message.Command{Name: "_error", Txn: txn, Object: amf.Null(),
		Args: []amf.Value{status.Info(code, desc, extra...)}})
	c.rejected = true
	c.closeAfterFlushAs(withReason(ReasonRejected, errors.New("connection rejected")))
}

// closeAfterFlushAs closes the connection once everything queued so far is
// written, logging why.
func (c *conn) closeAfterFlushAs(why error) {
	c.mu.Lock()
	c.closeAfterFlush = true
	if c.closeWhy == nil {
		c.closeWhy = why
	}
	c.mu.Unlock()
	c.signal()
}

// addPlayer makes the writer drain p. Status messages queued before this
// call are written before p's first media message.
func (c *conn) addPlayer(p *player) {
	c.mu.Lock()
	c.plays = append(c.plays, p)
	c.mu.Unlock()
	c.signal()
}

func (c *conn) removePlayer(p *player) {
	c.mu.Lock()
	for i, q := range c.plays {
		if q == p {
			c.plays = append(c.plays[:i], c.plays[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if p.pb != nil {
		p.pb.Close()
		return
	}
	// The writer may have moved the play to a converted copy meanwhile
	// (player.toCopy).
	p.mu.Lock()
	p.removed = true
	sub, release := p.sub, p.release
	p.mu.Unlock()
	sub.Close()
	if release != nil {
		release()
	}
}

// leave releases everything the session holds in the engine.
func (c *conn) leave() {
	for id, ns := range c.streams {
		ns.stop(c, false)
		c.stopped(ns) // the script hears onUnpublish before onDisconnect
		delete(c.streams, id)
	}
	c.leaveSharedObjects()
	if c.relay != nil {
		c.relay.Close()
		c.relay = nil
	}
	if c.client != nil {
		c.inst.Disconnect(c.client)
		c.client = nil
	}
}
