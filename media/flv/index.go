package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// SeekPoint is one entry of a seek index: a tag at Offset with time Time.
type SeekPoint struct {
	Time   uint32 // ms
	Offset int64  // offset of the tag header
}

// Index is what a scan of a file's tag headers learns (docs/flv.md#finding-keyframes): the
// seek points, the tracks present and the last timestamps.
type Index struct {
	// Points are video keyframes when the file has video, otherwise audio
	// tags at least AudioPointEvery apart. Sorted by Time and Offset;
	// keyframes out of order are left out (docs/flv.md#broken-and-hostile-files).
	Points   []SeekPoint
	HasVideo bool
	HasAudio bool
	// LastTime is the largest timestamp of an audio or video tag.
	LastTime uint32
	// LastKeyframe is the last video keyframe (zero Offset when none).
	LastKeyframe SeekPoint
	// End is the offset after the last complete tag (and its
	// PreviousTagSize when present): where a truncated file is cut.
	End int64
	// Truncated: bytes follow End that are not a complete tag.
	Truncated bool
	// NoPrevSize: the last complete tag ends at End without (all of) its
	// PreviousTagSize, whose value would be LastTagSize.
	NoPrevSize  bool
	LastTagSize uint32
	// Tags counts the complete tags.
	Tags int
	// Configs are the codec configuration tags (sequence headers), in
	// file order.
	Configs []ConfigPoint
}

// ConfigPoint is a codec configuration tag found by Scan.
type ConfigPoint struct {
	Type   uint8  // TagAudio or TagVideo
	Key    uint16 // Class.ConfigKey: which earlier configuration it replaces
	Offset int64
}

// ConfigsBefore returns the latest configuration tag of each (type, key)
// that starts before off, in file order: what a player needs before data
// from off on (docs/flv.md#recorded-playback-sequence).
func (ix *Index) ConfigsBefore(off int64) []ConfigPoint {
	var out []ConfigPoint
	for _, c := range ix.Configs {
		if c.Offset >= off {
			break
		}
		replaced := false
		for i := range out {
			if out[i].Type == c.Type && out[i].Key == c.Key {
				out[i] = c
				replaced = true
			}
		}
		if !replaced {
			out = append(out, c)
		}
	}
	return out
}

// AudioPointEvery spaces the seek points of audio-only files.
const AudioPointEvery = 500 // ms

