// Package bridge brings browsers to the server on its HTTP ports: RTMP over
// WebSocket for the browser library (web/openfcs.js) and anything else
// that can open a WebSocket, and live streams as HTTP-FLV for players such
// as flv.js, mpegts.js, ffplay and VLC (docs/bridge.md).
//
// RTMP over WebSocket: GET /rtmp upgrades to a WebSocket whose binary
// messages carry the plain RTMP byte stream, handshake included, with no
// framing of its own; message boundaries mean nothing. The socket becomes
// a net.Conn handed to the unchanged RTMP session layer
// (rtmp.Server.ServeConn) with protocol rtmpws, or rtmpwss on TLS ports,
// so every RTMP limit, timeout and behavior applies unchanged. Each flush
// of the session is one binary message in one frame. Text messages,
// messages over Config.MaxMessageSize and pages from origins not allowed
// (Config.AllowedOrigins) are refused; each closes only its own socket.
// DialFunc is the client side, so the project's RTMP client runs over
// rtmpws:// and rtmpwss:// too.
//
// HTTP-FLV: GET /<app>[/<instance>]/<stream>.flv answers a progressive
// FLV file of a live stream: the header with the stream's tracks, its
// metadata and codec configuration, the GOP cache from the last keyframe,
// then live tags until the publisher stops. The player is an instance
// client (protocol http-flv or https-flv) that the application's script
// accepts or rejects (403), then an engine subscriber under the same queue
// bounds and slow-consumer cut-off as an RTMP player.
//
// The package is a transport: it uses the engine (instance, media) and the
// session layer through small interfaces, and nothing imports it but the
// wiring in cmd/openfcs.
//
// HTTP-FLV is served on the fiber ports (Handler: HTTP/1.1, plain and
// TLS) and by HTTPHandler on net/http servers, the HTTP/3 port.
//
// Left out: WebSocket over HTTP/2 and HTTP/3 (RFC 8441, RFC 9220): the
// WebSocket library upgrades HTTP/1.1 connections only, which every
// browser uses for WebSocket by default.
package bridge
