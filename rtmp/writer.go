package rtmp

import (
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// The write side of a connection (docs/architecture.md#egress). At most one
// owner writes the socket, encodes chunk headers and drains the players'
// queues at a time; conn.ws says who:
//
//   - wIdle: nobody. Nothing was pending at the last round; kick makes an
//     owner.
//   - wGoroutine: a writer goroutine (writeLoop), for commands, for
//     connections that do not merge (Config.MergeWrite negative) and for
//     writes that must wait for the socket. It waits on conn.wake.
//   - wClock: the server's merge clock. A playing connection that has
//     flushed is queued at its next deadline and its round runs on the
//     clock's goroutines (clockRound), writing the socket without
//     waiting; a round that cannot finish its write hands it to a writer
//     goroutine, which waits under the write deadline.
//
// A round always takes every queued command and every pending media event
// and flushes them in one vectored write. conn.writers counts the owner,
// so finish can wait for it.
type writerState uint8

const (
	wIdle writerState = iota
	wGoroutine
	wClock
)

// writer holds what one round needs besides the connection: the batch it
// fills and copies of the connection's queues. Rounds borrow one from the
// pool and give it back clean, so an idle connection holds none and the
// clock's goroutines reuse theirs across every connection of a tick.
type writer struct {
	// now is the merge-clock time of the slot a clock round runs for,
	// read once for all its rounds; -1 on a writer goroutine.
	now   time.Duration
	batch *chunk.Batch
	out   []outMsg
	plays []*player
	evs   []media.Event
	sys   sysWriter // the non-blocking write (egress_*.go)
}

var writers = sync.Pool{New: func() any { return &writer{now: -1, batch: new(chunk.Batch)} }}

// batches lends a batch to a writer goroutine that finishes a clock
// round's write: the clock's writer keeps its own.
var batches = sync.Pool{New: func() any { return new(chunk.Batch) }}

// done drops the references a round took (payloads, players) and empties
// the batch, so that the pooled writer holds no memory of the connection.
func (w *writer) done() {
	w.batch.Reset()
	clear(w.out)
	w.out = w.out[:0]
	clear(w.plays)
	w.plays = w.plays[:0]
	clear(w.evs)
	w.evs = w.evs[:0]
}

// kick tells the write side that something is pending: commands
// (fromMedia false) or media events of a player (true). With nobody
// writing it makes an owner: the clock, at the next tick for media of a
// playing connection and at once for commands; without merging
// (MergeWrite negative), a writer goroutine, which writes at once.
func (c *conn) kick(fromMedia bool) {
	c.mu.Lock()
	switch c.ws {
	case wIdle:
		if c.writersDone || c.ended.Load() {
			c.mu.Unlock()
			return
		}
		c.writers.Add(1)
		if c.merging() {
			c.ws = wClock
			if fromMedia && len(c.plays) > 0 {
				c.scheduleLocked(c.srv.clock.now())
			} else {
				// Commands go at once, from the clock's goroutine.
				c.schedAt = asapAt
				c.srv.clock.addNow(c)
			}
			c.mu.Unlock()
			return
		}
		c.ws = wGoroutine
		c.mu.Unlock()
		go c.writeLoop(nil, -1, nil)
	case wGoroutine:
		c.kicked = true
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	default: // wClock: the round takes it
		c.kicked = true
		c.mu.Unlock()
	}
}

// merging reports whether playing connections flush on the merge clock.
func (c *conn) merging() bool { return c.cfg.MergeWrite > 0 }

// wakeFunc returns the function the connection's subscribers and players
// call when they have events (media.SubscribeOptions.Wake).
func (c *conn) wakeFunc() func() {
	if c.mediaKick == nil {
		c.mediaKick = func() { c.kick(true) }
	}
	return c.mediaKick
}

// scheduleLocked queues c on the merge clock at its first tick after the
// last flush, and not before now. c.mu held, and c.ws just became wClock.
func (c *conn) scheduleLocked(now time.Duration) {
	clk := c.srv.clock
	at := clk.slotAfter(c.lastFlush, now)
	c.schedAt = at
	clk.add(c, at)
}

// release gives the write side up after the connection failed or the
// owner's work ended for good.
func (c *conn) release() {
	c.mu.Lock()
	c.ws = wIdle
	c.mu.Unlock()
	c.writers.Done()
}

// settle decides who writes after a round; flushed says the round wrote,
// at flushAt. A playing, merging connection goes to the clock; one with
// nothing left goes idle; otherwise a writer goroutine carries on: the
// caller itself when it is one (keep), else a new one.
func (c *conn) settle(flushed bool, flushAt, now time.Duration, goroutine bool) (keep bool) {
	c.mu.Lock()
	if flushed {
		c.lastFlush = flushAt
	}
	pending := len(c.out) > 0 || c.closeAfterFlush
	switch {
	case c.writersDone || c.ended.Load():
	case len(c.plays) > 0 && c.merging():
		// A playing connection polls at its next deadline after a
		// flush: media keeps coming, and a round is cheaper than the
		// wake-up that would otherwise start one. A round that found
		// nothing waits for a kick instead.
		if flushed || pending || c.kicked {
			c.ws = wClock
			c.scheduleLocked(now)
			c.mu.Unlock()
			return false
		}
	case pending && !goroutine && c.merging():
		// Commands queued during a clock round: the next pass takes them.
		c.ws = wClock
		c.schedAt = asapAt
		c.srv.clock.addNow(c)
		c.mu.Unlock()
		return false
	case len(c.plays) > 0 || pending:
		c.ws = wGoroutine
		again := pending || c.kicked
		c.mu.Unlock()
		if goroutine {
			if again {
				// Queued while the clock owned the write side, which
				// kicks do not signal on wake: run the next round now.
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
			return true
		}
		go c.writeLoop(nil, -1, nil)
		return false
	}
	c.ws = wIdle
	c.mu.Unlock()
	c.writers.Done()
	return false
}

// collect takes every queued command and every pending media event into
// w.batch. closeWhy is non-nil when the connection is to close once this
// round is written.
func (c *conn) collect(w *writer) (closeWhy error, err error) {
	c.mu.Lock()
	w.out = append(w.out[:0], c.out...)
	if c.out != nil {
		clear(c.out)
		if cap(c.out) == outQueueLen {
			outQueues.Put((*[outQueueLen]outMsg)(c.out[:outQueueLen]))
		}
		c.out = nil
	}
	c.outBytes = 0
	w.plays = append(w.plays[:0], c.plays...)
	if c.closeAfterFlush {
		closeWhy = c.closeWhy
		if closeWhy == nil {
			closeWhy = errCloseAfterFlush
		}
	}
	c.kicked = false
	c.mu.Unlock()

	for i := range w.out {
		if err := c.w.Append(w.batch, w.out[i].h, w.out[i].p); err != nil {
			return nil, withReason(ReasonLimit, err) // enqueue refuses these: not expected
		}
		if w.out[i].chunkSize != 0 {
			c.w.SetChunkSize(w.out[i].chunkSize)
		}
	}
	sent := len(w.out)
	for _, p := range w.plays {
		if w.evs, err = p.write(c.w, w.batch, w.evs[:0]); err != nil {
			return nil, err
		}
		sent += len(w.evs)
	}
	if sent > 0 {
		c.msgsOut.Add(uint64(sent))
	}
	return closeWhy, nil
}

// errCloseAfterFlush stands for a close requested without a reason.
var errCloseAfterFlush = errors.New("rtmp: closed after flush")

// writeBlocking writes b, waiting for the socket under the write deadline.
// The deadline is refreshed when a quarter of it has passed, so a stalled
// flush fails after 3/4 to 1 WriteTimeout.
func (c *conn) writeBlocking(b *chunk.Batch) error {
	clk := c.srv.clock
	if now := clk.now(); now-c.deadlineSet > c.cfg.WriteTimeout/4 {
		c.deadlineSet = now
		if err := c.nc.SetWriteDeadline(clk.at(now + c.cfg.WriteTimeout)); err != nil {
			return withReason(ReasonIOError, err)
		}
	}
	n, err := b.WriteTo(c.nc)
	c.bytesOut.Add(uint64(n))
	if err != nil {
		return c.writeError(err)
	}
	return nil
}

// writeError classifies what a failed write means for the closed line.
func (c *conn) writeError(err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return withReason(ReasonSlowConsumer, fmt.Errorf("write stalled for %v: %w", c.cfg.WriteTimeout, err))
	}
	if classify(err) == ReasonProtocolError {
		// A write cannot break the protocol: what is not the peer going
		// away is an I/O error.
		return withReason(ReasonIOError, err)
	}
	return err
}

// writeLoop is the writer goroutine: it owns the write side (wGoroutine)
// and writes rounds, waiting for the socket as long as the write deadline
// allows, until settle hands the connection to the clock or to nobody.
// pend, when set, is a clock round's batch that the socket did not take
// at once (written first, then given back to the pool), and pendWhy that
// round's close request; roundAt is the clock deadline of the first round
// (-1: none, it runs now).
func (c *conn) writeLoop(pend *chunk.Batch, roundAt time.Duration, pendWhy error) {
	w := writers.Get().(*writer)
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic", "value", v, "stack", string(debug.Stack()))
			c.fail(withReason(ReasonPanic, fmt.Errorf("panic: %v", v)))
			c.release()
		}
		w.done()
		writers.Put(w)
	}()
	for {
		var closeWhy error
		flushed := false
		if pend != nil {
			err := c.writeBlocking(pend)
			pend.Reset()
			batches.Put(pend)
			pend, closeWhy, flushed = nil, pendWhy, true
			if err != nil {
				c.fail(err)
				c.release()
				return
			}
		} else {
			var err error
			c.srv.egress.goroutineRounds.Add(1)
			if closeWhy, err = c.collect(w); err == nil && w.batch.Len() > 0 {
				err, flushed = c.writeBlocking(w.batch), true
			}
			w.done()
			if err != nil {
				c.fail(err)
				c.release()
				return
			}
		}
		if closeWhy != nil {
			c.endAfterReply(closeWhy)
			c.release()
			return
		}
		now := c.srv.clock.now()
		at := roundAt
		if at < 0 {
			at = now
		}
		roundAt = -1
		if !c.settle(flushed, at, now, true) {
			return
		}
		select {
		case <-c.ctx.Done():
			c.release()
			return
		case <-c.wake:
		}
	}
}

