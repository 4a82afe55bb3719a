package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/openfcs/openfcs/amf"
)

// ErrNoMetadata: a script tag is not an onMetaData whose value is an ECMA
// array or object (docs/flv.md#broken-and-hostile-files: forward it, do not use it).
var ErrNoMetadata = errors.New("flv: not an onMetaData tag")

// Metadata is what playback uses from a file's first onMetaData (docs/flv.md#script-data-and-onmetadata).
// Values that fail the checks are left zero.
type Metadata struct {
	// Props are the decoded properties, in file order.
	Props []amf.Prop
	// Duration in seconds when present, finite and > 0.
	Duration float64
	// Keyframes is the keyframes index as (time, file position) pairs when
	// present with arrays of equal length. Callers validate it against the
	// file (ValidateKeyframes) before use.
	Keyframes []SeekPoint
}

// ParseMetadata decodes an onMetaData script tag payload.
func ParseMetadata(payload []byte, lim amf.Limits) (*Metadata, error) {
	d := amf.Decoder{Limits: lim, AllowUnterminated: true}
	name, n, err := d.DecodeAMF0At(payload, 0)
	if err != nil || name.Kind() != amf.KindString || name.Str() != "onMetaData" {
		return nil, ErrNoMetadata
	}
	v, _, err := d.DecodeAMF0At(payload, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoMetadata, err)
	}
	if v.Kind() != amf.KindECMAArray && v.Kind() != amf.KindObject {
		return nil, ErrNoMetadata
	}
	m := &Metadata{Props: v.Props()}
	if dur := v.Get("duration"); dur.Kind() == amf.KindNumber {
		if f := dur.Num(); f > 0 && !math.IsInf(f, 0) && !math.IsNaN(f) && f < 1e9 {
			m.Duration = f
		}
	}
	kf := v.Get("keyframes")
	times, pos := kf.Get("times").Elems(), kf.Get("filepositions").Elems()
	if len(times) > 0 && len(times) == len(pos) {
		pts := make([]SeekPoint, 0, len(times))
		for i := range times {
			t, p := times[i].Num(), pos[i].Num()
			if times[i].Kind() != amf.KindNumber || pos[i].Kind() != amf.KindNumber ||
				!(t >= 0 && t < 1<<32/1000) || !(p >= 0 && p < 1<<62) {
				pts = nil
				break
			}
			pts = append(pts, SeekPoint{Time: uint32(math.Round(t * 1000)), Offset: int64(p)})
		}
		m.Keyframes = pts
	}
	return m, nil
}

// ValidateKeyframes checks an index taken from metadata against the file
// (docs/flv.md#script-data-and-onmetadata): positions increasing and inside the file after metaEnd, and
// the first, middle and last entries are video keyframes whose time matches
// within a second. It returns false when the index must be discarded.
func ValidateKeyframes(r *Reader, pts []SeekPoint, metaEnd int64) bool {
	if len(pts) == 0 {
		return false
	}
	for i, p := range pts {
		if p.Offset < metaEnd || p.Offset >= r.Size() || (i > 0 && (p.Offset <= pts[i-1].Offset || p.Time < pts[i-1].Time)) {
			return false
		}
	}
	for _, i := range []int{0, len(pts) / 2, len(pts) - 1} {
		p := pts[i]
		th, err := r.PeekTagHeader(p.Offset)
		if err != nil || th.Type != TagVideo || p.Offset+TagHeaderSize+int64(th.Size) > r.Size() {
			return false
		}
		d := int64(th.Time) - int64(p.Time)
		if d < -1000 || d > 1000 {
			return false
		}
	}
	return true
}

// MetaField names a number of the metadata template that is filled in when
// a recording is finalized (docs/flv.md#crash-safety).
type MetaField uint8

// Fields patched at close.
const (
	MetaDuration MetaField = iota
	MetaLastTimestamp
	MetaLastKeyframeTimestamp
	MetaLastKeyframeLocation
	MetaFileSize
	metaFields
)

var metaFieldNames = [metaFields]string{"duration", "lasttimestamp", "lastkeyframetimestamp", "lastkeyframelocation", "filesize"}

