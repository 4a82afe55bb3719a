package mp3

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// ErrNotMP3: no valid Layer III frame within SyncSearch bytes after the
// ID3v2 tags (docs/flv.md#broken-and-hostile-files).
var ErrNotMP3 = errors.New("mp3: not an MP3 file")

// SyncSearch bounds the search for the first frame (docs/flv.md#broken-and-hostile-files: 64 KiB).
const SyncSearch = 64 << 10

// maxID3Read caps how much of an ID3v2 tag is read for onId3; album art
// beyond it is never loaded.
const maxID3Read = 256 << 10

// File is an opened MP3 file: where the audio starts and ends, its first
// frame header, its information frame and its tags. It holds no file data
// beyond the decoded tag text, so one File may be shared by many Readers.
type File struct {
	r    io.ReaderAt
	size int64

	// Start is the offset of the first audio frame (after ID3v2 tags and
	// an information frame).
	Start int64
	// End is the offset after the last audio byte (before ID3v1/APE tags).
	End int64
	// First is the first frame's header.
	First FrameHeader
	// VBR is the information frame, when there is one.
	VBR *VBR
	// Tags are the ID3 text frames (ID3v2, else ID3v1) for onId3.
	Tags []TextFrame
}

// Open parses the head and tail of the size-byte file r.
func Open(r io.ReaderAt, size int64) (*File, error) {
	f := &File{r: r, size: size, End: size}
	// ID3v2 tags, possibly several.
	off := int64(0)
	var hb [10]byte
	for off+10 <= size {
		if _, err := r.ReadAt(hb[:], off); err != nil {
			return nil, fmt.Errorf("mp3: reading at offset %d: %w", off, err)
		}
		n := ID3v2Size(hb[:])
		if n == 0 {
			break
		}
		if f.Tags == nil {
			tag := make([]byte, min(int64(n), maxID3Read, size-off))
			if _, err := r.ReadAt(tag, off); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("mp3: reading ID3v2 tag at offset %d: %w", off, err)
			}
			f.Tags = ParseID3v2(tag)
		}
		off += int64(n)
	}
	off = min(off, size)
	f.trimTail()
	// First frame: sync, and the next header must parse too.
	buf := make([]byte, min(int64(SyncSearch+4+2*2881), f.End-off))
	n, err := r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("mp3: reading at offset %d: %w", off, err)
	}
	buf = buf[:n]
	found := -1
	var h FrameHeader
	for i := 0; i+4 <= len(buf) && i <= SyncSearch; i++ {
		if buf[i] != 0xff {
			continue
		}
		fh, err := ParseFrameHeader(buf[i:])
		if err != nil {
			continue
		}
		next := i + fh.Length
		if off+int64(next) == f.End {
			found, h = i, fh // a file of one frame
			break
		}
		if next+4 <= len(buf) {
			if nh, err := ParseFrameHeader(buf[next:]); err == nil && nh.Version == fh.Version && nh.SampleRate == fh.SampleRate {
				found, h = i, fh
				break
			}
		}
	}
	if found < 0 {
		return nil, fmt.Errorf("%w: no frame within %d bytes of offset %d", ErrNotMP3, SyncSearch, off)
	}
	f.First = h
	f.Start = off + int64(found)
	if f.Start+int64(h.Length) <= int64(len(buf))+off {
		frame := buf[found : found+h.Length]
		if v, ok := ParseVBR(frame, h); ok {
			// Copy the TOC: buf is not kept.
			v.TOC = append([]byte(nil), v.TOC...)
			f.VBR = &v
			f.Start += int64(h.Length)
		}
	}
	if f.Tags == nil {
		f.readID3v1()
	}
	return f, nil
}

// trimTail excludes ID3v1 ("TAG", with an optional "TAG+" block before it)
// and an APE footer from the audio (docs/flv.md#id3-tags-and-skipping).
func (f *File) trimTail() {
	var b [32]byte
	if f.End >= 128 {
		if _, err := f.r.ReadAt(b[:3], f.End-128); err == nil && string(b[:3]) == "TAG" {
			f.End -= 128
			if f.End >= 227 {
				if _, err := f.r.ReadAt(b[:4], f.End-227); err == nil && string(b[:4]) == "TAG+" {
					f.End -= 227
				}
			}
		}
	}
	if f.End >= 32 {
		if _, err := f.r.ReadAt(b[:], f.End-32); err == nil && string(b[:8]) == "APETAGEX" {
			n := int64(uint32(b[12]) | uint32(b[13])<<8 | uint32(b[14])<<16 | uint32(b[15])<<24)
			if b[23]&0x80 != 0 { // header present
				n += 32
			}
			if n > 0 && n <= f.End {
				f.End -= n
			}
		}
	}
}

func (f *File) readID3v1() {
	if f.size < 128 {
		return
	}
	b := make([]byte, 128)
	if _, err := f.r.ReadAt(b, f.size-128); err == nil {
		f.Tags = ParseID3v1(b)
	}
}