// BuffersTryWriter is implemented by connections that are not sockets but
// copy a write into a buffer of their own, such as an RTMPT session: when
// there is room for all of bufs, and no other write waits, TryWriteBuffers
// takes all of it at once and reports true; otherwise it takes nothing and
// reports false, without waiting. The merge clock then writes such a
// connection itself, as it writes TCP sockets (docs/architecture.md#egress).
type BuffersTryWriter interface {
	TryWriteBuffers(bufs [][]byte) (written bool, err error)
}

// tryWrite writes w.batch without waiting, to the socket or to a
// BuffersTryWriter: see sysWriter.tryWrite.
func (c *conn) tryWrite(w *writer) (n int, complete bool, err error) {
	if c.raw != nil {
		return w.sys.tryWrite(c.raw, w.batch)
	}
	total := w.batch.Len()
	ok, err := c.tw.TryWriteBuffers(w.batch.Buffers())
	if err != nil || !ok {
		return 0, false, err
	}
	w.batch.Reset()
	return total, true, nil
}

// clockRound runs one round of c on a goroutine of the merge clock, for
// deadline at: c.ws is wClock and the round owns the write side. The
// socket is written without waiting; what it does not take at once is
// handed, with the write side, to a writer goroutine.
func (c *conn) clockRound(w *writer, at time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic", "value", v, "stack", string(debug.Stack()))
			w.done()
			c.fail(withReason(ReasonPanic, fmt.Errorf("panic: %v", v)))
			c.release()
		}
	}()
	if c.ended.Load() {
		c.release()
		return
	}
	if !c.rawChecked {
		c.raw, c.rawChecked = RawConnOf(c.nc), true
		if c.raw == nil {
			c.tw, _ = c.nc.(BuffersTryWriter)
		}
	}
	if c.raw == nil && c.tw == nil {
		// Not something this process can write without waiting (TLS, a
		// WebSocket): a goroutine runs the round.
		c.mu.Lock()
		c.ws = wGoroutine
		c.mu.Unlock()
		go c.writeLoop(nil, at, nil)
		return
	}
	c.srv.egress.clockRounds.Add(1)
	closeWhy, err := c.collect(w)
	if err != nil {
		w.done()
		c.fail(err)
		c.release()
		return
	}
	flushed := w.batch.Len() > 0
	if flushed {
		n, complete, err := c.tryWrite(w)
		c.bytesOut.Add(uint64(n))
		if err != nil {
			w.done()
			c.fail(c.writeError(err))
			c.release()
			return
		}
		if !complete {
			// The socket's buffer is full: the rest waits on a
			// goroutine, and the clock's writer takes a fresh batch.
			c.srv.egress.clockWaits.Add(1)
			pend := w.batch
			w.batch = batches.Get().(*chunk.Batch)
			w.done()
			c.mu.Lock()
			c.ws = wGoroutine
			c.mu.Unlock()
			go c.writeLoop(pend, at, closeWhy)
			return
		}
	}
	w.done()
	if closeWhy != nil {
		c.endAfterReply(closeWhy)
		c.release()
		return
	}
	c.settle(flushed, at, w.now, false)
}
