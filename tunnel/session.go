package tunnel

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSessionExpired is what a session's Read returns after the client
// stopped polling for Config.SessionTimeout. It is a timeout (net.Error),
// so the RTMP layer logs the close with reason "timeout".
var ErrSessionExpired error = expiredError{}

type expiredError struct{}

func (expiredError) Error() string {
	return "tunnel: session expired (no request within the session timeout)"
}
func (expiredError) Timeout() bool   { return true }
func (expiredError) Temporary() bool { return true }

// errPeerClosed is what a session's Write returns after the client sent
// /close: nothing written now could ever be delivered.
var errPeerClosed = errors.New("tunnel: session closed by the client")

// pollBytes are the polling-interval values of docs/rtmpt.md#response-bodies-and-the-polling-byte: 1 + {0, 2, 4,
// 8, 16, 32}, about 1/64 s per unit; the response to a poll that carried
// data starts at the first, and more than 10 empty replies in a row step to
// the next.
var pollBytes = [...]byte{0x01, 0x03, 0x05, 0x09, 0x11, 0x21}

// emptiesPerStep is how many empty replies in a row keep the interval
// before it doubles (docs/rtmpt.md#response-bodies-and-the-polling-byte: "more than 10").
const emptiesPerStep = 10

// closingByte answers a poll of a session whose RTMP side has ended and
// whose output is all delivered (Red5's "session is ending").
var closingByte = [1]byte{0x00}

// session is one tunnel session: the virtual net.Conn the RTMP session
// layer reads and writes (Read, Write, Close, deadlines), and the state the
// request handlers drive (input in sequence order, output, polling byte).
//
// Goroutines: the RTMP reader calls Read, the RTMP writer calls Write, and
// any number of request handlers call apply and respond. mu guards the
// buffers and the state; rmu and wmu serialize Reads and Writes so that a
// conn used by several goroutines still keeps its byte order.
type session struct {
	srv           *Server
	id            string
	local, remote net.Addr // remote's address is what Server.perIP counts

	// lastSeen is when the last request started or ended, in Unix
	// nanoseconds; the server's sweep reads it, so requests never touch
	// a timer. busy counts requests being served: a client waiting on one
	// (a /send for room, a held /idle, a slow server) is alive however
	// long it takes, and the session times out only from the end of its
	// last answer.
	lastSeen atomic.Int64
	busy     atomic.Int32

	rmu, wmu sync.Mutex
	rdl, wdl deadline

	mu  sync.Mutex
	in  queue // /send bytes not yet read
	out queue // bytes for the client not yet sent
	// closed: Close was called (the RTMP session ended). Pending output is
	// still delivered; then polls get closingByte and the id is forgotten.
	closed bool
	// started: the first request set next.
	started bool
	// timerBusy while a request uses waitTimer.
	timerBusy bool
	// Polling byte state (docs/rtmpt.md#response-bodies-and-the-polling-byte).
	empties, step int32
	// peerErr, once set, is what Read returns after the input is drained:
	// io.EOF after /close, ErrSessionExpired after expiry, net.ErrClosed
	// when the tunnel server shuts down.
	peerErr error
	// Sequence state (docs/rtmpt.md#sessions-and-sequence-numbers): next is the number the next body in
	// order carries; parked holds requests that came ahead of a gap (nil
	// value: a request without body).
	next   uint64
	parked map[uint64][]byte
	// parkedBytes is the body bytes in parked: they count against
	// MaxPendingInput with the unread input.
	parkedBytes int
	// inflight holds the sequence numbers of /send and /idle requests
	// between begin and respond; kick, made by the first request that
	// waits for output, is closed (and forgotten) when a request arrives
	// while others are in flight, so that a held older one answers now
	// (docs/rtmpt.md#sessions-and-sequence-numbers: answers in sequence order).
	inflight []uint64
	kick     chan struct{}
	// waitTimer serves waitOutput.
	waitTimer *time.Timer

	// Wake-ups, each with room for one pending signal, sent under mu:
	// readable when input arrives, writable when output drains, inRoom
	// when input is read, outReady when output is queued. Each is made by
	// the first wait for it, so an idle session holds none of them (a
	// parked one gives back those of its reader and of the requests), and
	// closed and forgotten when the conn is closed from either side (ended),
	// which wakes every waiter: waiters look at closed and peerErr under mu
	// before they wait, so none waits once ended is set.
	readable, writable, inRoom, outReady chan struct{}
	// onReadable is the RTMP session's call-back while its reader is
	// parked (NotifyReadable): called once, outside mu, when a Read would
	// not block.
	onReadable func()
}

