package chunk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Reader reassembles messages from a chunk stream (docs/rtmp.md#chunk-stream). It is owned
// by one goroutine (the connection's reader).
type Reader struct {
	src io.Reader
	// br buffers src while a chunk is being parsed. When the caller's
	// io.Reader is not a *bufio.Reader, br comes from bufPool at the first
	// byte of a chunk and goes back once a message is complete and nothing
	// is buffered, so an idle connection blocks in a 1-byte read holding
	// no buffer (the goal is a few KB per idle connection).
	br        *bufio.Reader
	pooled    bool // br is ours to return to bufPool
	keep      bool // hold a pooled br between messages (KeepBuffer)
	lim       Limits
	chunkSize uint32
	consumed  uint64
	pending   int  // sum of lengths of messages in progress
	waited    bool // Wait read the first byte of the next chunk into scratch[0]
	// budget, when set, is charged with held: the capacity of the buffers
	// of messages in progress.
	budget *Budget
	held   int

	// states holds one record per chunk stream seen. Peers use a handful,
	// so a linear scan with a one-entry cache beats a map; MaxCSIDs bounds
	// the scan for hostile peers.
	states []*readState
	last   *readState

	// src as the pooled buffer reads it, noting whether the last read
	// filled all it was given (Drained).
	meter meter

	scratch [16]byte
}

// meter is the Reader's source seen through its pooled buffer: full is
// whether the last read returned all that was asked, that is whether the
// source may hold more right now.
type meter struct {
	src  io.Reader
	full bool
	// try, while set, is read instead of src: the non-blocking source of
	// Fill, or wouldBlock while ReadBuffered parses (buffered.go).
	try io.Reader
}

func (m *meter) Read(p []byte) (int, error) {
	src := m.src
	if m.try != nil {
		src = m.try
	}
	n, err := src.Read(p)
	m.full = n == len(p)
	return n, err
}

// readState is the per-csid reader state of docs/rtmp.md#message-header.
type readState struct {
	csid     uint32
	streamID uint32
	length   uint32
	typ      uint8
	ts       uint32 // absolute timestamp of the current or last message
	delta    uint32 // last timestamp field; after fmt 0 the absolute value (docs/rtmp.md#message-header)
	ext      bool   // the last fmt 0/1/2 header used the extended field
	extVal   uint32 // its value
	active   bool   // a message is being reassembled in buf
	buf      []byte // len = bytes received so far
}

// bufPool holds the read buffers of busy Readers; idle ones hold none.
// keptPool holds the larger ones of Readers that keep theirs.
var (
	bufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	keptPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, keptBufferSize) }}
)

// putBuffer returns a pooled buffer to the pool of its size.
func putBuffer(br *bufio.Reader) {
	br.Reset(nil) // drop the reference to src
	if br.Size() == keptBufferSize {
		keptPool.Put(br)
		return
	}
	bufPool.Put(br)
}

// NewReader returns a Reader of the chunk stream r with the given limits
// (zero fields take their defaults). If r is a *bufio.Reader it is used as
// is, for good (at least 16 bytes of buffer are needed). Otherwise the
// Reader buffers r with a pooled buffer that it holds only while data is
// pending: between messages, with nothing buffered, it keeps no buffer.
// r must carry nothing but the chunk stream from here on (the handshake is
// over); the Reader may read ahead of the message it returns.
func NewReader(r io.Reader, lim Limits) *Reader {
	cr := &Reader{src: r, lim: lim.WithDefaults(), chunkSize: DefaultChunkSize}
	cr.meter.src = r
	if br, ok := r.(*bufio.Reader); ok {
		cr.br = br
	}
	return cr
}

// SetBudget makes the Reader charge b with the buffers of the messages it
// is reassembling, from their first byte until ReadMessage returns them (the
// payload is the caller's from then on). Call it before the first
// ReadMessage, and Release when done with the Reader.
func (r *Reader) SetBudget(b *Budget) { r.budget = b }

// Release gives back to the budget what the Reader's unfinished messages
// hold and forgets them. Call it when the connection ends; the Reader must
// not be used after.
func (r *Reader) Release() {
	for _, st := range r.states {
		st.buf, st.active = nil, false
	}
	r.pending = 0
	r.unhold(r.held)
	if r.pooled {
		// A kept buffer, or one holding unread bytes: pooled again.
		putBuffer(r.br)
		r.br, r.pooled = nil, false
	}
}

