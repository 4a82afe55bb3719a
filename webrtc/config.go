package webrtc

import (
	"fmt"
	"net"
	"time"
)

// Config configures a Server. A zero field means its documented default;
// openfcs.yaml documents each key under webrtc:.
type Config struct {
	// UDP is the address of the one UDP port every peer's media uses
	// (ICE UDP mux). Default ":0": a port the system picks, logged at
	// start; set a fixed port when a firewall must let it through.
	// "off" disables WebRTC (WHIP and WHEP answer 503).
	UDP string `yaml:"udp"`
	// TCP is the address of the ICE-TCP port, for networks that block
	// UDP; empty (the default) offers no TCP candidates.
	TCP string `yaml:"tcp"`
	// PublicIPs are addresses put in the candidates instead of the
	// host's own (a server behind 1:1 NAT, or in a container). Default
	// none: the interfaces' addresses.
	PublicIPs []string `yaml:"public_ips"`
	// IncludeLoopback offers loopback candidates (127.0.0.1), which a
	// browser on the same machine needs and nobody else can use.
	// Default true.
	IncludeLoopback *bool `yaml:"include_loopback"`
	// WHIPToken: true requires a bearer token on every WHIP request
	// (401 without one); the application's script judges it. Default
	// true: publishing is never anonymous.
	WHIPToken *bool `yaml:"whip_token"`
	// WHEPToken: true requires a bearer token on WHEP requests too.
	// Default false: players are admitted by the script as RTMP players
	// are, with or without a token.
	WHEPToken *bool `yaml:"whep_token"`
	// MaxSDPSize bounds a WHIP or WHEP request body (an SDP offer or a
	// trickle fragment), bytes; larger answers 413. Default 64 KiB
	// (browser offers are 3 to 8 KiB).
	MaxSDPSize int `yaml:"max_sdp_size"`
	// MaxSessions bounds the WHIP and WHEP sessions open at once; beyond
	// it a POST answers 503. Default 2000.
	MaxSessions int `yaml:"max_sessions"`
	// ConnectTimeout bounds the time from the answer to a connected
	// peer (ICE and DTLS); a session that does not connect is closed.
	// Default 15s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// GOPCacheBytes bounds the RTP packets an outlet keeps from the last
	// keyframe, which a new viewer receives first so that its picture
	// starts at once. Default 8 MiB.
	GOPCacheBytes int `yaml:"gop_cache_bytes"`
	// KeyframeRequestInterval is how long a WHIP publisher's video may go
	// without a keyframe before one is asked for (PLI). Browsers send a
	// keyframe only when asked, so without it a stream's GOP grows until
	// the engine's GOP cache drops it, and an RTMP player joining then
	// waits for a keyframe nobody requests (docs/webrtc.md#keyframes).
	// Default 4s; negative: only on loss, a viewer's request or a dropped
	// cache.
	KeyframeRequestInterval time.Duration `yaml:"keyframe_request_interval"`
	// ReorderWait is how long a WHIP publisher's video may wait for a
	// missing packet (reordered, or resent after a NACK) before the frame
	// it belongs to counts as lost. Default 150ms, one NACK round and
	// more; negative: no waiting.
	ReorderWait time.Duration `yaml:"reorder_wait"`
	// ReorderPackets bounds the video packets held behind a missing one
	// (about 1.5 KB each); a packet further ahead gives the gap up.
	// Default 128.
	ReorderPackets int `yaml:"reorder_packets"`
	// FFmpeg is the ffmpeg program that converts audio WebRTC cannot
	// carry (AAC, MP3, Speex, Nellymoser, PCM) into Opus, one process
	// per played stream (docs/webrtc.md#conversion). "off" disables
	// conversion: such streams play without audio. Default "ffmpeg"
	// (looked up in PATH when a stream first needs it).
	FFmpeg string `yaml:"ffmpeg"`
	// MaxConverters bounds the converter processes running at once,
	// every kind together (audio to Opus for WebRTC viewers, Opus to AAC
	// for RTMP players, video to H.264): each is an ffmpeg process, so
	// no client may start them without bound. A stream that finds none
	// free goes without its converted track (logged). Default 16.
	MaxConverters int `yaml:"max_converters"`
	// ReencodeBFrames: true gives WebRTC viewers of a stream whose H.264
	// has B-frames, which WebRTC players cannot decode, a copy re-encoded
	// without them by one managed ffmpeg for the stream (counted in
	// MaxConverters); false (the default) refuses them with 422 and the
	// pages play such streams over the WebSocket
	// (docs/webrtc.md#b-frames-re-encoded).
	ReencodeBFrames bool `yaml:"reencode_bframes"`
	// OpusBitrate is the bit rate of converted audio, bits per second.
	// Default 64000.
	OpusBitrate int `yaml:"opus_bitrate"`
	// LegacyAudio is the codec a WebRTC publisher's Opus is converted to
	// for RTMP players that predate Enhanced RTMP: "aac" (the default;
	// ffmpeg, rtmpdump, OBS, Flash Player 9.0.115 and later) or "speex"
	// (16 kHz wideband, for audiences of Flash Player 6 to 9, which
	// decode no AAC) (docs/webrtc.md#players-that-predate-enhanced-rtmp).
	LegacyAudio string `yaml:"legacy_audio"`
	// SendBuffer sizes the UDP port's socket send buffer, bytes: one
	// frame's packets to every viewer leave in one burst, which must not
	// overflow it (docs/webrtc.md#cost). The system caps it (Linux:
	// net.core.wmem_max). Default 4 MiB.
	SendBuffer int `yaml:"send_buffer"`
	// RetransmitPackets is how many of a played stream's latest video
	// packets are kept to answer viewers' NACKs, once per stream whatever
	// the number of viewers; rounded up to a power of two. Default 1024
	// (about 8 s of a 1 Mbit/s stream).
	RetransmitPackets int `yaml:"retransmit_packets"`
	// RetransmitRate bounds the packets sent again to one viewer for
	// its NACKs, per second on average (bursts of 256 allowed): a peer
	// asking again and again costs the server no more. Default 100, a
	// loss of most of a 1 Mbit/s stream's packets.
	RetransmitRate int `yaml:"retransmit_rate"`
}

