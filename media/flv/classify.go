package flv

// Class is what a live relay needs to know about one audio or video message.
type Class struct {
	// Keyframe: a video keyframe carrying a picture (IsVideoKeyframe).
	Keyframe bool
	// Config: codec configuration a late joiner needs before any frame: a
	// sequence header / SequenceStart, and the E-RTMP side configuration that
	// applies to following frames (video Metadata such as HDR colorInfo,
	// MPEG2TSSequenceStart, audio MultichannelConfig).
	Config bool
	// ConfigKey identifies which earlier configuration this one replaces: the
	// same track and the same kind of configuration. Meaningful when Config.
	ConfigKey uint16
}

// ClassifyVideo classifies a video message payload. Malformed or unknown
// payloads classify as plain frames (neither keyframe nor config) unless the
// legacy frame type says keyframe (docs/flv.md#broken-and-hostile-files).
func ClassifyVideo(p []byte) Class {
	h, e := parseVideo(p)
	if e.msg != "" {
		return Class{}
	}
	c := Class{Keyframe: h.isKeyframe()}
	if h.HasPacketType() {
		switch h.PacketType {
		case VideoSequenceStart:
			c.Config = true
		case VideoMetadata, VideoMPEG2TSSequenceStart:
			c.Config = h.Ex
		}
	}
	if c.Config {
		c.ConfigKey = uint16(h.TrackID)<<8 | uint16(h.PacketType)
	}
	return c
}

// ClassifyAudio classifies an audio message payload. Audio has no keyframes.
func ClassifyAudio(p []byte) Class {
	h, e := parseAudio(p)
	if e.msg != "" {
		return Class{}
	}
	var c Class
	switch {
	case h.Format == SoundAAC:
		c.Config = h.PacketType == AudioSequenceStart
	case h.Ex():
		c.Config = h.PacketType == AudioSequenceStart || h.PacketType == AudioMultichannelConfig
	}
	if c.Config {
		c.ConfigKey = uint16(h.TrackID)<<8 | uint16(h.PacketType)
	}
	return c
}
