package chunk

import "fmt"

// Writer cuts messages into chunks for one connection's outgoing direction
// (docs/rtmp.md#how-openfcs-writes-chunks). It keeps the per-csid state that header compression
// depends on, so every message of the connection must go through the same
// Writer, in wire order. It is owned by one goroutine (the connection's
// writer).
type Writer struct {
	chunkSize uint32
	// low holds the state of csids MinCSID..MinCSID+len(low)-1, indexed
	// by csid-MinCSID: the ones openfcs writes (control, commands, audio,
	// data, video). They live in the Writer itself rather than in a slice
	// of their own, so a merge-clock round, which encodes a tick of every
	// player one connection after another, touches one object per
	// connection for its header state instead of two, and finds a csid
	// without a search. A zero csid marks a state not used yet. states
	// holds any other csid.
	low    [5]writeState
	states []writeState

	// first and cont hold the encoded headers of the message being
	// appended: the first chunk's and the continuation chunks'.
	first [maxChunkHeader]byte
	cont  [3 + 4]byte
}

// writeState is what the peer's reader remembers of a csid.
type writeState struct {
	csid, streamID, ts, length uint32
	typ                        uint8
}

// NewWriter returns a Writer with chunk size 128 (DefaultChunkSize).
func NewWriter() *Writer {
	return &Writer{chunkSize: DefaultChunkSize}
}

// SetChunkSize sets the chunk size of subsequent messages. The caller sends
// the Set Chunk Size message (type 1) itself, through this Writer and before
// calling SetChunkSize, since the peer applies the new size only after that
// message. n must be in 1..MaxChunkSizeField; keep it ≤ 65536 for librtmp
// peers (docs/rtmp.md#chunk-size-abort-and-limits).
func (w *Writer) SetChunkSize(n uint32) {
	if n == 0 || n > MaxChunkSizeField {
		panic(fmt.Sprintf("chunk: SetChunkSize(%d) out of range 1..%d", n, MaxChunkSizeField))
	}
	w.chunkSize = n
}

// ChunkSize returns the current outgoing chunk size.
func (w *Writer) ChunkSize() uint32 { return w.chunkSize }

// encode picks the header form for h (docs/rtmp.md#how-openfcs-writes-chunks), writes the first and
// continuation chunk headers into w.first and w.cont, updates the csid state
// and returns the two header lengths. A length above MaxLength is an error
// that leaves the Writer unchanged: payloads come from peers and scripts, so
// their size is not ours to promise. A csid outside MinCSID..MaxCSID panics:
// the caller picks csids, never a peer.
func (w *Writer) encode(h *Header, length int) (nfirst, ncont int, err error) {
	if h.CSID < MinCSID || h.CSID > MaxCSID {
		panic(fmt.Sprintf("chunk: csid %d out of range %d..%d", h.CSID, MinCSID, MaxCSID))
	}
	if length > MaxLength {
		return 0, 0, fmt.Errorf("%w: %d bytes of type %d on csid %d, the length field holds %d", ErrMessageTooLarge, length, h.Type, h.CSID, MaxLength)
	}
	n := uint32(length)
	st := w.state(h.CSID)
	form := byte(0)
	field := h.Timestamp // fmt 0: absolute time; fmt 1/2: delta
	if st.csid == 0 {
		st.csid = h.CSID
	} else if delta := h.Timestamp - st.ts; st.streamID == h.StreamID && int32(delta) >= 0 {
		// Same msid and time not going backwards (serial arithmetic, so a
		// jump of 2^31 or more also gets a fresh fmt 0).
		field = delta
		if st.typ == h.Type && st.length == n {
			form = 2
		} else {
			form = 1
		}
	}
	st.streamID, st.ts, st.length, st.typ = h.StreamID, h.Timestamp, n, h.Type

	ext := field >= extendedTS
	f := appendBasicHeader(w.first[:0], form, h.CSID)
	if form <= 2 {
		if ext {
			f = appendU24(f, extendedTS)
		} else {
			f = appendU24(f, field)
		}
	}
	if form <= 1 {
		f = appendU24(f, n)
		f = append(f, h.Type)
	}
	if form == 0 {
		s := h.StreamID
		f = append(f, byte(s), byte(s>>8), byte(s>>16), byte(s>>24)) // little-endian (docs/rtmp.md#message-header)
	}
	c := appendBasicHeader(w.cont[:0], 3, h.CSID)
	if ext {
		f = appendU32(f, field)
		c = appendU32(c, field) // repeated on every continuation chunk (docs/rtmp.md#extended-timestamps)
	}
	return len(f), len(c), nil
}

// state returns the state of csid; its csid field is 0 when nothing has
// been written on it yet.
func (w *Writer) state(csid uint32) *writeState {
	if i := csid - MinCSID; i < uint32(len(w.low)) {
		return &w.low[i]
	}
	for i := range w.states {
		if w.states[i].csid == csid {
			return &w.states[i]
		}
	}
	w.states = append(w.states, writeState{})
	return &w.states[len(w.states)-1]
}

// Append encodes one message into b: chunk headers go into b's reused
// header slab, payload chunks are referenced, not copied (tiny ones are
// copied next to their header), so payload must stay unmodified until b is
// written. h.Length is ignored; len(payload) is used. A payload longer
// than MaxLength fails with ErrMessageTooLarge and appends nothing.
func (w *Writer) Append(b *Batch, h Header, payload []byte) error {
	nf, nc, err := w.encode(&h, len(payload))
	if err != nil {
		return err
	}
	b.addCopy(w.first[:nf])
	cs := int(w.chunkSize)
	for off := 0; ; {
		k := min(cs, len(payload)-off)
		b.addRef(payload[off : off+k])
		off += k
		if off >= len(payload) {
			return nil
		}
		b.addCopy(w.cont[:nc])
	}
}

// AppendBytes encodes one message contiguously onto dst, payload copied,
// and returns the extended slice: for clients, tests and control messages.
// It shares the csid state with Append, so bytes from both must reach the
// wire in call order. h.Length is ignored. A payload longer than MaxLength
// fails with ErrMessageTooLarge and returns dst unchanged.
func (w *Writer) AppendBytes(dst []byte, h Header, payload []byte) ([]byte, error) {
	nf, nc, err := w.encode(&h, len(payload))
	if err != nil {
		return dst, err
	}
	dst = append(dst, w.first[:nf]...)
	cs := int(w.chunkSize)
	for off := 0; ; {
		k := min(cs, len(payload)-off)
		dst = append(dst, payload[off:off+k]...)
		off += k
		if off >= len(payload) {
			return dst, nil
		}
		dst = append(dst, w.cont[:nc]...)
	}
}