// hold charges n more bytes of buffer to the budget.
func (r *Reader) hold(n int) bool {
	if r.budget != nil && !r.budget.take(n) {
		return false
	}
	r.held += n
	return true
}

func (r *Reader) unhold(n int) {
	if r.budget != nil {
		r.budget.give(n)
	}
	r.held -= n
}

// release gives the read buffer back when nothing is buffered, so that a
// Reader waiting for the next message holds none. A Reader keeping its
// buffer trades it there for a kept-size one.
func (r *Reader) release() {
	if !r.pooled || r.br.Buffered() != 0 {
		return
	}
	switch {
	case !r.keep:
		putBuffer(r.br)
		r.br, r.pooled = nil, false
	case r.br.Size() != keptBufferSize:
		putBuffer(r.br)
		r.br = keptPool.Get().(*bufio.Reader)
		r.br.Reset(&r.meter)
	}
}

// Buffered returns the bytes read from the stream and not yet parsed.
func (r *Reader) Buffered() int {
	if r.br == nil {
		return 0
	}
	return r.br.Buffered()
}

// Idle reports that the Reader holds no byte of the stream: the next
// ReadMessage (or Wait) starts by reading it.
func (r *Reader) Idle() bool { return r.br == nil && !r.waited }

// Drained reports that the Reader has parsed everything it read and that
// its last read of the stream returned less than it asked for: the stream
// had nothing more at that moment, so the next ReadMessage would wait for
// the peer. False for a Reader given a *bufio.Reader.
func (r *Reader) Drained() bool {
	return r.pooled && r.br.Buffered() == 0 && !r.meter.full
}

// KeepBuffer makes the Reader hold its pooled buffer between messages
// (true) or give it back at the next message boundary with nothing
// buffered, as it does by default (false). A connection that receives
// steadily, a publisher, keeps it: giving it back at every message costs
// a one-byte read per message (the wait for the next one) on top of the
// read that fills the buffer, a system call out of three on a stream of
// messages that arrive one by one.
func (r *Reader) KeepBuffer(keep bool) {
	r.keep = keep
	if !keep && r.br != nil {
		r.release()
	}
}

// BytesRead returns the number of bytes the Reader has consumed from the
// stream: every header and payload byte, the basis of Acknowledgement
// messages (docs/rtmp.md#protocol-control-messages type 3). Bytes buffered but not yet parsed are not
// counted; handshake bytes, read before NewReader, are not either.
func (r *Reader) BytesRead() uint64 { return r.consumed }

// ChunkSize returns the peer's current chunk size: 128 until a Set Chunk
// Size message changes it.
func (r *Reader) ChunkSize() uint32 { return r.chunkSize }