// Duration returns the playing time in ms: from the information frame's
// frame count, else assuming constant bitrate (docs/flv.md#vbr-headers-and-duration).
func (f *File) Duration() uint32 {
	if f.VBR != nil && f.VBR.Frames > 0 {
		return f.First.FrameTime(int64(f.VBR.Frames))
	}
	if f.First.Bitrate == 0 {
		return 0
	}
	return uint32((f.End - f.Start) * 8 * 1000 / int64(f.First.Bitrate))
}

// Frame is one frame read by a Reader.
type Frame struct {
	Header FrameHeader
	N      int64 // frame number from the first audio frame
	Offset int64
	Data   []byte // header included; aliases the buffer given to Next
}

// Reader reads the frames of a File in order.
type Reader struct {
	f   *File
	ra  io.ReaderAt
	off int64
	n   int64
	buf []byte // read-ahead window
	bo  int64
}

// NewReader returns a reader at the first audio frame.
func (f *File) NewReader() *Reader { return f.NewReaderAt(f.r) }

// NewReaderAt returns a reader at the first audio frame that reads through
// ra, another handle of the same file: a File shared by several players
// does not keep the first player's handle.
func (f *File) NewReaderAt(ra io.ReaderAt) *Reader { return &Reader{f: f, ra: ra, off: f.Start} }

// N returns the number of the next frame.
func (r *Reader) N() int64 { return r.n }

// SeekTo positions the reader at frame n starting at off (from an Index).
func (r *Reader) SeekTo(n, off int64) { r.n, r.off = n, off }

// Offset returns the offset of the next frame.
func (r *Reader) Offset() int64 { return r.off }

const mp3ReadAhead = 16 << 10

func (r *Reader) window(off int64, n int) []byte {
	if off >= r.bo && off+int64(n) <= r.bo+int64(len(r.buf)) {
		return r.buf[off-r.bo : off-r.bo+int64(n)]
	}
	want := int64(max(n, mp3ReadAhead))
	want = min(want, r.f.End-off)
	if want < int64(n) {
		return nil
	}
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	m, _ := r.ra.ReadAt(r.buf[:want], off)
	r.buf, r.bo = r.buf[:m], off
	if m < n {
		return nil
	}
	return r.buf[:n]
}

// Next returns the next frame, copied into dst[:0]. Garbage between frames
// is skipped by searching for the next header that parses with the same
// version and sample rate (a corrupt region costs at most SyncSearch bytes
// of search before the reader gives up). It returns io.EOF at the end of
// the audio, and an error wrapping ErrNotFrame when no frame follows the
// damage.
func (r *Reader) Next(dst []byte) (Frame, error) {
	for skipped := 0; ; skipped++ {
		if r.off+4 > r.f.End {
			return Frame{}, io.EOF
		}
		if skipped > SyncSearch {
			return Frame{}, fmt.Errorf("%w: no frame in %d bytes before offset %d", ErrNotFrame, SyncSearch, r.off)
		}
		hb := r.window(r.off, 4)
		if hb == nil {
			return Frame{}, io.EOF
		}
		h, err := ParseFrameHeader(hb)
		if err != nil || h.SampleRate != r.f.First.SampleRate || h.Version != r.f.First.Version {
			r.off++
			continue
		}
		if r.off+int64(h.Length) > r.f.End {
			return Frame{}, io.EOF // truncated last frame
		}
		data := r.window(r.off, h.Length)
		if data == nil {
			return Frame{}, io.EOF
		}
		dst = append(dst[:0], data...)
		fr := Frame{Header: h, N: r.n, Offset: r.off, Data: dst}
		r.off += int64(h.Length)
		r.n++
		return fr, nil
	}
}

// Index maps frame numbers to offsets every IndexEvery frames, built by a
// scan of the frame headers (docs/flv.md#mp3-frames-to-messages).
type Index struct {
	Points []IndexPoint
	Frames int64 // frames counted by the scan
}

// IndexPoint is frame N at Offset.
type IndexPoint struct {
	N      int64
	Offset int64
}

// IndexEvery spaces the index points (about half a second at 44.1 kHz).
const IndexEvery = 20

// Scan builds the seek index and counts the frames.
func (f *File) Scan() *Index { return f.ScanAt(f.r) }

// ScanAt is Scan reading through ra.
func (f *File) ScanAt(ra io.ReaderAt) *Index {
	ix := &Index{}
	r := f.NewReaderAt(ra)
	var buf []byte
	for {
		fr, err := r.Next(buf[:0])
		if err != nil {
			break
		}
		buf = fr.Data
		if fr.N%IndexEvery == 0 {
			ix.Points = append(ix.Points, IndexPoint{N: fr.N, Offset: fr.Offset})
		}
		ix.Frames = fr.N + 1
	}
	return ix
}

// Find returns the last index point at or before frame n.
func (ix *Index) Find(n int64) IndexPoint {
	i := sort.Search(len(ix.Points), func(i int) bool { return ix.Points[i].N > n })
	if i == 0 {
		return IndexPoint{}
	}
	return ix.Points[i-1]
}
