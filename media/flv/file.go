package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// File layout sizes (docs/flv.md#file-layout).
const (
	// HeaderSize is the size of the FLV file header without
	// PreviousTagSize0.
	HeaderSize = 9
	// TagHeaderSize is the size of a tag header.
	TagHeaderSize = 11
	// PrevSizeLen is the size of a PreviousTagSize field.
	PrevSizeLen = 4
	// MaxDataSize is the largest DataSize a UI24 can declare.
	MaxDataSize = 1<<24 - 1
)

// Tag types (docs/flv.md#tag-header): equal to the RTMP message type ids.
const (
	TagAudio  = 8
	TagVideo  = 9
	TagScript = 18
)

// Header flags (docs/flv.md#file-header-and-previoustagsize).
const (
	FlagVideo = 0x01
	FlagAudio = 0x04
)

// Errors of the file reader. Every returned error wraps one of these and
// names the byte offset and the rule (docs/flv.md#broken-and-hostile-files).
var (
	// ErrNotFLV: the signature or DataOffset is wrong: not an FLV file.
	ErrNotFLV = errors.New("flv: not an FLV file")
	// ErrTruncated: a tag declares more bytes than remain in the file. The
	// tags before it are complete; playback ends there and recovery
	// truncates the file there (docs/flv.md#crash-safety).
	ErrTruncated = errors.New("flv: truncated tag")
	// ErrTagTooLarge: a tag is larger than the configured maximum message
	// size. Reader.Next skips it and returns the next one; the error is
	// only reported through Reader.Skipped.
	ErrTagTooLarge = errors.New("flv: tag larger than the maximum message size")
)

// Header is the FLV file header.
type Header struct {
	Version    uint8
	Flags      uint8 // FlagAudio | FlagVideo; advisory only (docs/flv.md#file-header-and-previoustagsize)
	DataOffset uint32
}

// ParseHeader parses the 9-byte file header. It accepts any version (the
// caller may warn) and rejects a bad signature or a DataOffset below 9.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrNotFLV, len(b), HeaderSize)
	}
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return Header{}, fmt.Errorf("%w: signature % x at offset 0", ErrNotFLV, b[:3])
	}
	h := Header{Version: b[3], Flags: b[4], DataOffset: binary.BigEndian.Uint32(b[5:9])}
	if h.DataOffset < HeaderSize {
		return Header{}, fmt.Errorf("%w: DataOffset %d at offset 5 is below %d", ErrNotFLV, h.DataOffset, HeaderSize)
	}
	return h, nil
}

// AppendHeader appends a version 1 file header with flags and
// PreviousTagSize0 (13 bytes, docs/flv.md#test-vectors).
func AppendHeader(b []byte, flags uint8) []byte {
	b = append(b, 'F', 'L', 'V', 1, flags, 0, 0, 0, HeaderSize)
	return append(b, 0, 0, 0, 0)
}

// TagHeader is an 11-byte tag header (docs/flv.md#tag-header).
type TagHeader struct {
	// Type is the tag type with the reserved and Filter bits masked off.
	Type uint8
	// Filter: the payload is encrypted (FLV 10.1); never parse it.
	Filter bool
	// Size is DataSize, the payload length.
	Size uint32
	// Time is the full 32-bit timestamp in ms.
	Time uint32
	// StreamID is ignored by readers; writers write 0.
	StreamID uint32
}

// ParseTagHeader parses a tag header from the first 11 bytes of b.
func ParseTagHeader(b []byte) (TagHeader, error) {
	if len(b) < TagHeaderSize {
		return TagHeader{}, fmt.Errorf("%w: tag header needs %d bytes, %d given", ErrTruncated, TagHeaderSize, len(b))
	}
	return TagHeader{
		Type:     b[0] & 0x1f,
		Filter:   b[0]&0x20 != 0,
		Size:     u24(b[1:]),
		Time:     u24(b[4:]) | uint32(b[7])<<24,
		StreamID: u24(b[8:]),
	}, nil
}

func u24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// AppendTagHeader appends the header of a tag of type typ with a payload of
// size bytes at time ts (stream id 0). size must not exceed MaxDataSize.
func AppendTagHeader(b []byte, typ uint8, size int, ts uint32) []byte {
	return append(b, typ, byte(size>>16), byte(size>>8), byte(size),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
}

// AppendTag appends a whole tag: header, payload and its PreviousTagSize.
func AppendTag(b []byte, typ uint8, ts uint32, payload []byte) []byte {
	b = AppendTagHeader(b, typ, len(payload), ts)
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, uint32(TagHeaderSize+len(payload)))
}

// Tag is one tag read from a file.
type Tag struct {
	TagHeader
	// Offset is the file offset of the tag header.
	Offset int64
	// Payload holds Size bytes. It aliases the buffer given to Next.
	Payload []byte
}

// End returns the offset just after the tag's PreviousTagSize.
func (t *Tag) End() int64 { return t.Offset + TagHeaderSize + int64(t.Size) + PrevSizeLen }

// Reader reads the tags of an FLV file sequentially from an io.ReaderAt. It
// never trusts a length before checking it against the bytes that remain
// and against MaxTagSize, so a hostile file costs no more memory than its
// largest acceptable tag. It reads ahead in one buffer, so a steady stream of
// small tags costs one ReadAt per buffer, not per tag.
//
// A Reader is not safe for concurrent use; several Readers may share one
// io.ReaderAt (an *os.File).
type Reader struct {
	r    io.ReaderAt
	size int64 // bytes of the file that may be read
	// MaxTagSize bounds a tag's payload; larger tags are skipped
	// (docs/flv.md#broken-and-hostile-files). Zero means MaxDataSize.
	MaxTagSize int

	hdr     Header
	off     int64  // offset of the next tag header
	buf     []byte // read-ahead window
	bufOff  int64  // file offset of buf[0]
	skipped int    // tags skipped since the last Skipped call
}

