// Package amf encodes and decodes the Action Message Format in both of its
// generations, AMF0 (Flash Communication Server 1.5, Flash Player 6-8) and
// AMF3 (Flash Player 9+, AIR), as specified in docs/amf.md.
//
// # Values
//
// Every AMF value is held in one small, copyable [Value]. Numbers, booleans,
// null, undefined, strings, dates and XML text live inline in the Value and
// need no allocation. Objects, arrays, byte arrays, vectors and dictionaries
// point to shared state, so copying a Value copies a reference (like an
// ActionScript object reference): a decoded graph may share nodes and may be
// cyclic (docs/amf.md#values), and mutating it through [Value.Set] is visible through
// every copy. Objects keep their property order, their class name (AMF0
// typed objects, AMF3 aliases) and, when they came as AMF3, their traits
// (sealed member names, dynamic flag), so relaying re-encodes them unchanged
// (docs/amf.md#typed-objects).
//
// # Encoding
//
// Encoders append to the caller's buffer. AMF0 references (0x07) are written
// only for cycles by default, because ffmpeg and librtmp cannot read them
// (docs/amf.md#amf0-references); [Encoder.ShareRepeats] turns on references for every
// repeated object. AMF3 always references repeated objects, strings and
// traits. Encoding a value without reference-tracked repeats into a buffer
// with room allocates nothing.
//
// # Decoding
//
// A [Decoder] reads complete message bodies under [Limits]: every declared
// length and count is checked against the remaining input and the limits
// before anything is allocated, nesting is bounded, and reference indices are
// checked. Errors are [*DecodeError] values naming the byte offset and
// wrapping one of the sentinels (ErrTruncated, ErrTooDeep, ...).
//
// Decoded strings are copies unless [Decoder.AliasInput] is set, in which
// case strings (and byte-array contents) point into the input slice; that is
// only safe when the input is never modified afterwards, as with RTMP message
// payloads, which are immutable once read. Without AliasInput an input of at
// most 4 KiB is copied once and its strings share that copy (so a retained
// string keeps at most 4 KiB alive); larger inputs copy each string.
//
// # Reference scope
//
// AMF0 reference indices and the AMF3 tables of 0x11-switched values are
// shared by all values of one message body (docs/amf.md#amf0-references, docs/amf.md#amf3-reference-tables).
// [Decoder.DecodeAMF0All] decodes a whole body with one set of tables;
// [Decoder.DecodeAMF0] and [Decoder.DecodeAMF3] decode one standalone value
// each; [Decoder.Reset] plus [Decoder.DecodeAMF0At] decode a body value by
// value. On the encoding side, one [Encoder] between two [Encoder.Reset]
// calls writes one body.
package amf
