// Package webrtc is the WebRTC transport: browsers and WebRTC tools publish
// and play the engine's live streams over WHIP and WHEP
// (docs/webrtc.md#whip-and-whep), with media carried by pion/webrtc.
//
// It is a transport like rtmp and bridge: it admits each WHIP or WHEP
// session as a client of its application instance (the script sees it in
// application.onConnect with the bearer token as argument, and decides on
// it), publishes into and subscribes to the instance's media.Registry, and
// converts between RTP and FLV tags with media/rtph264 and the audio rules
// of docs/webrtc.md#mapping. The engine never imports it.
//
// All peers share one UDP port (ICE UDP mux) and, when configured, one
// TCP port for ICE-TCP; candidates can name a configured public address.
// Each played stream has one outlet: one engine subscriber and one
// packetization, whose packets every viewer's track sends.
//
// What it leaves out, each described in docs/webrtc.md#limits: simulcast,
// H.264 with B-frames to WebRTC viewers (refused with a clear status so the
// page falls back to the WebSocket path), video codecs other than H.264,
// and the codec conversions of package convert when no ffmpeg is
// configured.
package webrtc