// readAhead is the size of the Reader's read-ahead window.
const readAhead = 32 << 10

// NewReader checks the file header of the size-byte file r and positions
// the reader at the first tag.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	var b [HeaderSize]byte
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: file of %d bytes", ErrNotFLV, size)
	}
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, fmt.Errorf("flv: reading header: %w", err)
	}
	h, err := ParseHeader(b[:])
	if err != nil {
		return nil, err
	}
	if int64(h.DataOffset) > size {
		return nil, fmt.Errorf("%w: DataOffset %d beyond the file end %d", ErrNotFLV, h.DataOffset, size)
	}
	rd := &Reader{r: r, size: size, hdr: h}
	rd.off = int64(h.DataOffset) + PrevSizeLen
	return rd, nil
}

// Header returns the file header.
func (r *Reader) Header() Header { return r.hdr }

// Size returns the file size the reader was given.
func (r *Reader) Size() int64 { return r.size }

// Offset returns the offset of the next tag header.
func (r *Reader) Offset() int64 { return r.off }

// FirstTag returns the offset of the first tag header.
func (r *Reader) FirstTag() int64 { return int64(r.hdr.DataOffset) + PrevSizeLen }

// SeekTo positions the reader at the tag header at off (an offset from an
// index or from Tag.Offset).
func (r *Reader) SeekTo(off int64) { r.off = off }

// Skipped returns how many tags Next skipped because they were larger than
// MaxTagSize since the last call, and resets the count.
func (r *Reader) Skipped() int {
	n := r.skipped
	r.skipped = 0
	return n
}

// window returns n bytes at off, reading ahead. The result aliases the
// read-ahead buffer and is valid until the next call.
func (r *Reader) window(off int64, n int) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		i := int(off - r.bufOff)
		return r.buf[i : i+n], nil
	}
	want := max(n, readAhead)
	if rest := r.size - off; int64(want) > rest {
		want = int(rest)
	}
	if want < n {
		return nil, io.ErrUnexpectedEOF
	}
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	m, err := r.r.ReadAt(r.buf, off)
	r.buf, r.bufOff = r.buf[:m], off
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return r.buf[:n], nil
}

// Next reads the next tag, its payload copied into dst[:0] (grown when too
// small). It returns io.EOF at a clean end of file and an error wrapping
// ErrTruncated when the last tag is incomplete; Offset then still points at
// that tag. Tags of any type, zero-length tags and encrypted tags are
// returned as they are: deciding what to send is the caller's (docs/flv.md#broken-and-hostile-files).
// Tags larger than MaxTagSize are skipped and counted (see Skipped).
func (r *Reader) Next(dst []byte) (Tag, error) {
	limit := r.MaxTagSize
	if limit <= 0 || limit > MaxDataSize {
		limit = MaxDataSize
	}
	for {
		if r.off >= r.size {
			return Tag{}, io.EOF
		}
		hb, err := r.window(r.off, TagHeaderSize)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return Tag{}, fmt.Errorf("%w: tag header at offset %d, %d bytes remain", ErrTruncated, r.off, r.size-r.off)
			}
			return Tag{}, fmt.Errorf("flv: reading tag header at offset %d: %w", r.off, err)
		}
		th, _ := ParseTagHeader(hb)
		t := Tag{TagHeader: th, Offset: r.off}
		rest := r.size - r.off - TagHeaderSize
		if int64(th.Size) > rest {
			return Tag{}, fmt.Errorf("%w: tag at offset %d declares %d bytes, %d remain", ErrTruncated, r.off, th.Size, rest)
		}
		if int(th.Size) > limit {
			r.skipped++
			r.off = min(t.End(), r.size)
			continue
		}
		if cap(dst) < int(th.Size) {
			dst = make([]byte, th.Size)
		}
		dst = dst[:th.Size]
		if th.Size > 0 {
			if int(th.Size) <= readAhead/2 {
				w, err := r.window(r.off+TagHeaderSize, int(th.Size))
				if err != nil {
					return Tag{}, fmt.Errorf("flv: reading tag at offset %d: %w", r.off, err)
				}
				copy(dst, w)
			} else if _, err := r.r.ReadAt(dst, r.off+TagHeaderSize); err != nil && !(errors.Is(err, io.EOF)) {
				return Tag{}, fmt.Errorf("flv: reading tag at offset %d: %w", r.off, err)
			}
		}
		t.Payload = dst
		// A missing final PreviousTagSize still leaves a complete tag: the
		// next call reports the end.
		r.off = min(t.End(), r.size)
		return t, nil
	}
}

// PeekTagHeader reads the tag header at off without moving the reader.
func (r *Reader) PeekTagHeader(off int64) (TagHeader, error) {
	if off < 0 || off+TagHeaderSize > r.size {
		return TagHeader{}, fmt.Errorf("%w: tag header at offset %d outside the file of %d bytes", ErrTruncated, off, r.size)
	}
	var b [TagHeaderSize + 1]byte
	n := TagHeaderSize + 1
	if off+int64(n) > r.size {
		n = TagHeaderSize
	}
	if _, err := r.r.ReadAt(b[:n], off); err != nil && !errors.Is(err, io.EOF) {
		return TagHeader{}, fmt.Errorf("flv: reading tag header at offset %d: %w", off, err)
	}
	return ParseTagHeader(b[:])
}