// Defaults of the Config fields.
const (
	DefaultUDP            = ":0"
	DefaultMaxSDPSize     = 64 << 10
	DefaultLegacyAudio    = "aac"
	DefaultMaxSessions    = 2000
	DefaultConnectTimeout = 15 * time.Second
	DefaultGOPCacheBytes  = 8 << 20
	DefaultMaxConverters  = 16
	DefaultSendBuffer     = 4 << 20
	DefaultRetransmit     = 1024
	DefaultRetransmitRate = 100

	DefaultKeyframeRequestInterval = 4 * time.Second
	DefaultReorderWait             = 150 * time.Millisecond
	DefaultReorderPackets          = 128
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.UDP == "" {
		c.UDP = DefaultUDP
	}
	if c.PublicIPs == nil {
		c.PublicIPs = []string{}
	}
	if c.IncludeLoopback == nil {
		c.IncludeLoopback = new(true)
	}
	if c.WHIPToken == nil {
		c.WHIPToken = new(true)
	}
	if c.WHEPToken == nil {
		c.WHEPToken = new(false)
	}
	if c.MaxSDPSize <= 0 {
		c.MaxSDPSize = DefaultMaxSDPSize
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.GOPCacheBytes <= 0 {
		c.GOPCacheBytes = DefaultGOPCacheBytes
	}
	if c.KeyframeRequestInterval == 0 {
		c.KeyframeRequestInterval = DefaultKeyframeRequestInterval
	}
	if c.ReorderWait == 0 {
		c.ReorderWait = DefaultReorderWait
	}
	if c.ReorderPackets <= 0 {
		c.ReorderPackets = DefaultReorderPackets
	}
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.MaxConverters <= 0 {
		c.MaxConverters = DefaultMaxConverters
	}
	if c.OpusBitrate <= 0 {
		c.OpusBitrate = 64000
	}
	if c.LegacyAudio == "" {
		c.LegacyAudio = DefaultLegacyAudio
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	if c.RetransmitPackets <= 0 {
		c.RetransmitPackets = DefaultRetransmit
	}
	if c.RetransmitRate <= 0 {
		c.RetransmitRate = DefaultRetransmitRate
	}
	return c
}

// Converts reports whether audio conversion is on.
func (c Config) Converts() bool { return c.FFmpeg != "off" }

// Enabled reports whether WebRTC runs at all.
func (c Config) Enabled() bool { return c.UDP != "off" }

// Validate reports public addresses that are not IP addresses and a
// legacy audio codec the converter cannot make.
func (c Config) Validate() error {
	if c.LegacyAudio != "" && c.LegacyAudio != "aac" && c.LegacyAudio != "speex" {
		return fmt.Errorf("webrtc: legacy_audio: %q is neither aac nor speex", c.LegacyAudio)
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("webrtc: public_ips: %q is not an IP address", ip)
		}
	}
	return nil
}
