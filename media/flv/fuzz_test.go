package flv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzClassify checks that no payload panics the classifiers, that the
// predicates agree with Classify* and Parse*, and that parsed offsets stay
// inside the payload.
func FuzzClassify(f *testing.F) {
	for _, tc := range videoCases {
		f.Add(unhex(f, tc.in), true)
	}
	for _, tc := range audioCases {
		f.Add(unhex(f, tc.in), false)
	}
	f.Fuzz(func(t *testing.T, p []byte, video bool) {
		if video {
			c := ClassifyVideo(p)
			h, err := ParseVideoHeader(p)
			if c.Keyframe != IsVideoKeyframe(p) {
				t.Fatalf("ClassifyVideo keyframe %v != IsVideoKeyframe", c.Keyframe)
			}
			if IsVideoSequenceHeader(p) && !c.Config {
				t.Fatal("sequence header not classified as config")
			}
			if err != nil {
				if c != (Class{}) {
					t.Fatalf("malformed payload classified %+v", c)
				}
				return
			}
			if h.DataOffset < 1 || h.DataOffset > len(p) {
				t.Fatalf("DataOffset %d outside payload of %d", h.DataOffset, len(p))
			}
			if c.Keyframe && c.Config {
				t.Fatal("keyframe and config at once")
			}
			if c.Keyframe && h.FrameType != FrameKey {
				t.Fatalf("keyframe with frame type %d", h.FrameType)
			}
			return
		}
		c := ClassifyAudio(p)
		h, err := ParseAudioHeader(p)
		if c.Keyframe {
			t.Fatal("audio keyframe")
		}
		if IsAudioSequenceHeader(p) && !c.Config {
			t.Fatal("sequence header not classified as config")
		}
		if err != nil {
			if c != (Class{}) {
				t.Fatalf("malformed payload classified %+v", c)
			}
			return
		}
		if h.DataOffset < 1 || h.DataOffset > len(p) {
			t.Fatalf("DataOffset %d outside payload of %d", h.DataOffset, len(p))
		}
		if c.Config && h.Format != SoundAAC && !h.Ex() {
			t.Fatalf("config for legacy format %v", h.Format)
		}
	})
}

// FuzzReader feeds arbitrary bytes to the file reader, the scan and the
// tail check: no panic, every tag lies inside the input, the reader and the
// scan agree on the complete tags, and an input that reads cleanly
// re-encodes to the same bytes.
func FuzzReader(f *testing.F) {
	f.Add(testFile(4))
	f.Add(testFile(4)[:60])
	f.Add(AppendHeader(nil, FlagAudio))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x08\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		size := int64(len(b))
		rd, err := NewReader(r, size)
		if err != nil {
			if !errors.Is(err, ErrNotFLV) {
				t.Fatalf("NewReader: %v", err)
			}
			return
		}
		rd.MaxTagSize = 1 << 16
		var out []byte
		var n int
		clean := true
		for {
			tag, err := rd.Next(nil)
			if err != nil {
				clean = errors.Is(err, io.EOF)
				if !clean && !errors.Is(err, ErrTruncated) {
					t.Fatalf("Next: %v", err)
				}
				break
			}
			if tag.Offset < 0 || tag.Offset+TagHeaderSize+int64(tag.Size) > size || len(tag.Payload) != int(tag.Size) {
				t.Fatalf("tag %+v outside the input of %d bytes", tag.TagHeader, size)
			}
			n++
			out = AppendTag(out, b[tag.Offset], tag.Time, tag.Payload)
			out[len(out)-TagHeaderSize-len(tag.Payload)-PrevSizeLen+8] = b[tag.Offset+8] // stream id as read
			out[len(out)-TagHeaderSize-len(tag.Payload)-PrevSizeLen+9] = b[tag.Offset+9]
			out[len(out)-TagHeaderSize-len(tag.Payload)-PrevSizeLen+10] = b[tag.Offset+10]
		}
		ix, err := Scan(r, size)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if rd.Skipped() == 0 && ix.Tags != n {
			t.Fatalf("scan counted %d tags, reader %d", ix.Tags, n)
		}
		if ix.End > size {
			t.Fatalf("scan end %d past the input %d", ix.End, size)
		}
		_ = TailOK(r, size)
		_, _ = LastTagTime(r, size)
		if clean && rd.Skipped() == 0 && rd.hdr.DataOffset == HeaderSize && len(b) >= 13 && !ix.NoPrevSize &&
			binary.BigEndian.Uint32(b[9:13]) == 0 && TailOK(r, size) {
			// Well-formed: re-encoding reproduces the tags (the
			// PreviousTagSize fields may differ in a hostile file).
			got := append(append([]byte(nil), b[:13]...), out...)
			if len(got) != len(b) {
				t.Fatalf("re-encoded %d bytes, input %d", len(got), len(b))
			}
		}
	})
}
