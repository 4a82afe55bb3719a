// Package mp3 parses MPEG audio Layer III files for playback as FLV audio
// (docs/flv.md#mp3): frame headers (MPEG-1, 2 and 2.5), ID3v2 tags at the start
// (skipped, their text frames decoded for onId3), ID3v1/APE tags at the end,
// the Xing/Info and VBRI information frames used for the duration, and a
// frame reader that never trusts a length before checking it.
//
// Pure: no logging, no goroutines; files are read through io.ReaderAt.
// Layers I and II, free format and reserved values are "not a frame".
package mp3

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNotFrame: four bytes are not a Layer III frame header we can play.
var ErrNotFrame = errors.New("mp3: not a Layer III frame header")

// Version is the MPEG audio version.
type Version uint8

// MPEG versions.
const (
	MPEG1  Version = 1
	MPEG2  Version = 2
	MPEG25 Version = 3 // MPEG-2.5
)

// FrameHeader is a decoded 4-byte frame header (docs/flv.md#mp3-frame-header).
type FrameHeader struct {
	Version    Version
	CRC        bool // a 16-bit CRC follows the header
	Bitrate    int  // bit/s
	SampleRate int  // Hz
	Padding    bool
	Mono       bool // channel mode 3
	// Length is the whole frame in bytes, header included.
	Length int
}

var bitratesV1 = [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
var bitratesV2 = [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
var sampleRates = [4][3]int{
	MPEG1:  {44100, 48000, 32000},
	MPEG2:  {22050, 24000, 16000},
	MPEG25: {11025, 12000, 8000},
}

// ParseFrameHeader decodes the frame header in the first 4 bytes of b.
func ParseFrameHeader(b []byte) (FrameHeader, error) {
	if len(b) < 4 {
		return FrameHeader{}, fmt.Errorf("%w: %d bytes", ErrNotFrame, len(b))
	}
	v := binary.BigEndian.Uint32(b)
	if v>>21 != 0x7ff {
		return FrameHeader{}, fmt.Errorf("%w: no sync in % x", ErrNotFrame, b[:4])
	}
	var h FrameHeader
	switch (v >> 19) & 3 {
	case 0:
		h.Version = MPEG25
	case 2:
		h.Version = MPEG2
	case 3:
		h.Version = MPEG1
	default:
		return FrameHeader{}, fmt.Errorf("%w: reserved version", ErrNotFrame)
	}
	if (v>>17)&3 != 1 {
		return FrameHeader{}, fmt.Errorf("%w: layer %d", ErrNotFrame, 4-(v>>17)&3)
	}
	h.CRC = (v>>16)&1 == 0
	bi := (v >> 12) & 0xf
	si := (v >> 10) & 3
	if bi == 0 || bi == 15 || si == 3 {
		return FrameHeader{}, fmt.Errorf("%w: bitrate index %d, sample-rate index %d", ErrNotFrame, bi, si)
	}
	if h.Version == MPEG1 {
		h.Bitrate = bitratesV1[bi] * 1000
	} else {
		h.Bitrate = bitratesV2[bi] * 1000
	}
	h.SampleRate = sampleRates[h.Version][si]
	h.Padding = (v>>9)&1 == 1
	h.Mono = (v>>6)&3 == 3
	coef := 144
	if h.Version != MPEG1 {
		coef = 72
	}
	h.Length = coef * h.Bitrate / h.SampleRate
	if h.Padding {
		h.Length++
	}
	return h, nil
}

// Samples returns the samples per frame: 1152 for MPEG-1, 576 otherwise.
func (h FrameHeader) Samples() int {
	if h.Version == MPEG1 {
		return 1152
	}
	return 576
}

// SideInfo returns the side information size after the header (and CRC).
func (h FrameHeader) SideInfo() int {
	switch {
	case h.Version == MPEG1 && !h.Mono:
		return 32
	case h.Version == MPEG1, !h.Mono:
		return 17
	}
	return 9
}

// FlagByte returns the FLV audio tag's first byte for frames of this
// header (docs/flv.md#mp3-frames-to-messages): SoundFormat 2 (14 for 8 kHz), the nearest rate
// code, 16-bit, stereo unless mono.
func (h FrameHeader) FlagByte() byte {
	var b byte = 2 << 4
	switch {
	case h.SampleRate == 8000:
		b = 14 << 4
	case h.SampleRate >= 32000:
		b |= 3 << 2
	case h.SampleRate >= 16000:
		b |= 2 << 2
	default:
		b |= 1 << 2
	}
	b |= 2
	if !h.Mono {
		b |= 1
	}
	return b
}

// FrameTime returns the timestamp of frame n (0-based) in ms, computed from
// the frame count so that it never drifts (docs/flv.md#mp3-frames-to-messages).
func (h FrameHeader) FrameTime(n int64) uint32 {
	return uint32(n * int64(h.Samples()) * 1000 / int64(h.SampleRate))
}

// FrameAt returns the number of the frame playing at ms.
func (h FrameHeader) FrameAt(ms uint32) int64 {
	return int64(ms) * int64(h.SampleRate) / (1000 * int64(h.Samples()))
}

// VBR is an information frame's content (docs/flv.md#vbr-headers-and-duration).
type VBR struct {
	Kind   string // "Xing", "Info" or "VBRI"
	Frames uint32 // 0 when absent
	Bytes  uint32 // 0 when absent
	// TOC is the Xing 100-entry seek table (nil when absent).
	TOC []byte
}

// ParseVBR looks for a Xing/Info or VBRI header in frame (the whole first
// frame, header included). ok is false when the frame is ordinary audio.
func ParseVBR(frame []byte, h FrameHeader) (v VBR, ok bool) {
	off := 4 + h.SideInfo()
	if h.CRC {
		off += 2
	}
	if off+8 <= len(frame) {
		tag := string(frame[off : off+4])
		if tag == "Xing" || tag == "Info" {
			v.Kind = tag
			flags := binary.BigEndian.Uint32(frame[off+4:])
			p := off + 8
			if flags&1 != 0 && p+4 <= len(frame) {
				v.Frames = binary.BigEndian.Uint32(frame[p:])
				p += 4
			}
			if flags&2 != 0 && p+4 <= len(frame) {
				v.Bytes = binary.BigEndian.Uint32(frame[p:])
				p += 4
			}
			if flags&4 != 0 && p+100 <= len(frame) {
				v.TOC = frame[p : p+100 : p+100]
			}
			return v, true
		}
	}
	if len(frame) >= 36+18 && string(frame[36:40]) == "VBRI" {
		v.Kind = "VBRI"
		v.Bytes = binary.BigEndian.Uint32(frame[46:])
		v.Frames = binary.BigEndian.Uint32(frame[50:])
		return v, true
	}
	return VBR{}, false
}

// ID3v2Size returns the bytes an ID3v2 tag at the start of b occupies
// (10-byte header + size + footer), or 0 when b does not start with one
// (docs/flv.md#id3-tags-and-skipping, syncsafe size).
func ID3v2Size(b []byte) int {
	if len(b) < 10 || b[0] != 'I' || b[1] != 'D' || b[2] != '3' || b[3] == 0xff || b[4] == 0xff {
		return 0
	}
	if b[6]|b[7]|b[8]|b[9] >= 0x80 {
		return 0
	}
	n := 10 + (int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9]))
	if b[5]&0x10 != 0 {
		n += 10
	}
	return n
}
