// Package wire encodes and decodes the bodies of RTMP shared-object messages,
// types 19 (AMF0) and 16 (AMF3 variant), as specified in
// docs/shared-objects.md#message-layout.
//
// A body names one shared object, carries a version and a flags word, and
// then zero or more events (Use, Release, RequestChange, Change, Success,
// SendMessage, Status, Clear, Remove, RequestRemove, UseSuccess). Type 16 is
// the type-19 layout behind one leading byte; its values may be 0x11-switched
// to AMF3 (so may type-19 values: the decoder accepts the switch everywhere).
//
// [Parse] turns a body into a [Message]; one event of the wire that holds
// several key/value pairs or several keys (crtmpserver writes those) becomes
// one [Event] per pair or key, which is also how [Message.Append] and
// [AppendEvent] write them (docs/shared-objects.md#event-encodings: write one, read in a loop). Unknown event
// types are kept with their raw data so they re-encode unchanged; the caller
// decides whether to skip them (docs/shared-objects.md#reading-events) or to refuse them.
//
// Values are written as plain AMF0 unless they have no AMF0 form (ByteArray,
// vectors, Dictionary, typed AMF3 objects), which are written as 0x11 + AMF3
// (docs/shared-objects.md#message-layout). So a type-16 body is exactly `00` followed by the type-19 body with
// the same bytes: an encoder can produce both from one buffer
// ([AppendHeader] with amf3 set writes the leading byte; the type-19 body is
// the same slice without it).
//
// The package is a pure codec: no net, no logging, no goroutines.
package wire