func newSession(srv *Server, id string, local, remote net.Addr) *session {
	s := &session{srv: srv, id: id, local: local, remote: remote}
	s.touch()
	return s
}

// signal wakes ch's waiter, if any; a nil ch (nobody has waited) is
// nothing to wake. The session's signals are sent under mu, which keeps
// them from a channel markDone closed.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wakeup returns *ch, made first if nobody has waited on it yet; mu held.
func wakeup(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{}, 1)
	}
	return *ch
}

func (s *session) touch() { s.lastSeen.Store(time.Now().UnixNano()) }

// markDone wakes every waiter of the session for good, after Close or
// endPeer set closed or peerErr; mu must be held.
func (s *session) markDone() {
	for _, ch := range []*chan struct{}{&s.readable, &s.writable, &s.inRoom, &s.outReady, &s.kick} {
		if *ch != nil {
			close(*ch)
			*ch = nil
		}
	}
}

// Read returns bytes of /send bodies in sequence order.
func (s *session) Read(p []byte) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		s.mu.Lock()
		if s.in.len() > 0 {
			k := copy(p, s.in.peek())
			s.in.consume(k)
			if s.in.len() == 0 {
				// The reader takes a body as soon as it comes: the storage
				// goes back now rather than at the next empty poll, so
				// sessions that connect together do not hold it together.
				s.in.release()
			}
			signal(s.inRoom)
			s.mu.Unlock()
			return k, nil
		}
		closed, perr := s.closed, s.peerErr
		var readable chan struct{}
		if !closed && perr == nil && len(p) > 0 {
			readable = wakeup(&s.readable)
		}
		s.mu.Unlock()
		switch {
		case closed:
			return 0, net.ErrClosed
		case perr != nil:
			return 0, perr
		case len(p) == 0:
			return 0, nil
		}
		select {
		case <-readable:
		case <-s.rdl.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// NotifyReadable keeps f to be called once, outside the session's
// locks, when a Read would not block: input arrived, the client ended the
// session (/close, expiry, the tunnel server closing) or Close was
// called; false, keeping nothing, when a Read would not block now
// (rtmp.ReadNotifier). The RTMP session's reader then ends while the
// session is idle (docs/architecture.md#idle-connections).
func (s *session) NotifyReadable(f func()) bool {
	s.mu.Lock()
	if s.in.len() > 0 || s.closed || s.peerErr != nil {
		s.mu.Unlock()
		return false
	}
	s.onReadable = f
	// A parked session holds nothing its reader used (the input's
	// storage, empty now, and its wake-up; the read deadline that just
	// passed forgot its timer) and, with no request in flight, nothing
	// the requests use: an idle client's next polls find no output and
	// wait for none.
	s.in.release()
	s.readable = nil
	if len(s.inflight) == 0 {
		s.outReady, s.kick = nil, nil
		if !s.timerBusy && s.waitTimer != nil {
			s.waitTimer.Stop()
			s.waitTimer = nil
		}
	}
	s.mu.Unlock()
	return true
}

// StopNotify forgets the function NotifyReadable kept.
func (s *session) StopNotify() {
	s.mu.Lock()
	s.onReadable = nil
	s.mu.Unlock()
}

// takeNotify returns the parked reader's call-back, and forgets it, when a
// Read would not block; mu held. The caller calls it after releasing mu.
func (s *session) takeNotify() func() {
	f := s.onReadable
	if f == nil || (s.in.len() == 0 && !s.closed && s.peerErr == nil) {
		return nil
	}
	s.onReadable = nil
	return f
}

// Write queues p for the next responses. It blocks only while more than
// Config.MaxPendingOutput bytes are queued, until a poll drains them or the
// write deadline passes.
func (s *session) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	max := s.srv.cfg.MaxPendingOutput
	n := 0
	for {
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			return n, net.ErrClosed
		case s.peerErr != nil:
			s.mu.Unlock()
			return n, errPeerClosed
		}
		if room := max - s.out.len(); room > 0 {
			k := min(room, len(p))
			s.out.append(p[:k])
			signal(s.outReady)
			s.mu.Unlock()
			n += k
			p = p[k:]
			if len(p) == 0 {
				return n, nil
			}
			continue
		}
		writable := wakeup(&s.writable)
		s.mu.Unlock()
		select {
		case <-writable:
		case <-s.wdl.wait():
			return n, os.ErrDeadlineExceeded
		}
	}
}