// MetaTemplate is an onMetaData payload whose changing numbers sit at known
// offsets, so that finalizing a recording overwrites bytes in place
// (docs/flv.md#script-data-and-onmetadata "What openfcs writes", docs/flv.md#crash-safety).
type MetaTemplate struct {
	Payload []byte
	// offsets of the 8-byte doubles in Payload; -1 when absent.
	offsets [metaFields]int
	// keyframes: where the reserved keyframes object starts and how many
	// entries fit; kfEnd is the offset of the object end marker of the
	// ECMA array (the padding runs up to it).
	kfStart, kfEnd, kfCap int
}

// ServerMeta holds the values the server computes for a recording's
// metadata; they win over the publisher's (docs/flv.md#script-data-and-onmetadata).
type ServerMeta struct {
	VideoCodecID, AudioCodecID float64 // -1 when unknown
	Width, Height              float64 // 0 when unknown
}

// Keys the server writes itself; the publisher's copies are dropped.
var serverKeys = map[string]bool{
	"duration": true, "lasttimestamp": true, "lastkeyframetimestamp": true, "lastkeyframelocation": true,
	"filesize": true, "videocodecid": true, "audiocodecid": true, "metadatacreator": true, "keyframes": true,
	"_padding": true,
}

// NewMetaTemplate builds the first onMetaData of a recording: the
// publisher's properties (may be nil), then the server's values with
// placeholders for those fixed at close, then, when keyframes > 0, a
// keyframes object with room for that many entries.
func NewMetaTemplate(publisher []amf.Prop, sm ServerMeta, keyframes int) (*MetaTemplate, error) {
	t := &MetaTemplate{}
	for i := range t.offsets {
		t.offsets[i] = -1
	}
	b := appendStr(nil, "onMetaData")
	b = append(b, 0x08, 0, 0, 0, 0) // ECMA array, count patched below
	countAt := len(b) - 4
	count := 0
	var err error
	for _, p := range publisher {
		if serverKeys[p.Key] || len(p.Key) > 0xffff {
			continue
		}
		b = appendKey(b, p.Key)
		if b, err = amf.AppendAMF0(b, p.Value); err != nil {
			return nil, fmt.Errorf("flv: publisher metadata %q: %w", p.Key, err)
		}
		count++
	}
	num := func(key string, v float64) {
		b = appendKey(b, key)
		b = append(b, 0)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		count++
	}
	for f := range metaFields {
		num(metaFieldNames[f], 0)
		t.offsets[f] = len(b) - 8
	}
	if sm.VideoCodecID >= 0 {
		num("videocodecid", sm.VideoCodecID)
	}
	if sm.AudioCodecID >= 0 {
		num("audiocodecid", sm.AudioCodecID)
	}
	if sm.Width > 0 && sm.Height > 0 {
		num("width", sm.Width)
		num("height", sm.Height)
	}
	b = appendKey(b, "metadatacreator")
	b = appendStr(b, "openfcs")
	count++
	if keyframes > 0 {
		t.kfStart, t.kfCap = len(b), keyframes
		// Room for the full object: key, two arrays of doubles, padding.
		b = appendKeyframes(b, nil, keyframes*18+64)
		t.kfEnd = len(b)
		count += 2
	}
	b = append(b, 0, 0, 9)
	binary.BigEndian.PutUint32(b[countAt:], uint32(count))
	t.Payload = b
	return t, nil
}

func appendKey(b []byte, k string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
	return append(b, k...)
}

func appendStr(b []byte, s string) []byte {
	b = append(b, 2)
	return appendKey(b, s)
}

