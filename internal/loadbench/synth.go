package loadbench

import (
	"time"

	"github.com/openfcs/openfcs/media"
)

// Stream describes a synthetic live stream: H.264 video at a flat bitrate
// with a keyframe every KeyframeInterval, and AAC audio in fixed-size
// frames. A zero field means its documented default.
type Stream struct {
	// Bitrate is the total payload rate in bits per second, audio
	// included. Default 1,000,000.
	Bitrate int
	// FPS is the video frame rate. Default 25.
	FPS int
	// KeyframeInterval is the time between video keyframes. Default 2s.
	KeyframeInterval time.Duration
	// AudioFrame is the duration of one audio message. Default 20ms.
	AudioFrame time.Duration
	// AudioBytes is the payload size of one audio message, FLV audio tag
	// header included. Default 200.
	AudioBytes int
}

func (s Stream) withDefaults() Stream {
	if s.Bitrate <= 0 {
		s.Bitrate = 1_000_000
	}
	if s.FPS <= 0 {
		s.FPS = 25
	}
	if s.KeyframeInterval <= 0 {
		s.KeyframeInterval = 2 * time.Second
	}
	if s.AudioFrame <= 0 {
		s.AudioFrame = 20 * time.Millisecond
	}
	if s.AudioBytes < 3 {
		s.AudioBytes = 200
	}
	return s
}

// VideoFrameBytes returns the payload size of every video message: the
// bitrate's share of one frame interval minus the audio sent in that
// interval, so audio plus video add up to Bitrate. Keyframes have the same
// size as inter frames on purpose: the rate stays flat, which makes a
// window of any length comparable with the floor benchmark's fixed ticks.
func (s Stream) VideoFrameBytes() int {
	s = s.withDefaults()
	perFrame := s.Bitrate / 8 / s.FPS
	audio := int(int64(s.AudioBytes) * int64(time.Second/time.Duration(s.FPS)) / int64(s.AudioFrame))
	return max(perFrame-audio, 16)
}

// Codec configuration payloads (docs/flv.md#video-tags, docs/flv.md#script-data-and-onmetadata): an AVC sequence header for
// a 640x360 High profile stream and an AAC-LC 48 kHz stereo
// AudioSpecificConfig. Players need not decode the frames; the server only
// classifies these headers and caches them for late joiners.
var (
	avcSequenceHeader = []byte{
		0x17, 0x00, 0x00, 0x00, 0x00, // keyframe, AVC, sequence header, cts 0
		0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, // version, profile, compat, level, NALU length size 4, 1 SPS
		0x00, 0x1a,
		0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00,
		0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x83, 0x19, 0x60,
		0x01, 0x00, 0x06, // 1 PPS
		0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0,
	}
	aacSequenceHeader = []byte{0xaf, 0x00, 0x11, 0x90}
)

// Synth generates a Stream's messages in timestamp order. Payloads are
// built once and shared by every message of their kind: callers must not
// modify them. A Synth is not safe for concurrent use.
type Synth struct {
	s          Stream
	fps        uint64
	audioMS    uint32
	keyEvery   uint64 // frames per keyframe
	key, inter []byte
	audio      []byte
	nextVideo  uint64
	nextAudio  uint64
}

// NewSynth returns a generator for s.
func NewSynth(s Stream) *Synth {
	s = s.withDefaults()
	g := &Synth{
		s:        s,
		fps:      uint64(s.FPS),
		audioMS:  uint32(max(s.AudioFrame/time.Millisecond, 1)),
		keyEvery: uint64(max(int64(s.KeyframeInterval)*int64(s.FPS)/int64(time.Second), 1)),
	}
	n := s.VideoFrameBytes()
	g.key = videoFrame(n, true)
	g.inter = videoFrame(n, false)
	g.audio = make([]byte, s.AudioBytes)
	g.audio[0], g.audio[1] = 0xaf, 0x01 // AAC, raw frame
	for i := 2; i < len(g.audio); i++ {
		g.audio[i] = byte(i)
	}
	return g
}

// videoFrame builds an FLV AVC NALU tag of n bytes holding one IDR or
// non-IDR slice NAL unit of filler.
func videoFrame(n int, key bool) []byte {
	b := make([]byte, n)
	b[0] = 0x27 // inter frame, AVC
	nal := byte(0x41)
	if key {
		b[0] = 0x17
		nal = 0x65
	}
	b[1] = 0x01 // NALU
	nalLen := n - 9
	b[5], b[6], b[7], b[8] = byte(nalLen>>24), byte(nalLen>>16), byte(nalLen>>8), byte(nalLen)
	if n > 9 {
		b[9] = nal
		for i := 10; i < n; i++ {
			b[i] = byte(i * 7)
		}
	}
	return b
}

// Stream returns the effective description (defaults filled in).
func (g *Synth) Stream() Stream { return g.s }

// FrameStart returns the timestamp (ms) of the video frame interval that
// holds t: the time of the last video frame at or before t.
func (g *Synth) FrameStart(t uint32) uint32 {
	// The largest n with videoTime(n) <= t, i.e. n*1000 < (t+1)*fps.
	n := ((uint64(t)+1)*g.fps - 1) / 1000
	return g.videoTime(n)
}

// videoTime is the timestamp of video frame n, rounded down to the ms
// without drifting (frame 3 of 30 fps is at 100 ms).
func (g *Synth) videoTime(n uint64) uint32 { return uint32(n * 1000 / g.fps) }

// Headers returns the codec configuration messages to send before the
// first frame, at timestamp 0.
func (g *Synth) Headers() []media.Packet {
	return []media.Packet{
		{Kind: media.Video, Payload: avcSequenceHeader},
		{Kind: media.Audio, Payload: aacSequenceHeader},
	}
}

// Next returns the next message in timestamp order; at equal timestamps
// video comes first, as muxers write it. The first video message is a
// keyframe.
func (g *Synth) Next() media.Packet {
	vt := g.videoTime(g.nextVideo)
	at := uint32(g.nextAudio * uint64(g.audioMS))
	if vt <= at {
		p := media.Packet{Kind: media.Video, Time: vt, Payload: g.inter}
		if g.nextVideo%g.keyEvery == 0 {
			p.Payload = g.key
		}
		g.nextVideo++
		return p
	}
	g.nextAudio++
	return media.Packet{Kind: media.Audio, Time: at, Payload: g.audio}
}
