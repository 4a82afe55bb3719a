package flv

import (
	"errors"
	"fmt"
)

// ErrMalformed reports a tag header that ends early or holds an impossible
// value. The live engine does not reject such messages (they pass through);
// the error exists for recording and logs.
var ErrMalformed = errors.New("flv: malformed tag header")

// SoundFormat is the FLV SoundFormat, the high nibble of an audio tag's first
// byte (docs/flv.md#audio-tags).
type SoundFormat uint8

// FLV sound formats (docs/flv.md#audio-tags).
const (
	SoundPCM        SoundFormat = 0 // platform endian
	SoundADPCM      SoundFormat = 1
	SoundMP3        SoundFormat = 2
	SoundPCMLE      SoundFormat = 3
	SoundNelly16k   SoundFormat = 4
	SoundNelly8k    SoundFormat = 5
	SoundNelly      SoundFormat = 6
	SoundG711ALaw   SoundFormat = 7
	SoundG711MuLaw  SoundFormat = 8
	SoundExHeader   SoundFormat = 9 // E-RTMP ExAudioTagHeader
	SoundAAC        SoundFormat = 10
	SoundSpeex      SoundFormat = 11
	SoundMP38k      SoundFormat = 14
	SoundDeviceSpec SoundFormat = 15
)

// String names the format for logs; unknown values print as "sound(N)".
func (f SoundFormat) String() string {
	switch f {
	case SoundPCM:
		return "pcm"
	case SoundADPCM:
		return "adpcm"
	case SoundMP3:
		return "mp3"
	case SoundPCMLE:
		return "pcm_le"
	case SoundNelly16k:
		return "nellymoser16k"
	case SoundNelly8k:
		return "nellymoser8k"
	case SoundNelly:
		return "nellymoser"
	case SoundG711ALaw:
		return "g711a"
	case SoundG711MuLaw:
		return "g711u"
	case SoundExHeader:
		return "exheader"
	case SoundAAC:
		return "aac"
	case SoundSpeex:
		return "speex"
	case SoundMP38k:
		return "mp3_8k"
	case SoundDeviceSpec:
		return "device"
	}
	return fmt.Sprintf("sound(%d)", uint8(f))
}

// AudioPacketType is the E-RTMP AudioPacketType (docs/rtmp.md#enhanced-rtmp). For AAC,
// ParseAudioHeader stores the AACPacketType here: 0 sequence header and
// 1 raw frame coincide with SequenceStart and CodedFrames.
type AudioPacketType uint8

// E-RTMP audio packet types.
const (
	AudioSequenceStart      AudioPacketType = 0
	AudioCodedFrames        AudioPacketType = 1
	AudioSequenceEnd        AudioPacketType = 2
	AudioMultichannelConfig AudioPacketType = 4
	AudioMultitrack         AudioPacketType = 5
	AudioModEx              AudioPacketType = 7
)

// AudioHeader is the decoded header of an audio tag body. For multitrack
// messages the per-track fields describe the first track only.
type AudioHeader struct {
	Format SoundFormat // SoundExHeader for E-RTMP
	// Rate, Size16 and Stereo are the legacy header bits; they mean little for
	// AAC, Speex, Nellymoser and E-RTMP (the codec data is authoritative).
	Rate   uint8 // 0 = 5.5 kHz, 1 = 11 kHz, 2 = 22 kHz, 3 = 44 kHz
	Size16 bool
	Stereo bool
	// PacketType is the E-RTMP AudioPacketType after ModEx and multitrack
	// unwrapping, or the AACPacketType for AAC; zero for other formats.
	PacketType     AudioPacketType
	FourCC         FourCC // E-RTMP codec; first track's for ManyTracksManyCodecs
	Multitrack     bool
	MultitrackType MultitrackType
	TrackID        uint8
	DataOffset     int // where the (first track's) codec data starts
}

// Ex reports whether the header is an E-RTMP ExAudioTagHeader.
func (h *AudioHeader) Ex() bool { return h.Format == SoundExHeader }

// ParseAudioHeader decodes the header of an audio tag body p. The result does
// not alias p. An empty payload is an error (docs/flv.md#audio-tags: it has no flag byte),
// though live relays pass such messages through.
func ParseAudioHeader(p []byte) (AudioHeader, error) {
	h, e := parseAudio(p)
	if e.msg != "" {
		return h, fmt.Errorf("%w: audio %s at offset %d", ErrMalformed, e.msg, e.off)
	}
	return h, nil
}

// IsAudioSequenceHeader reports whether p is an audio codec configuration
// packet: AAC AACPacketType 0, or E-RTMP SequenceStart (also multitrack).
func IsAudioSequenceHeader(p []byte) bool {
	h, e := parseAudio(p)
	return e.msg == "" && (h.Format == SoundAAC || h.Ex()) && h.PacketType == AudioSequenceStart
}

func parseAudio(p []byte) (h AudioHeader, e parseErr) {
	if len(p) == 0 {
		return h, short("header", 0)
	}
	b := p[0]
	h.Format = SoundFormat(b >> 4)
	h.DataOffset = 1
	switch h.Format {
	case SoundAAC:
		h.Rate, h.Size16, h.Stereo = b>>2&3, b&2 != 0, b&1 != 0
		if len(p) < 2 {
			return h, short("AAC packet type", 1)
		}
		h.PacketType = AudioPacketType(p[1])
		h.DataOffset = 2
		return h, e
	case SoundExHeader:
	default:
		h.Rate, h.Size16, h.Stereo = b>>2&3, b&2 != 0, b&1 != 0
		return h, e
	}
	off, pt, e := skipModEx(p, 1, b&0x0f, uint8(AudioModEx))
	if e.msg != "" {
		return h, e
	}
	h.PacketType = AudioPacketType(pt)
	if h.PacketType == AudioMultitrack {
		h.Multitrack = true
		if off >= len(p) {
			return h, short("multitrack type", off)
		}
		h.MultitrackType = MultitrackType(p[off] >> 4)
		h.PacketType = AudioPacketType(p[off] & 0x0f)
		off++
		if h.PacketType == AudioMultitrack || h.PacketType == AudioModEx {
			return h, parseErr{msg: "nested multitrack packet type", off: off - 1}
		}
		if h.MultitrackType > ManyTracksManyCodecs {
			return h, parseErr{msg: "unknown multitrack type", off: off - 1}
		}
	}
	off, h.FourCC, h.TrackID, e = trackHeader(p, off, h.Multitrack, h.MultitrackType)
	h.DataOffset = off
	return h, e
}