// appendKeyframes appends the properties "keyframes" (the index pts) and
// "_padding" (a string) so that together they take exactly room bytes, or
// as few as possible when room is too small.
func appendKeyframes(b []byte, pts []SeekPoint, room int) []byte {
	start := len(b)
	b = appendKey(b, "keyframes")
	b = append(b, 3) // object
	arr := func(key string, val func(SeekPoint) float64) {
		b = appendKey(b, key)
		b = append(b, 0x0a)
		b = binary.BigEndian.AppendUint32(b, uint32(len(pts)))
		for _, p := range pts {
			b = append(b, 0)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(val(p)))
		}
	}
	arr("times", func(p SeekPoint) float64 { return float64(p.Time) / 1000 })
	arr("filepositions", func(p SeekPoint) float64 { return float64(p.Offset) })
	b = append(b, 0, 0, 9)
	// Padding: string properties of at most padChunk bytes each, because
	// ffmpeg's reader fails on strings of 256 bytes or more.
	const padKey, padChunk = "_padding", 200
	const overhead = 2 + len(padKey) + 3
	rest := room - (len(b) - start)
	for rest >= overhead {
		n := min(rest-overhead, padChunk)
		if rest-overhead-n > 0 && rest-overhead-n < overhead {
			n -= overhead // leave room for one more whole property
		}
		b = appendKey(b, padKey)
		b = append(b, 2)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		for range n {
			b = append(b, ' ')
		}
		rest -= overhead + n
	}
	return b
}

// FinalMeta are the values written when a recording is closed.
type FinalMeta struct {
	Duration, LastTimestamp, LastKeyframeTimestamp float64 // seconds
	LastKeyframeLocation, FileSize                 float64 // bytes
	// Keyframes is the index to store in the reserved object; ignored when
	// it does not fit (the object is then left empty, docs/flv.md#crash-safety).
	Keyframes []SeekPoint
}

// Patches returns the in-place overwrites that finalize the template:
// (offset in Payload, bytes) pairs.
func (t *MetaTemplate) Patches(fm FinalMeta) []Patch {
	vals := [metaFields]float64{fm.Duration, fm.LastTimestamp, fm.LastKeyframeTimestamp, fm.LastKeyframeLocation, fm.FileSize}
	var ps []Patch
	for f, off := range t.offsets {
		if off >= 0 {
			ps = append(ps, Patch{Offset: off, Data: binary.BigEndian.AppendUint64(nil, math.Float64bits(vals[f]))})
		}
	}
	if t.kfCap > 0 && len(fm.Keyframes) <= t.kfCap {
		b := appendKeyframes(nil, fm.Keyframes, t.kfEnd-t.kfStart)
		if len(b) == t.kfEnd-t.kfStart {
			ps = append(ps, Patch{Offset: t.kfStart, Data: b})
		}
	}
	return ps
}

// Patch is an in-place overwrite of a metadata payload.
type Patch struct {
	Offset int
	Data   []byte
}

// NumberOffsets finds, in an existing onMetaData payload, the offsets of
// the 8-byte doubles of the finalize fields that are stored as numbers at
// the top level (docs/flv.md#crash-safety: an appended file is only updated where
// it already holds those keys). It returns a template that patches only
// those, with no keyframes object.
func NumberOffsets(payload []byte, lim amf.Limits) (*MetaTemplate, error) {
	t := &MetaTemplate{Payload: payload}
	for i := range t.offsets {
		t.offsets[i] = -1
	}
	d := amf.Decoder{Limits: lim, AllowUnterminated: true}
	name, off, err := d.DecodeAMF0At(payload, 0)
	if err != nil || name.Str() != "onMetaData" {
		return nil, ErrNoMetadata
	}
	if off >= len(payload) {
		return nil, ErrNoMetadata
	}
	switch payload[off] {
	case 0x08:
		off += 5
	case 0x03:
		off++
	default:
		return nil, ErrNoMetadata
	}
	for off+2 <= len(payload) {
		kl := int(binary.BigEndian.Uint16(payload[off:]))
		off += 2
		if kl == 0 || off+kl > len(payload) {
			break // end marker or truncated
		}
		key := string(payload[off : off+kl])
		off += kl
		if off < len(payload) && payload[off] == 0 && off+9 <= len(payload) {
			for f, n := range metaFieldNames {
				if n == key {
					t.offsets[f] = off + 1
				}
			}
		}
		d.Reset()
		_, next, err := d.DecodeAMF0At(payload, off)
		if err != nil {
			break
		}
		off = next
	}
	return t, nil
}
