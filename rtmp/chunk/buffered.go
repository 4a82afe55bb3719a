package chunk

import (
	"errors"
	"io"
)

// ErrWouldBlock is what the source given to Fill returns when it has
// nothing to read right now (a non-blocking socket's EAGAIN).
var ErrWouldBlock = errors.New("chunk: no data ready")

// Buffered says what ReadBuffered found.
type Buffered int

const (
	// Message: a message was returned.
	Message Buffered = iota
	// Partial: the next chunk is not all buffered yet; it fits in the
	// buffer, so Fill and ReadBuffered again, or wait for more data.
	Partial
	// Blocking: the next chunk cannot be parsed from the buffer alone (it
	// is larger than the buffer, or the Reader holds none): only
	// ReadMessage, which may wait for the stream, can take it.
	Blocking
)

// wouldBlock is the meter's source while ReadBuffered parses: the chunks
// it parses are whole in the buffer, so reaching the stream would be a
// bug, which must fail the connection rather than block the caller.
type wouldBlock struct{}

func (wouldBlock) Read([]byte) (int, error) { return 0, ErrWouldBlock }

// Fill reads once from src into the Reader's buffer, after the bytes
// already buffered, and returns how many it read. src stands for the
// Reader's stream (the same socket, read without waiting): it returns
// ErrWouldBlock when nothing is there and io.EOF at the end. It lets a
// caller that must not wait (the ingest clock, which reads many
// connections from one goroutine) read the stream itself and then parse
// what came with ReadBuffered. It reads nothing, and returns 0 and no
// error, when the Reader holds no buffer of its own (only a KeepBuffer
// Reader that has read keeps one) or the buffer is full. MayHaveMore says
// afterwards whether the read filled all the room it had.
func (r *Reader) Fill(src io.Reader) (int, error) {
	if !r.pooled || r.waited || r.br.Buffered() == r.br.Size() {
		return 0, nil
	}
	have := r.br.Buffered()
	r.meter.try = src
	// Peek fills the buffer with one read of src: it stops at the first
	// byte or error.
	_, err := r.br.Peek(have + 1)
	r.meter.try = nil
	n := r.br.Buffered() - have
	if n > 0 {
		err = nil
	}
	return n, err
}

// MayHaveMore reports that the last read of the stream filled everything
// it was given: the stream may hold more right now.
func (r *Reader) MayHaveMore() bool { return r.meter.full }

// ReadBuffered returns the next message if the chunks it still needs are
// all in the Reader's buffer, without ever reading the stream. Partial
// means the next chunk has not arrived whole (Fill, or wait); Blocking
// means it cannot be taken from the buffer (ReadMessage must). A message
// and errors are as ReadMessage returns them, and any error is as fatal.
// ReadBuffered and ReadMessage may be mixed: both leave the Reader at a
// chunk boundary.
func (r *Reader) ReadBuffered() (Header, []byte, Buffered, error) {
	for {
		if !r.pooled || r.waited {
			return Header{}, nil, Blocking, nil
		}
		b, _ := r.br.Peek(r.br.Buffered())
		need := r.chunkNeed(b)
		switch {
		case need > r.br.Size():
			return Header{}, nil, Blocking, nil
		case need == 0 || need > len(b):
			return Header{}, nil, Partial, nil
		}
		r.meter.try = wouldBlock{}
		st, err := r.readChunk()
		r.meter.try = nil
		if err != nil {
			return Header{}, nil, Message, err
		}
		if len(st.buf) < int(st.length) {
			continue
		}
		h, p, err := r.complete(st)
		return h, p, Message, err
	}
}

// chunkNeed returns how many bytes of b the next chunk takes, its headers
// and data as readChunk will read them, or 0 when b is too short to tell.
// A chunk that readChunk refuses before its data (an unknown chunk
// stream, a limit) needs only what readChunk reads before refusing.
func (r *Reader) chunkNeed(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	form := b[0] >> 6
	csid := uint32(b[0] & 0x3f)
	n := 1
	switch csid {
	case 0:
		n = 2
	case 1:
		n = 3
	}
	if len(b) < n {
		return 0
	}
	switch csid {
	case 0:
		csid = 64 + uint32(b[1])
	case 1:
		csid = 64 + uint32(b[1]) + uint32(b[2])<<8
	}
	st := r.lookup(csid)
	if st == nil && (form >= 2 || len(r.states) >= r.lim.MaxCSIDs) {
		return n
	}
	mh := msgHeaderLen[form]
	if len(b) < n+mh {
		return 0
	}
	var length, have uint32
	ext, start, pending := false, true, r.pending
	if st != nil {
		length, ext = st.length, st.ext
	}
	switch {
	case form < 3:
		ext = u24(b[n:]) == extendedTS
		if form < 2 {
			length = u24(b[n+3:])
		}
		n += mh
		if ext {
			n += 4
		}
		if st != nil && st.active {
			pending -= int(st.length) // readChunk drops the partial
		}
	case st.active:
		start, have = false, uint32(len(st.buf))
		if ext {
			// The extended field repeats on continuations, or not
			// (readChunk's Peek): it takes 4 bytes when they equal it.
			if len(b) < n+4 {
				return 0
			}
			if u32(b[n:]) == st.extVal {
				n += 4
			}
		}
	case ext:
		n += 4
	}
	if start && (length > r.lim.MaxMessageSize || pending+int(length) > r.lim.MaxPendingBytes) {
		return n
	}
	return n + int(min(length-have, r.chunkSize))
}
