package flv

import "fmt"

// VideoCodec is the legacy FLV CodecID, the low nibble of a video tag's first
// byte when the E-RTMP IsExHeader bit is clear (docs/flv.md#video-tags).
type VideoCodec uint8

// Legacy FLV video codec ids (docs/flv.md#video-tags).
const (
	VideoJPEG      VideoCodec = 1
	VideoSorenson  VideoCodec = 2 // Sorenson H.263
	VideoScreen    VideoCodec = 3
	VideoVP6       VideoCodec = 4
	VideoVP6Alpha  VideoCodec = 5
	VideoScreen2   VideoCodec = 6
	VideoAVC       VideoCodec = 7
	VideoHEVCFork  VideoCodec = 12 // non-standard HEVC id of some forks; AVC packet layout
	VideoAV1Fork   VideoCodec = 13 // non-standard AV1 id of some forks; AVC packet layout
	videoCodecMask            = 0x0f
)

// String names the codec for logs; unknown ids print as "codec(N)".
func (c VideoCodec) String() string {
	switch c {
	case VideoJPEG:
		return "jpeg"
	case VideoSorenson:
		return "h263"
	case VideoScreen:
		return "screen"
	case VideoVP6:
		return "vp6"
	case VideoVP6Alpha:
		return "vp6a"
	case VideoScreen2:
		return "screen2"
	case VideoAVC:
		return "h264"
	case VideoHEVCFork:
		return "hevc(12)"
	case VideoAV1Fork:
		return "av1(13)"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// avcLike reports whether the codec's payload starts with AVCPacketType and
// an SI24 composition time, as AVC does (docs/flv.md#video-tags). The fork ids 12 and 13
// use that layout too.
func (c VideoCodec) avcLike() bool {
	return c == VideoAVC || c == VideoHEVCFork || c == VideoAV1Fork
}

// FrameType is the video frame type (docs/flv.md#video-tags, docs/rtmp.md#enhanced-rtmp).
type FrameType uint8

// Video frame types.
const (
	FrameKey          FrameType = 1 // seekable frame; IDR for AVC
	FrameInter        FrameType = 2
	FrameDisposable   FrameType = 3 // H.263 only
	FrameGeneratedKey FrameType = 4 // produced by servers for seeking
	FrameCommand      FrameType = 5 // video info / command frame, no picture
)

// VideoPacketType is the E-RTMP VideoPacketType (docs/rtmp.md#enhanced-rtmp). For legacy
// AVC-like codecs ParseVideoHeader stores the AVCPacketType here: its values
// 0 sequence header, 1 NALU, 2 end of sequence coincide with SequenceStart,
// CodedFrames and SequenceEnd.
type VideoPacketType uint8

// E-RTMP video packet types.
const (
	VideoSequenceStart        VideoPacketType = 0
	VideoCodedFrames          VideoPacketType = 1
	VideoSequenceEnd          VideoPacketType = 2
	VideoCodedFramesX         VideoPacketType = 3 // composition offset implicitly 0
	VideoMetadata             VideoPacketType = 4 // AMF metadata such as colorInfo
	VideoMPEG2TSSequenceStart VideoPacketType = 5
	VideoMultitrack           VideoPacketType = 6
	VideoModEx                VideoPacketType = 7
)

// MultitrackType is the E-RTMP AvMultitrackType (docs/rtmp.md#enhanced-rtmp).
type MultitrackType uint8

// E-RTMP multitrack types.
const (
	OneTrack             MultitrackType = 0
	ManyTracks           MultitrackType = 1
	ManyTracksManyCodecs MultitrackType = 2
)

// VideoHeader is the decoded header of a video tag body. For multitrack
// messages the per-track fields describe the first track only.
type VideoHeader struct {
	Ex        bool       // E-RTMP ExVideoTagHeader (IsExHeader bit set)
	FrameType FrameType  // both forms
	Codec     VideoCodec // legacy form only
	// PacketType is the E-RTMP VideoPacketType after ModEx and multitrack
	// unwrapping, or the AVCPacketType of a legacy AVC-like codec. Zero for
	// other legacy codecs, which have no packet type: check Codec first.
	PacketType VideoPacketType
	// FourCC is the E-RTMP codec (first track's for ManyTracksManyCodecs);
	// zero for legacy headers and command frames.
	FourCC          FourCC
	Multitrack      bool
	MultitrackType  MultitrackType
	TrackID         uint8 // first track's id; 0 without multitrack
	Command         uint8 // command frames only: 0 start / 1 end of seek
	CompositionTime int32 // ms, sign-extended SI24, when the packet carries one
	// DataOffset is where the codec data (first track's) starts in the payload.
	DataOffset int
}

// ParseVideoHeader decodes the header of a video tag body p. The result does
// not alias p. An error names the offset at which p ended or was invalid.
func ParseVideoHeader(p []byte) (VideoHeader, error) {
	h, e := parseVideo(p)
	if e.msg != "" {
		return h, fmt.Errorf("%w: video %s at offset %d", ErrMalformed, e.msg, e.off)
	}
	return h, nil
}

// IsVideoKeyframe reports whether p is a keyframe that carries a picture: a
// legacy frame of type 1, an AVC-like NALU packet of frame type 1, or an
// E-RTMP CodedFrames/CodedFramesX packet of frame type 1. Sequence headers,
// end-of-sequence and command frames are not keyframes even when their frame
// type says 1, so a GOP never starts at one.
func IsVideoKeyframe(p []byte) bool {
	h, e := parseVideo(p)
	return e.msg == "" && h.isKeyframe()
}

// IsVideoSequenceHeader reports whether p is a video codec configuration
// packet: AVCPacketType 0 of AVC (and the HEVC/AV1 fork ids), or E-RTMP
// SequenceStart, also inside a multitrack wrapper.
func IsVideoSequenceHeader(p []byte) bool {
	h, e := parseVideo(p)
	return e.msg == "" && h.HasPacketType() && h.PacketType == VideoSequenceStart
}

// HasPacketType reports whether PacketType was read from the payload. Command
// frames carry a command byte instead, except E-RTMP Metadata packets, whose
// frame type is to be ignored (docs/rtmp.md#enhanced-rtmp).
func (h *VideoHeader) HasPacketType() bool {
	if h.Ex {
		return h.FrameType != FrameCommand || h.PacketType == VideoMetadata
	}
	return h.Codec.avcLike() && h.FrameType != FrameCommand
}

func (h *VideoHeader) isKeyframe() bool {
	if h.FrameType != FrameKey {
		return false
	}
	switch {
	case h.Ex:
		return h.PacketType == VideoCodedFrames || h.PacketType == VideoCodedFramesX
	case h.Codec.avcLike():
		return h.PacketType == VideoCodedFrames
	}
	return true
}

// parseErr is an error without the allocation of an error value, so that the
// Is* predicates stay allocation-free on hostile input.
type parseErr struct {
	msg string
	off int
}

func short(what string, off int) parseErr { return parseErr{msg: "truncated " + what, off: off} }

func parseVideo(p []byte) (h VideoHeader, e parseErr) {
	if len(p) == 0 {
		return h, short("header", 0)
	}
	b := p[0]
	if b&0x80 == 0 {
		h.FrameType = FrameType(b >> 4)
		h.Codec = VideoCodec(b & videoCodecMask)
		h.DataOffset = 1
		if h.FrameType == FrameCommand || !h.Codec.avcLike() {
			return h, e
		}
		if len(p) < 5 {
			return h, short("AVC packet header", len(p))
		}
		h.PacketType = VideoPacketType(p[1])
		h.CompositionTime = si24(p[2:5])
		h.DataOffset = 5
		return h, e
	}
	h.Ex = true
	h.FrameType = FrameType(b >> 4 & 0x07)
	h.PacketType = VideoPacketType(b & 0x0f)
	off, pt, e := skipModEx(p, 1, uint8(h.PacketType), uint8(VideoModEx))
	if e.msg != "" {
		return h, e
	}
	h.PacketType = VideoPacketType(pt)
	switch {
	case h.PacketType != VideoMetadata && h.FrameType == FrameCommand:
		if off >= len(p) {
			return h, short("video command", off)
		}
		h.Command = p[off]
		h.DataOffset = off + 1
		return h, e
	case h.PacketType == VideoMultitrack:
		h.Multitrack = true
		if off >= len(p) {
			return h, short("multitrack type", off)
		}
		h.MultitrackType = MultitrackType(p[off] >> 4)
		h.PacketType = VideoPacketType(p[off] & 0x0f)
		off++
		if h.PacketType == VideoMultitrack || h.PacketType == VideoModEx {
			return h, parseErr{msg: "nested multitrack packet type", off: off - 1}
		}
		if h.MultitrackType > ManyTracksManyCodecs {
			return h, parseErr{msg: "unknown multitrack type", off: off - 1}
		}
	}
	off, h.FourCC, h.TrackID, e = trackHeader(p, off, h.Multitrack, h.MultitrackType)
	if e.msg != "" {
		return h, e
	}
	if h.PacketType == VideoCodedFrames && (h.FourCC == FourCCAVC || h.FourCC == FourCCHEVC || h.FourCC == FourCCVVC) {
		if len(p) < off+3 {
			return h, short("composition time", off)
		}
		h.CompositionTime = si24(p[off : off+3])
		off += 3
	}
	h.DataOffset = off
	return h, e
}

// skipModEx follows the E-RTMP ModEx chain (docs/rtmp.md#enhanced-rtmp): while the packet
// type is ModEx, a size (UI8+1, or UI16+1 when the UI8 is 255) and that many
// bytes of modifier data follow, then a byte whose low nibble is the next
// packet type. The modifiers (e.g. nanosecond timestamp offsets) do not
// matter for classification and are skipped.
func skipModEx(p []byte, off int, pt, modEx uint8) (int, uint8, parseErr) {
	for pt == modEx {
		if off >= len(p) {
			return off, 0, short("ModEx size", off)
		}
		n := int(p[off]) + 1
		off++
		if n == 256 {
			if off+2 > len(p) {
				return off, 0, short("ModEx size", off)
			}
			n = int(p[off])<<8 | int(p[off+1]) + 1
			off += 2
		}
		if off+n >= len(p) { // the data plus the byte carrying the next type
			return off, 0, short("ModEx data", off)
		}
		off += n
		pt = p[off] & 0x0f
		off++
	}
	return off, pt, parseErr{}
}

// trackHeader reads the FourCC and, for multitrack packets, the first track's
// FourCC/id/size prefix (docs/rtmp.md#enhanced-rtmp).
func trackHeader(p []byte, off int, multi bool, mt MultitrackType) (int, FourCC, uint8, parseErr) {
	var fcc FourCC
	if !multi || mt != ManyTracksManyCodecs {
		f, ok := ParseFourCC(p[off:])
		if !ok {
			return off, 0, 0, short("FourCC", off)
		}
		fcc, off = f, off+4
	}
	if !multi {
		return off, fcc, 0, parseErr{}
	}
	if mt == ManyTracksManyCodecs {
		f, ok := ParseFourCC(p[off:])
		if !ok {
			return off, 0, 0, short("track FourCC", off)
		}
		fcc, off = f, off+4
	}
	if off >= len(p) {
		return off, 0, 0, short("track id", off)
	}
	track := p[off]
	off++
	if mt != OneTrack {
		if off+3 > len(p) {
			return off, 0, 0, short("track size", off)
		}
		size := int(p[off])<<16 | int(p[off+1])<<8 | int(p[off+2])
		off += 3
		if size > len(p)-off {
			return off, 0, 0, parseErr{msg: "track size beyond payload", off: off - 3}
		}
	}
	return off, fcc, track, parseErr{}
}

func si24(b []byte) int32 {
	v := int32(b[0])<<16 | int32(b[1])<<8 | int32(b[2])
	return v << 8 >> 8
}
