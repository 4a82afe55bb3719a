package chunk

import (
	"io"
	"net" //nolint:depguard // only net.Buffers, for writev on a *net.TCPConn; no sockets here
)

// Batch collects encoded messages of one connection until they are written
// in one vectored write. It is reused across flushes: once its buffers have
// grown to the connection's usual burst, appending and writing allocate
// nothing. The zero value is ready to use; to give back the memory of an
// idle connection, drop the Batch (or replace it with a zero one) and take a
// fresh or pooled one when data is pending again. A Batch is owned by the
// connection's writer goroutine.
type Batch struct {
	// slab holds chunk headers and small payloads copied next to them.
	// segs refer to it by offset, so growing it never invalidates them.
	slab []byte
	segs []segment
	n    int

	// bufs is built from segs at WriteTo time; vec is the copy that
	// net.Buffers.WriteTo consumes. Both are fields so that taking their
	// address does not allocate.
	bufs net.Buffers
	vec  net.Buffers
}

// segment is either slab[start:end] (ref == nil) or ref, a payload chunk
// the batch does not own.
type segment struct {
	start, end int
	ref        []byte
}

// Len returns the number of bytes pending.
func (b *Batch) Len() int { return b.n }

// addCopy appends p to the slab, extending the previous segment when it
// ends where p starts, so adjacent headers and tiny payloads form one iovec.
func (b *Batch) addCopy(p []byte) {
	start := len(b.slab)
	b.slab = append(b.slab, p...)
	b.n += len(p)
	if k := len(b.segs) - 1; k >= 0 && b.segs[k].ref == nil && b.segs[k].end == start {
		b.segs[k].end = len(b.slab)
		return
	}
	b.segs = append(b.segs, segment{start: start, end: len(b.slab)})
}

// addRef appends a payload chunk by reference, or copies it when it is
// smaller than an iovec is worth.
func (b *Batch) addRef(p []byte) {
	switch {
	case len(p) == 0:
	case len(p) < coalesceMax:
		b.addCopy(p)
	default:
		b.segs = append(b.segs, segment{ref: p})
		b.n += len(p)
	}
}

// WriteTo writes everything pending to w in one vectored write (writev on a
// *net.TCPConn; one Write per segment on other writers) and empties the
// batch, keeping its capacity. On error the batch is emptied too: the
// connection is unusable after a short write anyway.
//
// A writer that implements BuffersWriter gets the whole batch in one call.
func (b *Batch) WriteTo(w io.Writer) (int64, error) {
	if b.n == 0 {
		return 0, nil
	}
	b.Buffers()
	if bw, ok := w.(BuffersWriter); ok {
		n, err := bw.WriteBuffers(b.bufs)
		b.Reset()
		return n, err
	}
	b.vec = b.bufs
	n, err := b.vec.WriteTo(w)
	b.Reset()
	return n, err
}

// Buffers returns everything pending as one vector, in wire order, for a
// caller that writes it itself (a non-blocking writev) and then calls
// Consume with what was written. The slices alias the batch: they are
// valid until the next Append, Consume, WriteTo or Reset.
func (b *Batch) Buffers() [][]byte {
	b.bufs = b.bufs[:0]
	for _, s := range b.segs {
		if s.ref != nil {
			b.bufs = append(b.bufs, s.ref)
		} else {
			b.bufs = append(b.bufs, b.slab[s.start:s.end])
		}
	}
	return b.bufs
}

// Consume drops the first n pending bytes, which the caller has written:
// what is left goes out with the next WriteTo. With everything consumed
// the batch is empty and reset.
func (b *Batch) Consume(n int) {
	if n >= b.n {
		b.Reset()
		return
	}
	b.n -= n
	k := 0
	for ; n > 0; k++ {
		s := &b.segs[k]
		size := s.end - s.start
		if s.ref != nil {
			size = len(s.ref)
		}
		if n < size {
			if s.ref != nil {
				s.ref = s.ref[n:]
			} else {
				s.start += n
			}
			break
		}
		n -= size
	}
	m := copy(b.segs, b.segs[k:])
	clear(b.segs[m:])
	b.segs = b.segs[:m]
}

// Reset discards everything pending, keeping capacity. It drops the
// batch's references to payloads so they can be collected.
func (b *Batch) Reset() {
	clear(b.segs)
	b.segs = b.segs[:0]
	clear(b.bufs)
	b.bufs = b.bufs[:0]
	b.vec = nil
	b.slab = b.slab[:0]
	b.n = 0
}

// BuffersWriter is implemented by byte streams that are not sockets but
// can take a whole batch at once, such as an RTMPT session: a poll then
// carries all of one flush or none of it, never the first iovec alone.
type BuffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}