// Wait blocks until the next message starts to arrive, holding no buffer:
// it returns at once if data is buffered, else it reads the first byte of
// the next chunk into the Reader. It returns what that read returns (io.EOF
// unwrapped for a stream that ends between chunks); after an error the
// Reader must not be used again. Calling Wait before ReadMessage is
// optional and changes nothing in what ReadMessage returns.
//
// Its point is stack depth: an idle connection's goroutine parks in Wait,
// a small frame, rather than inside the chunk parser, so the runtime can
// shrink that goroutine's stack while it is idle. Keep it small and free of io.ReadFull.
func (r *Reader) Wait() error {
	if r.br != nil || r.waited {
		return nil
	}
	for {
		n, err := r.src.Read(r.scratch[:1])
		if n == 1 {
			r.waited = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ReadMessage returns the next complete message. The payload is freshly
// allocated for each message and owned by the caller; the Reader never
// touches it again, so it may be shared read-only.
//
// Set Chunk Size (type 1) and Abort (type 2) are applied before they are
// returned; they are still returned so the caller can log them. io.EOF is
// returned unwrapped when the stream ends between chunks. Any error is
// fatal: the Reader must not be used again.
func (r *Reader) ReadMessage() (Header, []byte, error) {
	for {
		st, err := r.readChunk()
		if err != nil {
			return Header{}, nil, err
		}
		if len(st.buf) < int(st.length) {
			continue // more chunks to come, maybe interleaved with other csids
		}
		return r.complete(st)
	}
}

// complete returns the message st has finished reassembling, applying Set
// Chunk Size and Abort.
func (r *Reader) complete(st *readState) (Header, []byte, error) {
	r.release()
	h := Header{CSID: st.csid, Timestamp: st.ts, Length: st.length, Type: st.typ, StreamID: st.streamID}
	p := st.buf
	r.unhold(cap(p))
	st.buf, st.active = nil, false
	r.pending -= int(st.length)
	if p == nil {
		p = []byte{}
	}
	switch h.Type {
	case TypeSetChunkSize:
		if err := r.setChunkSize(p); err != nil {
			return h, p, fmt.Errorf("csid %d: %w", h.CSID, err)
		}
	case TypeAbort:
		if len(p) < 4 {
			return h, p, fmt.Errorf("%w: Abort with %d bytes on csid %d", ErrShortControl, len(p), h.CSID)
		}
		if a := r.lookup(u32(p)); a != nil && a.active {
			r.drop(a)
		}
	}
	return h, p, nil
}

func (r *Reader) setChunkSize(p []byte) error {
	if len(p) < 4 {
		return fmt.Errorf("%w: Set Chunk Size with %d bytes", ErrShortControl, len(p))
	}
	n := u32(p)
	if n == 0 || n > MaxChunkSizeField || n > r.lim.MaxChunkSize {
		return fmt.Errorf("%w: peer set %d (%#x), allowed 1..%d", ErrChunkSize, n, n, min(r.lim.MaxChunkSize, MaxChunkSizeField))
	}
	r.chunkSize = n
	return nil
}

// drop discards the partial message of st (Abort, or a new header on a csid
// with an unfinished message: docs/rtmp.md#message-header advises leniency).
func (r *Reader) drop(st *readState) {
	r.pending -= int(st.length)
	r.unhold(cap(st.buf))
	st.buf, st.active = nil, false
}

func (r *Reader) lookup(csid uint32) *readState {
	if r.last != nil && r.last.csid == csid {
		return r.last
	}
	for _, st := range r.states {
		if st.csid == csid {
			r.last = st
			return st
		}
	}
	return nil
}

// read fills r.scratch[off:off+n] and counts the bytes. Message headers
// are read at offset 0 and extended timestamps at 12, so neither overwrites
// the other.
func (r *Reader) read(off, n int) ([]byte, error) {
	b := r.scratch[off : off+n]
	k, err := io.ReadFull(r.br, b)
	r.consumed += uint64(k)
	return b, err
}

// unexpected turns an EOF inside a chunk into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) budgetErr(st *readState, n int) error {
	return fmt.Errorf("%w: csid %d type %d: %d more bytes for a message of %d, %d of %d held by all connections",
		ErrBudget, st.csid, st.typ, n, st.length, r.budget.Used(), r.budget.Limit())
}

// readChunk reads one chunk and returns the state of its chunk stream.
func (r *Reader) readChunk() (*readState, error) {
	var b0 byte
	if r.br == nil {
		// Idle: wait for the first byte without holding a buffer (unless
		// Wait already did), then buffer the rest of the chunk.
		if !r.waited {
			if _, err := io.ReadFull(r.src, r.scratch[:1]); err != nil {
				return nil, err // io.EOF here is a clean end of stream
			}
		}
		r.waited = false
		b0 = r.scratch[0]
		r.br = bufPool.Get().(*bufio.Reader)
		r.br.Reset(&r.meter)
		r.pooled = true
	} else {
		var err error
		if b0, err = r.br.ReadByte(); err != nil {
			return nil, err // io.EOF here is a clean end of stream
		}
	}
	r.consumed++
	var err error
	form := b0 >> 6
	csid := uint32(b0 & 0x3f)
	switch csid {
	case 0:
		b, err := r.read(0, 1)
		if err != nil {
			return nil, fmt.Errorf("chunk: reading basic header: %w", unexpected(err))
		}
		csid = 64 + uint32(b[0])
	case 1:
		b, err := r.read(0, 2)
		if err != nil {
			return nil, fmt.Errorf("chunk: reading basic header: %w", unexpected(err))
		}
		csid = 64 + uint32(b[0]) + uint32(b[1])<<8
	}

	st := r.lookup(csid)
	if st == nil {
		if form >= 2 {
			return nil, fmt.Errorf("%w: fmt %d on csid %d", ErrNoPreviousHeader, form, csid)
		}
		if len(r.states) >= r.lim.MaxCSIDs {
			return nil, fmt.Errorf("%w: csid %d would be number %d, limit %d", ErrTooManyCSIDs, csid, len(r.states)+1, r.lim.MaxCSIDs)
		}
		// A fmt 1 header on a new csid inherits msid 0 and time 0, as
		// ffmpeg's zeroed state does.
		st = &readState{csid: csid}
		r.states = append(r.states, st)
		r.last = st
	}

	var mh []byte
	if n := msgHeaderLen[form]; n > 0 {
		if mh, err = r.read(0, n); err != nil {
			return nil, fmt.Errorf("chunk: csid %d: reading fmt %d header: %w", csid, form, unexpected(err))
		}
	}
	start := false
	if form < 3 {
		field := u24(mh)
		st.ext = field == extendedTS
		if st.ext {
			b, err := r.read(12, 4)
			if err != nil {
				return nil, fmt.Errorf("chunk: csid %d: reading extended timestamp: %w", csid, unexpected(err))
			}
			field = u32(b)
			st.extVal = field
		}
		if st.active {
			r.drop(st) // lenient: a new header abandons the partial (docs/rtmp.md#message-header)
		}
		if form < 2 {
			st.length, st.typ = u24(mh[3:]), mh[6]
			if form == 0 {
				st.streamID = u32le(mh[7:])
			}
		}
		if form == 0 {
			st.ts = field
		} else {
			st.ts += field
		}
		st.delta = field
		start = true
	} else if st.active {
		// Continuation. Strict peers repeat the extended timestamp here,
		// 2009-draft ones do not: consume the 4 bytes only if they equal
		// the stored value (docs/rtmp.md#extended-timestamps, the SRS approach). Limitation: a draft
		// peer whose last chunk holds fewer than 4 bytes and that then
		// waits for us stalls this Peek until it sends more; that needs
		// a draft encoder and a timestamp past 4.6 hours.
		if st.ext {
			b, err := r.br.Peek(4)
			if len(b) == 4 && u32(b) == st.extVal {
				_, _ = r.br.Discard(4)
				r.consumed += 4
			} else if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("chunk: csid %d: %w", csid, err)
			}
		}
	} else {
		// fmt 3 starting a new message: everything repeats, including the
		// delta (docs/rtmp.md#message-header); the extended field, if any, is always present.
		if st.ext {
			b, err := r.read(12, 4)
			if err != nil {
				return nil, fmt.Errorf("chunk: csid %d: reading extended timestamp: %w", csid, unexpected(err))
			}
			st.extVal = u32(b)
			st.delta = st.extVal
		}
		st.ts += st.delta
		start = true
	}

	if start {
		if st.length > r.lim.MaxMessageSize {
			return nil, fmt.Errorf("%w: csid %d type %d: length %d, limit %d", ErrMessageTooLarge, csid, st.typ, st.length, r.lim.MaxMessageSize)
		}
		if r.pending+int(st.length) > r.lim.MaxPendingBytes {
			return nil, fmt.Errorf("%w: csid %d type %d: length %d on top of %d pending, limit %d", ErrPendingBytes, csid, st.typ, st.length, r.pending, r.lim.MaxPendingBytes)
		}
		r.pending += int(st.length)
		st.active = true
		st.buf = nil
	}

	// Chunk data: up to one chunk size of what the message still needs.
	k := int(min(st.length-uint32(len(st.buf)), r.chunkSize))
	if st.buf == nil && st.active {
		// The first chunk: small messages are allocated exactly, larger
		// ones start at allocStep and grow as bytes arrive (below).
		if !r.hold(int(min(st.length, allocStep))) {
			return nil, r.budgetErr(st, int(min(st.length, allocStep)))
		}
		st.buf = make([]byte, 0, min(st.length, allocStep))
	}
	for k > 0 {
		have := len(st.buf)
		if cap(st.buf) == have {
			// Grow by doubling, capped at the message length, so the
			// final payload has no spare capacity (it may sit in a GOP
			// cache). Doubling only once the buffer is full means a peer
			// that declares 16 MiB and sends one byte makes us hold
			// allocStep, not 16 MiB: memory follows the bytes received.
			nc := min(2*cap(st.buf), int(st.length))
			if !r.hold(nc - cap(st.buf)) {
				return nil, r.budgetErr(st, nc-cap(st.buf))
			}
			nb := make([]byte, have, nc)
			copy(nb, st.buf)
			st.buf = nb
		}
		step := min(k, cap(st.buf)-have)
		st.buf = st.buf[:have+step]
		n, err := io.ReadFull(r.br, st.buf[have:])
		r.consumed += uint64(n)
		if err != nil {
			st.buf = st.buf[:have+n]
			return nil, fmt.Errorf("chunk: csid %d type %d: reading %d bytes of chunk data: %w", csid, st.typ, k, unexpected(err))
		}
		k -= step
	}
	return st, nil
}
