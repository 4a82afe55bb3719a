package rtmp

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
)

// tickReads is what the ingest clock keeps of a publisher it reads
// itself (docs/architecture.md#ingest-and-shared-objects). While the
// publisher's reader goroutine waits for a tick, the connection's reading
// side (its chunk reader, the acknowledgement count, the idle deadline)
// belongs to the clock; the goroutine gets it back when the clock wakes
// it. All fields follow that ownership.
type tickReads struct {
	// src reads the socket without waiting; nil when the clock cannot
	// (not a plain TCP socket, or not Linux). quiet: src.quiet(true) is in
	// effect.
	src   *sockReader
	quiet bool
	// held is a message the clock read and left to the goroutine (it is
	// not one the clock handles), err what ended the clock's reading.
	held bool
	h    chunk.Header
	p    []byte
	err  error
}

// take returns the message or error the clock left, if any.
func (t *tickReads) take() (h chunk.Header, p []byte, ok bool, err error) {
	switch {
	case t.err != nil:
		err, t.err = t.err, nil
		return h, nil, true, err
	case t.held:
		h, p = t.h, t.p
		t.held, t.h, t.p = false, chunk.Header{}, nil
		return h, p, true, nil
	}
	return h, nil, false, nil
}

// publishersPerHelper is the fewest publishers worth a helper goroutine at
// a tick, as roundsPerHelper is for writer rounds.
const publishersPerHelper = 128

// readAt reads the publishers woken at the tick at: each one the clock
// can read it reads here; the reader goroutine of any other is woken.
func (g *ingestClock) readAt(woken []*conn) {
	parts := min(runtime.GOMAXPROCS(0), len(woken)/publishersPerHelper)
	if parts <= 1 {
		g.readPart(woken)
		return
	}
	per := (len(woken) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		part := woken[min(i*per, len(woken)):min((i+1)*per, len(woken))]
		wg.Go(func() { g.readPart(part) })
	}
	g.readPart(woken[:per])
	wg.Wait()
}

func (g *ingestClock) readPart(cs []*conn) {
	var read, msgs uint64
	for _, c := range cs {
		stay, n := c.readAtTick()
		msgs += n
		if stay {
			read++
			if !c.tick.quiet {
				c.tick.quiet = true
				c.tick.src.quiet(true)
			}
			g.requeue(c)
			continue
		}
		if c.tick.quiet {
			// The goroutine waits for the socket's first byte.
			c.tick.quiet = false
			c.tick.src.quiet(false)
		}
		c.ingestWake <- struct{}{} // capacity 1, and c waits for it
	}
	g.stats.reads.Add(read)
	g.stats.wakes.Add(uint64(len(cs)) - read)
	g.stats.msgs.Add(msgs)
}

// ingestCounters are the ingest clock's counts behind IngestStats.
type ingestCounters struct {
	reads, wakes, msgs atomic.Uint64
}

// IngestStats counts how publishers were read at the ingest ticks
// (docs/architecture.md#ingest-and-shared-objects).
type IngestStats struct {
	// ClockReads are publishers' ticks whose reading the ingest clock did
	// itself, the reader goroutine left asleep.
	ClockReads uint64 `json:"clock_reads"`
	// Wakes are publishers' ticks at which the reader goroutine was woken:
	// nothing had come since the last tick (it waits in its read), or
	// something came that the goroutine handles (a command, metadata, a
	// chunk larger than the buffer), or an error that ends the connection.
	Wakes uint64 `json:"wakes"`
	// ClockMessages are messages the clock handled itself.
	ClockMessages uint64 `json:"clock_messages"`
}

// IngestStats returns the ingest clock's counts (zero when publishers read
// as bytes arrive).
func (s *Server) IngestStats() IngestStats {
	s.init()
	g := s.ingest
	if g == nil {
		return IngestStats{}
	}
	return IngestStats{ClockReads: g.stats.reads.Load(), Wakes: g.stats.wakes.Load(), ClockMessages: g.stats.msgs.Load()}
}