// Scan builds an Index by reading only tag headers (plus one byte of each
// video tag) of the size-byte file r (docs/flv.md#finding-keyframes). It does not fail on a
// truncated tail: Index.Truncated tells.
func Scan(r io.ReaderAt, size int64) (*Index, error) {
	rd, err := NewReader(r, size)
	if err != nil {
		return nil, err
	}
	ix := &Index{End: min(rd.FirstTag(), size)}
	var audio []SeekPoint
	// Header plus the first bytes of the payload: enough to tell an AVC or
	// E-RTMP keyframe from a sequence header.
	var b [TagHeaderSize + 5]byte
	off := rd.FirstTag()
	for off < size {
		n := len(b)
		if off+int64(n) > size {
			n = int(size - off)
		}
		if n < TagHeaderSize {
			ix.Truncated = true
			break
		}
		if _, err := r.ReadAt(b[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("flv: scanning tag header at offset %d: %w", off, err)
		}
		th, _ := ParseTagHeader(b[:n])
		end := off + TagHeaderSize + int64(th.Size)
		if end > size {
			ix.Truncated = true
			break
		}
		ix.Tags++
		if th.Size > 0 && !th.Filter {
			body := b[TagHeaderSize:min(n, TagHeaderSize+int(th.Size))]
			var c Class
			switch th.Type {
			case TagVideo:
				c = ClassifyVideo(body)
			case TagAudio:
				c = ClassifyAudio(body)
			}
			if c.Config {
				ix.Configs = append(ix.Configs, ConfigPoint{Type: th.Type, Key: c.ConfigKey, Offset: off})
			}
			switch th.Type {
			case TagVideo:
				ix.HasVideo = true
				ix.LastTime = max(ix.LastTime, th.Time)
				if IsVideoKeyframe(body) || legacyKey(body) {
					p := SeekPoint{Time: th.Time, Offset: off}
					if len(ix.Points) == 0 || th.Time >= ix.Points[len(ix.Points)-1].Time {
						ix.Points = append(ix.Points, p)
					}
					ix.LastKeyframe = p
				}
			case TagAudio:
				ix.HasAudio = true
				ix.LastTime = max(ix.LastTime, th.Time)
				if len(audio) == 0 || th.Time >= audio[len(audio)-1].Time+AudioPointEvery {
					audio = append(audio, SeekPoint{Time: th.Time, Offset: off})
				}
			}
		}
		ix.LastTagSize = TagHeaderSize + th.Size
		if end+PrevSizeLen <= size {
			ix.End, ix.NoPrevSize = end+PrevSizeLen, false
		} else {
			ix.End, ix.NoPrevSize = end, true
		}
		off = end + PrevSizeLen
	}
	if ix.End < size {
		ix.Truncated = true
	}
	if !ix.HasVideo {
		ix.Points = audio
	}
	return ix, nil
}

// legacyKey accepts a legacy keyframe whose payload the scan saw only in
// part (an E-RTMP header longer than the bytes read is not one): frame type
// 1 and not an AVC-like sequence header (docs/flv.md#video-tags).
func legacyKey(p []byte) bool {
	if len(p) == 0 || p[0]&0x80 != 0 || p[0]>>4 != 1 {
		return false
	}
	switch VideoCodec(p[0] & 0x0f) {
	case 7, 12, 13:
		return len(p) >= 2 && p[1] == 1
	}
	return true
}

// Find returns the last seek point with Time ≤ ms, or the first point when
// every point is later; ok is false when there is none.
func (ix *Index) Find(ms uint32) (SeekPoint, bool) {
	if len(ix.Points) == 0 {
		return SeekPoint{}, false
	}
	i := sort.Search(len(ix.Points), func(i int) bool { return ix.Points[i].Time > ms })
	if i == 0 {
		return ix.Points[0], true
	}
	return ix.Points[i-1], true
}

// TailOK checks the end of a size-byte file the fast way (docs/flv.md#crash-safety step
// 5): the last PreviousTagSize P points at a tag header of type 8, 9 or 18
// whose DataSize is P − 11. A file holding only the header is fine too.
// False means the caller should Scan and truncate to Index.End.
func TailOK(r io.ReaderAt, size int64) bool {
	rd, err := NewReader(r, size)
	if err != nil {
		return false
	}
	first := rd.FirstTag()
	if size == first {
		return true
	}
	if size < first+TagHeaderSize+PrevSizeLen {
		return false
	}
	var b [PrevSizeLen]byte
	if _, err := r.ReadAt(b[:], size-PrevSizeLen); err != nil {
		return false
	}
	p := int64(binary.BigEndian.Uint32(b[:]))
	start := size - PrevSizeLen - p
	if p < TagHeaderSize || start < first {
		return false
	}
	th, err := rd.PeekTagHeader(start)
	if err != nil {
		return false
	}
	return int64(th.Size) == p-TagHeaderSize && (th.Type == TagAudio || th.Type == TagVideo || th.Type == TagScript)
}

// LastTagTime returns the timestamp of the last tag through the final
// PreviousTagSize (docs/flv.md#stream-length); ok is false when the tail does not check.
func LastTagTime(r io.ReaderAt, size int64) (ms uint32, ok bool) {
	if !TailOK(r, size) {
		return 0, false
	}
	var b [PrevSizeLen]byte
	if _, err := r.ReadAt(b[:], size-PrevSizeLen); err != nil {
		return 0, false
	}
	p := int64(binary.BigEndian.Uint32(b[:]))
	if p == 0 {
		return 0, false
	}
	var hb [TagHeaderSize]byte
	if _, err := r.ReadAt(hb[:], size-PrevSizeLen-p); err != nil {
		return 0, false
	}
	th, _ := ParseTagHeader(hb[:])
	return th.Time, true
}
