// Package message gives the RTMP message types of docs/rtmp.md#protocol-control-messages a typed form
// on top of the raw messages of package chunk: protocol control (types 1, 2,
// 3, 5, 6), user control events (type 4), commands (types 20 and 17) and data
// messages (types 18 and 15).
//
// Every type has an Append method that encodes into the caller's buffer and
// a Parse/Unmarshal function that decodes a payload. Audio, video, shared
// object (19/16) and aggregate (22) payloads are not interpreted here: media
// bytes pass through untouched and shared objects have their own package.
//
// The package is a pure codec: no net, no logging, no goroutines.
package message