// readAtTick is the clock's turn at a publisher's socket: it reads what
// came since the last tick and handles the messages that need nothing
// but the connection (media, acknowledgements, chunk size), as the reader
// goroutine would, so that no goroutine is woken per publisher per tick.
// It reports whether the publisher stays with the clock until the next
// tick: false when its goroutine must take over, for a message it handles
// (a command, metadata), a chunk larger than the buffer, an error (left
// in c.tick for the goroutine to end the connection with), or a socket
// with nothing since the last tick, where the goroutine waits in its read
// with the idle deadline as before. The ingest clock's goroutines, while
// the reader goroutine waits for the tick.
func (c *conn) readAtTick() (stay bool, msgs uint64) {
	if c.tick.src == nil || c.relay != nil || c.ended.Load() {
		return false, 0
	}
	// A panic here would take the server down: it ends this connection
	// only, as one in its reader goroutine does.
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic", "value", v, "stack", string(debug.Stack()))
			c.tick.err = withReason(ReasonPanic, fmt.Errorf("panic: %v", v))
			stay = false
		}
	}()
	n, err := c.r.Fill(c.tick.src)
	switch {
	case errors.Is(err, chunk.ErrWouldBlock), err == nil && n == 0:
		return false, msgs
	case err != nil:
		c.tick.err = err
		return false, msgs
	}
	for {
		if c.ended.Load() {
			return false, msgs
		}
		h, p, st, err := c.r.ReadBuffered()
		switch {
		case err != nil:
			c.tick.err = err
			return false, msgs
		case st == chunk.Blocking:
			return false, msgs
		case st == chunk.Partial:
			if !c.r.MayHaveMore() {
				return true, msgs
			}
			n, err := c.r.Fill(c.tick.src)
			switch {
			case errors.Is(err, chunk.ErrWouldBlock):
				return true, msgs
			case err != nil:
				c.tick.err = err
				return false, msgs
			case n == 0:
				return false, msgs
			}
			continue
		}
		if !c.tickHandles(h) {
			c.tick.held, c.tick.h, c.tick.p = true, h, p
			return false, msgs
		}
		if err := c.handleMessage(h, p); err != nil {
			c.tick.err = err
			return false, msgs
		}
		msgs++
		if err := c.afterMessage(&c.readArmed); err != nil {
			c.tick.err = err
			return false, msgs
		}
	}
}

// tickHandles reports whether the clock may handle h itself: media of a
// stream the connection publishes whose Write cannot wait (no recording
// of it runs: a recording's full queue makes the publisher wait), and the
// protocol control messages the chunk reader applies or that set a
// field. Everything else goes to the reader goroutine.
func (c *conn) tickHandles(h chunk.Header) bool {
	switch h.Type {
	case message.TypeAudio, message.TypeVideo:
		ns := c.publishing(h.StreamID)
		return c.connected && ns != nil && !ns.pub.MayWait()
	case message.TypeSetChunkSize, message.TypeAbort, message.TypeAck, message.TypeSetPeerBandwidth,
		message.TypeWindowAckSize:
		return true
	}
	return false
}

// afterMessage acknowledges the bytes read when due and re-arms the idle
// deadline for the next message. Whoever owns the reading side.
func (c *conn) afterMessage(deadlineSet *time.Time) error {
	if n := c.r.BytesRead(); c.peerWindow > 0 && n-c.lastAck >= uint64(c.peerWindow) {
		c.lastAck = n
		c.sendControl(message.TypeAck, message.AppendU32(nil, uint32(n)))
	}
	// Until connect the handshake deadline still applies. After it the
	// idle deadline is pushed forward only when a quarter of it has gone
	// by: re-arming a timer per message costs more than reading.
	if c.connected {
		if now := time.Now(); now.Sub(*deadlineSet) > c.cfg.IdleTimeout/4 {
			*deadlineSet = now
			if err := c.setReadDeadline(now.Add(c.cfg.IdleTimeout)); err != nil {
				return withReason(ReasonIOError, err)
			}
			c.armedAt.Store(now.UnixNano())
			// A relayed session's pings come from the owner's session,
			// which sees the same messages: the answers are its, and
			// they push this deadline too (relay.go).
			if !c.pinging.Load() && c.relay == nil {
				c.startPinger()
			}
		}
	}
	return nil
}
