// Package remoting encodes and decodes the Flash Remoting envelope: the
// body of an HTTP POST of Content-Type application/x-amf that carries
// NetConnection calls to a remoting gateway and their results back
// (docs/remoting.md#the-envelope).
//
// A packet is a version, a list of headers and a list of messages. Every
// header and message value is one AMF0 value (which may switch to AMF3 with
// marker 0x11) with its own reference tables: values of a packet never
// refer to each other. In a request, a message's target is the remote
// method ("service.method") and its response URI names the call ("/1",
// "/2", ...); its value is the strict array of arguments. In a response the
// target is that URI plus "/onResult" or "/onStatus" ([ResponseTarget]).
//
// The codec is pure: no I/O, no logging. Decoding checks every count and
// declared length against the input before allocating; a packet and each
// value are bounded by [Limits].
package remoting

import (
	"strings"

	"github.com/openfcs/openfcs/amf"
)

// ContentType is the media type of requests and responses.
const ContentType = "application/x-amf"

// Packet versions (the client type, for gateways): Flash Player 6 to 8
// write 0, Flash Communication Server and Flash Media Server write 1, and
// Flash Player 9+ writes 3 when the NetConnection's objectEncoding is AMF3.
// Gateways answer with the version they were sent.
const (
	VersionAMF0 = 0
	VersionFMS  = 1
	VersionAMF3 = 3
)

// UnknownLength is the value length a writer puts in a header or message
// when it did not measure the value (docs/remoting.md#the-envelope).
const UnknownLength = 0xFFFFFFFF

// Header is a packet header: context sent with every message of the packet
// (credentials, a session id) or an instruction from the gateway
// (AppendToGatewayUrl, ReplaceGatewayUrl, RequestPersistentHeader).
type Header struct {
	Name string
	// MustUnderstand asks the receiver to fail the packet when it does not
	// know the header.
	MustUnderstand bool
	Value          amf.Value
}

// Message is a packet body: one call, or one call's outcome.
type Message struct {
	// Target is "service.method" in a request and "/N/onResult" or
	// "/N/onStatus" in a response.
	Target string
	// Response is the call's URI ("/N") in a request; responses carry
	// "null" or "".
	Response string
	// Value is the strict array of arguments in a request and the result
	// or the status object in a response.
	Value amf.Value
}

// Packet is one request or response body.
type Packet struct {
	Version  uint16
	Headers  []Header
	Messages []Message
}

// Default limits.
const (
	// DefaultMaxBytes bounds a packet: a gateway's answer is read into
	// memory and turned into script values.
	DefaultMaxBytes = 4 << 20
)

// Limits bounds what Unmarshal accepts and what Append writes. A zero field
// means its default.
type Limits struct {
	// MaxBytes bounds the whole packet, bytes. Default 4 MiB.
	MaxBytes int
	// Value bounds each header and message value (depth, string length,
	// element count, expansion). Its MaxBytes is capped by MaxBytes.
	Value amf.Limits
}

func (l Limits) resolved() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Value.MaxBytes <= 0 || l.Value.MaxBytes > l.MaxBytes {
		l.Value.MaxBytes = l.MaxBytes
	}
	return l
}

// Outcome names of a response target.
const (
	OnResult = "onResult"
	OnStatus = "onStatus"
)

// ResponseTarget returns the target of the answer to the call whose
// response URI is uri: uri + "/" + outcome.
func ResponseTarget(uri, outcome string) string { return uri + "/" + outcome }

// SplitTarget splits a response target "/N/onResult" into the call's
// response URI ("/N") and the outcome ("onResult"). ok is false when the
// target has no "/" after its first byte.
func SplitTarget(target string) (uri, outcome string, ok bool) {
	i := strings.LastIndexByte(target, '/')
	if i <= 0 {
		return "", "", false
	}
	return target[:i], target[i+1:], true
}
