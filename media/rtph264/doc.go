// Package rtph264 maps H.264 between its RTP form (RFC 6184 payloads) and
// its FLV form (AVC video tags: an AVCDecoderConfigurationRecord as the
// sequence header, then length-prefixed NAL units). docs/webrtc.md#mapping
// describes the mapping; this package is only the byte work.
//
// It is a codec package: pure functions and small state machines over
// []byte, no sockets, no logging, no goroutines. Every size a peer
// declares is checked against a limit before anything is allocated.
//
// What it leaves out: interleaved packetization (STAP-B, MTAP, FU-B,
// packetization-mode 2), which browsers and encoders do not send for live
// streams; such packets are refused with ErrUnsupported.
package rtph264