// TryWriteBuffers queues the whole of bufs when the output has room for
// it and no other write is waiting, and reports whether it did; it never
// waits (rtmp.BuffersTryWriter). The RTMP server's merge clock writes a
// playing session this way at each tick, without a goroutine of the
// session, and leaves a batch that does not fit to WriteBuffers on a
// goroutine, which waits for a poll to make room.
func (s *session) TryWriteBuffers(bufs [][]byte) (bool, error) {
	if !s.wmu.TryLock() {
		return false, nil
	}
	defer s.wmu.Unlock()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return false, net.ErrClosed
	case s.peerErr != nil:
		s.mu.Unlock()
		return false, errPeerClosed
	}
	s.mu.Unlock()
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	return s.appendAll(bufs, total), nil
}

// appendAll queues bufs (total bytes) when the output has room for all of
// them and the session is open. wmu held.
func (s *session) appendAll(bufs [][]byte, total int) bool {
	s.mu.Lock()
	if s.closed || s.peerErr != nil || s.srv.cfg.MaxPendingOutput-s.out.len() < total {
		s.mu.Unlock()
		return false
	}
	for _, b := range bufs {
		s.out.append(b)
	}
	signal(s.outReady)
	s.mu.Unlock()
	return true
}

// WriteBuffers queues a whole chunk.Batch under one lock when it fits, so
// a poll answered meanwhile takes all of it or none (chunk.BuffersWriter);
// otherwise it falls back to Write, piece by piece.
func (s *session) WriteBuffers(bufs [][]byte) (int64, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	s.wmu.Lock()
	ok := s.appendAll(bufs, total)
	s.wmu.Unlock()
	if ok {
		return int64(total), nil
	}
	var n int64
	for _, b := range bufs {
		k, err := s.Write(b)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// queue is a byte queue whose storage comes from queuePool while the
// session is busy and goes back at the first poll that finds nothing to
// send: an idle session holds no buffer, a busy one keeps its own.
type queue struct {
	p   *[]byte // pooled storage, nil when empty
	b   []byte  // the bytes: b[off:] are queued
	off int
}

// Pooled storage starts at 4 KiB: the handshake's S0+S1+S2 (3073 bytes),
// which every new session queues at once, and the commands of an idle
// session fit, and a flow that needs more grows it once and keeps it;
// storage grown past 1 MiB by a burst is left to the GC rather than
// pooled.
const (
	queueInitial   = 4 << 10
	queueMaxPooled = 1 << 20
)

var queuePool = sync.Pool{New: func() any { b := make([]byte, 0, queueInitial); return &b }}

func (q *queue) len() int { return len(q.b) - q.off }

func (q *queue) peek() []byte { return q.b[q.off:] }

// append queues p, moving the queued bytes to the front first when
// appending would otherwise grow the storage.
func (q *queue) append(p []byte) {
	if q.p == nil {
		q.p = queuePool.Get().(*[]byte)
		q.b, q.off = (*q.p)[:0], 0
	}
	if q.off > 0 && len(q.b)+len(p) > cap(q.b) {
		n := copy(q.b, q.b[q.off:])
		q.b, q.off = q.b[:n], 0
	}
	q.b = append(q.b, p...)
}

// consume drops n queued bytes. The storage stays while the session is
// busy (respond releases it at the first empty poll), so a steady flow
// neither allocates nor goes through the pool.
func (q *queue) consume(n int) {
	q.off += n
	if q.off >= len(q.b) {
		q.b, q.off = q.b[:0], 0
	}
}

// release empties the queue and gives its storage back.
func (q *queue) release() {
	if q.p == nil {
		return
	}
	if cap(q.b) <= queueMaxPooled {
		*q.p = q.b[:0]
		queuePool.Put(q.p)
	}
	q.p, q.b, q.off = nil, nil, 0
}

// Close ends the session from the server side. Output already queued is
// still delivered to the client's next polls.
func (s *session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	peerGone := s.peerErr != nil
	s.in.release()
	s.markDone()
	wake := s.takeNotify()
	s.mu.Unlock()
	if wake != nil {
		wake()
	}
	s.rdl.stop()
	s.wdl.stop()
	if peerGone {
		// The client is gone too: nothing is left to deliver. Otherwise the
		// id lives until a poll collects the last output (respond reports
		// finished) or the session expires.
		s.srv.remove(s)
	}
	return nil
}

// endPeer ends the client side with err (io.EOF, ErrSessionExpired or
// net.ErrClosed): Read returns it once the input is drained and Write
// fails. It reports whether this call ended it.
func (s *session) endPeer(err error) bool {
	s.mu.Lock()
	if s.peerErr != nil {
		s.mu.Unlock()
		return false
	}
	s.peerErr = err
	s.out.release()
	s.parked, s.parkedBytes = nil, 0
	s.markDone()
	wake := s.takeNotify()
	s.mu.Unlock()
	if wake != nil {
		wake()
	}
	return true
}

func (s *session) LocalAddr() net.Addr  { return s.local }
func (s *session) RemoteAddr() net.Addr { return s.remote }

func (s *session) SetDeadline(t time.Time) error {
	s.rdl.set(t)
	s.wdl.set(t)
	return nil
}

func (s *session) SetReadDeadline(t time.Time) error  { s.rdl.set(t); return nil }
func (s *session) SetWriteDeadline(t time.Time) error { s.wdl.set(t); return nil }

// errNoRoom: a /send could not be queued because the RTMP session did not
// read its input for Config.RequestTimeout.
var errNoRoom = errors.New("tunnel: session input full")

// apply takes the body of request seq (nil for idle and close) in sequence
// order (docs/rtmpt.md#sessions-and-sequence-numbers): the first request sets the start, bodies are applied
// in order, duplicates are dropped, requests ahead of a gap are parked until
// it fills or more than MaxParked wait (then the gap is skipped).
func (s *session) apply(seq uint64, body []byte, timeout time.Duration) error {
	if len(body) > 0 {
		if err := s.waitRoom(seq, len(body), timeout); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.applyLocked(seq, body)
	wake := s.takeNotify()
	s.mu.Unlock()
	if wake != nil {
		wake()
	}
	return nil
}

// applyLocked is apply's part under mu, once the body has room.
func (s *session) applyLocked(seq uint64, body []byte) {
	if s.peerErr != nil {
		return // the client has gone: nothing is answered any more
	}
	if s.closed {
		// Nobody reads any more, but the numbers still count: respond
		// hands the last output (a rejection's _error) only to a request
		// in sequence, and then the closing byte that ends the client.
		body = nil
	}
	if !s.started {
		s.started, s.next = true, seq
	}
	switch {
	case seq == s.next:
		s.push(body)
		s.next++
		for len(s.parked) > 0 {
			b, ok := s.parked[s.next]
			if !ok {
				break
			}
			delete(s.parked, s.next)
			s.parkedBytes -= len(b)
			s.push(b)
			s.next++
		}
	case seq < s.next:
		s.srv.log.Debug("tunnel duplicate request", "session", s.id, "seq", seq, "next", s.next)
	default:
		if s.parked == nil {
			s.parked = map[uint64][]byte{}
		}
		if _, dup := s.parked[seq]; !dup {
			var b []byte
			if body != nil {
				b = append([]byte{}, body...)
			}
			s.parked[seq] = b
			s.parkedBytes += len(b)
		}
		if len(s.parked) > s.srv.cfg.MaxParked {
			s.skipGap()
		}
	}
}

// push appends body to the input; mu held.
func (s *session) push(body []byte) {
	if len(body) == 0 {
		return
	}
	s.in.append(body)
	signal(s.readable)
}

// skipGap gives up on the missing requests before the oldest parked one and
// applies what is parked in order; mu held.
func (s *session) skipGap() {
	lowest := ^uint64(0)
	for k := range s.parked {
		lowest = min(lowest, k)
	}
	s.srv.log.Warn("tunnel sequence gap skipped", "session", s.id, "from", s.next, "to", lowest)
	s.next = lowest
	for {
		b, ok := s.parked[s.next]
		if !ok {
			break
		}
		delete(s.parked, s.next)
		s.parkedBytes -= len(b)
		s.push(b)
		s.next++
	}
}

// waitRoom waits until the n input bytes of request seq fit under
// MaxPendingInput. A body that will be parked ahead of a gap counts with the
// bodies parked already, so the parked ones (up to MaxParked of
// MaxBodySize each) are bounded too; the next body in order counts only
// with the unread input, so parked bytes can never keep out the body that
// releases them.
func (s *session) waitRoom(seq uint64, n int, timeout time.Duration) error {
	var timer *time.Timer
	for {
		s.mu.Lock()
		var fits bool
		switch max := s.srv.cfg.MaxPendingInput; {
		case s.started && seq < s.next: // a duplicate, dropped
			fits = true
		case s.started && seq > s.next:
			fits = s.in.len()+s.parkedBytes+n <= max
		default:
			fits = s.in.len()+n <= max || s.in.len() == 0
		}
		gone := s.closed || s.peerErr != nil
		var inRoom chan struct{}
		if !fits && !gone {
			inRoom = wakeup(&s.inRoom)
		}
		s.mu.Unlock()
		if fits || gone {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
		}
		select {
		case <-inRoom:
		case <-timer.C:
			return errNoRoom
		}
	}
}

// begin registers request seq as in flight; older requests being held
// are woken to answer first.
func (s *session) begin(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.inflight) > 0 && s.kick != nil {
		close(s.kick)
		s.kick = nil
	}
	s.inflight = append(s.inflight, seq)
}

// end unregisters request seq; mu held. It reports whether the request may
// carry output: its number is applied (not parked ahead of a gap) and no
// older request is still in flight, so that output reaches the client in
// the order of its requests (docs/rtmpt.md#sessions-and-sequence-numbers: a parked request is answered
// with no data).
func (s *session) end(seq uint64) (mayTake bool) {
	older := false
	for i, q := range s.inflight {
		if q == seq {
			s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
			break
		}
	}
	for _, q := range s.inflight {
		if q < seq {
			older = true
			break
		}
	}
	return !older && (!s.started || seq < s.next)
}

// abort unregisters request seq, which gets no poll answer (503).
func (s *session) abort(seq uint64) {
	s.mu.Lock()
	s.end(seq)
	s.mu.Unlock()
}

// waitOutput waits up to d for output to be queued (held-idle mode and the
// short wait after a /send). It returns at once when output is pending or
// the session has ended, and early when a newer request arrives.
func (s *session) waitOutput(d time.Duration) {
	s.mu.Lock()
	pending := s.out.len() > 0 || s.closed || s.peerErr != nil
	if pending {
		s.mu.Unlock()
		return
	}
	kick := s.kick
	if kick == nil {
		kick = make(chan struct{})
		s.kick = kick
	}
	ready := wakeup(&s.outReady)
	s.mu.Unlock()
	select {
	case <-ready: // drain a stale signal and re-check below
	default:
	}
	s.mu.Lock()
	pending = s.out.len() > 0 || s.closed || s.peerErr != nil
	s.mu.Unlock()
	if pending {
		return
	}
	t, own := s.getTimer(d)
	defer s.putTimer(t, own)
	select {
	case <-ready:
	case <-kick:
	case <-t.C:
	}
}

// getTimer returns the session's wait timer armed for d, or a new timer
// when another request is using it (two in flight). Every /send that finds
// no output waits sendLinger: a timer per request would allocate.
func (s *session) getTimer(d time.Duration) (t *time.Timer, own bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timerBusy {
		return time.NewTimer(d), false
	}
	s.timerBusy = true
	if s.waitTimer == nil {
		s.waitTimer = time.NewTimer(d)
	} else {
		// Stopped by putTimer: since Go 1.23 its channel holds no stale
		// tick, so Reset is safe.
		s.waitTimer.Reset(d)
	}
	return s.waitTimer, true
}

func (s *session) putTimer(t *time.Timer, own bool) {
	t.Stop()
	if own {
		s.mu.Lock()
		s.timerBusy = false
		s.mu.Unlock()
	}
}

// bodyAppender receives a response body in pieces (fasthttp's response
// buffer, or a pooled buffer for net/http).
type bodyAppender interface {
	appendBody(p []byte)
}

// respond answers request seq (registered with begin): the polling byte
// and up to max pending bytes to w (docs/rtmpt.md#response-bodies-and-the-polling-byte). It returns how many RTMP
// bytes it appended and whether the session is finished: closed on the
// server side with everything delivered, so its id can be forgotten.
func (s *session) respond(w bodyAppender, max int, seq uint64) (n int, finished bool) {
	s.mu.Lock()
	pending := s.out.len()
	if !s.end(seq) {
		// A parked or overtaking request: the polling byte only; an
		// older request held in waitOutput takes the output (pass on the
		// wake-up this one may have consumed).
		if pending > 0 {
			signal(s.outReady)
		}
		pending = 0
	}
	switch {
	case pending > 0:
		n = min(pending, max)
		s.step, s.empties = 0, 0
		w.appendBody(pollBytes[0:1])
		w.appendBody(s.out.peek()[:n])
		s.out.consume(n)
		signal(s.writable)
		s.mu.Unlock()
		return n, false
	case s.closed && s.out.len() == 0:
		s.mu.Unlock()
		w.appendBody(closingByte[:])
		return 0, true
	}
	s.empties++
	if s.empties > emptiesPerStep {
		s.empties = 0
		s.step = min(s.step+1, int32(len(pollBytes)-1))
	}
	// Nothing flowing: give the storage back until there is.
	if s.out.len() == 0 {
		s.out.release()
	}
	if s.in.len() == 0 {
		s.in.release()
	}
	w.appendBody(pollBytes[s.step : s.step+1])
	s.mu.Unlock()
	return 0, false
}

var _ net.Conn = (*session)(nil)
var _ io.ReadWriteCloser = (*session)(nil)
