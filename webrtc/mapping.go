package webrtc

import (
	"encoding/binary"

	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/rtph264"
)

// The FLV side of the mapping (docs/webrtc.md#mapping). These are pure
// functions over bytes; the table tests in mapping_test.go pin them.

// avcHeader is the five-byte header of a legacy AVC video tag: frame type
// and codec, AVCPacketType, composition time 0 (WebRTC has no B-frames).
func avcHeader(dst []byte, key bool, packetType byte) []byte {
	ft := byte(flv.FrameInter) << 4
	if key {
		ft = byte(flv.FrameKey) << 4
	}
	return append(dst, ft|byte(flv.VideoAVC), packetType, 0, 0, 0)
}

// avcSequenceHeader is the FLV AVC sequence header of sps and pps.
func avcSequenceHeader(sps, pps [][]byte) ([]byte, error) {
	return rtph264.AppendConfig(avcHeader(nil, true, 0), sps, pps)
}

// avcFrame is the FLV AVC NALU packet of one access unit (AVCC units).
func avcFrame(avcc []byte, key bool) []byte {
	b := make([]byte, 0, 5+len(avcc))
	return append(avcHeader(b, key, 1), avcc...)
}

// opusTag is an E-RTMP audio tag with the Opus FourCC (docs/rtmp.md#enhanced-rtmp):
// packet type SequenceStart with an OpusHead, or CodedFrames with one
// Opus packet.
func opusTag(packetType flv.AudioPacketType, data []byte) []byte {
	b := make([]byte, 0, 5+len(data))
	b = append(b, byte(flv.SoundExHeader)<<4|byte(packetType))
	b = binary.BigEndian.AppendUint32(b, uint32(flv.FourCCOpus))
	return append(b, data...)
}

// opusHead is the identification header (RFC 7845, the OpusHead packet) of
// WebRTC's Opus: 48 kHz, two channels, no pre-skip, channel mapping 0.
func opusHead() []byte {
	b := []byte("OpusHead")
	b = append(b, 1, 2)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 48000)
	b = binary.LittleEndian.AppendUint16(b, 0)
	return append(b, 0)
}

// g711Tag is a legacy FLV audio tag of G.711 samples: format 7 (A-law) or
// 8 (mu-law), the rate field 0 (G.711 is 8 kHz, which FLV has no code
// for: ffmpeg writes 0 too), 16-bit, mono.
func g711Tag(format flv.SoundFormat, samples []byte) []byte {
	b := make([]byte, 0, 1+len(samples))
	b = append(b, byte(format)<<4|0x02)
	return append(b, samples...)
}

// audioCodec names the audio of an FLV audio tag for the WebRTC side:
// "opus", "pcmu", "pcma", or the FLV codec name for codecs WebRTC does
// not carry, "" for a malformed tag. data is the codec payload (RTP
// payload for the first three).
func audioCodec(p []byte) (codec string, data []byte, config bool) {
	h, err := flv.ParseAudioHeader(p)
	if err != nil || h.DataOffset > len(p) {
		return "", nil, false
	}
	switch {
	case h.Ex() && h.FourCC == flv.FourCCOpus && !h.Multitrack:
		return "opus", p[h.DataOffset:], h.PacketType != flv.AudioCodedFrames
	case h.Ex():
		return "ex", nil, false
	case h.Format == flv.SoundG711MuLaw:
		return "pcmu", p[h.DataOffset:], false
	case h.Format == flv.SoundG711ALaw:
		return "pcma", p[h.DataOffset:], false
	}
	return h.Format.String(), nil, h.Format == flv.SoundAAC && len(p) > 1 && p[1] == 0
}

// rtpClock turns one track's RTP timestamps into engine milliseconds: the
// track's first packet is placed at the wall-clock offset it arrived at
// (since the session's start), later ones follow their RTP timestamps,
// unwrapped past 2^32. Audio and video of one publisher so start aligned
// to their arrival; RTCP sender reports would be finer
// (docs/webrtc.md#limits).
type rtpClock struct {
	rate    int64 // Hz
	started bool
	baseMS  int64
	last    uint32
	ext     int64 // ticks since the first packet
}

func (c *rtpClock) ms(ts uint32, sinceStartMS int64) uint32 {
	if !c.started {
		c.started, c.baseMS, c.last = true, sinceStartMS, ts
	}
	c.ext += int64(int32(ts - c.last))
	c.last = ts
	return uint32(max(c.baseMS+c.ext*1000/c.rate, 0))
}
