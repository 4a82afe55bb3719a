package amf

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every decoding error is a *DecodeError wrapping exactly
// one of them; encoding errors wrap them with %w. Match with errors.Is.
var (
	// ErrTruncated reports input that ends inside a value, or a declared
	// length or count larger than what remains of the input.
	ErrTruncated = errors.New("amf: truncated input")
	// ErrTooDeep reports nesting beyond Limits.MaxDepth.
	ErrTooDeep = errors.New("amf: nesting too deep")
	// ErrTooLarge reports a value, count, table or input beyond a Limits field,
	// or a length that the encoding cannot express.
	ErrTooLarge = errors.New("amf: value too large")
	// ErrBadReference reports a reference index outside its table.
	ErrBadReference = errors.New("amf: bad reference")
	// ErrUnknownMarker reports a type marker that does not exist in the
	// encoding, or an object-end marker where a value was expected.
	ErrUnknownMarker = errors.New("amf: unknown marker")
	// ErrUnsupported reports a marker or value openfcs does not handle:
	// AMF0 movieclip and recordset, AMF3 externalizable classes other than
	// the Flex wrappers, and AMF3-only values written as AMF0.
	ErrUnsupported = errors.New("amf: unsupported value")
	// ErrMalformed reports bytes that violate the format otherwise (an empty
	// key not followed by the object-end marker, an invalid vector element).
	ErrMalformed = errors.New("amf: malformed value")
	// ErrExpand reports a reference-free conversion whose tree expansion
	// exceeds Limits.MaxExpand nodes (docs/amf.md#limits).
	ErrExpand = errors.New("amf: value expands too much")
)

// Aliases under the names used in the project brief.
var (
	ErrDepth     = ErrTooDeep       // same as ErrTooDeep
	ErrTooLong   = ErrTooLarge      // same as ErrTooLarge
	ErrBadMarker = ErrUnknownMarker // same as ErrUnknownMarker
)

// DecodeError describes why input could not be decoded.
type DecodeError struct {
	// Offset is the byte offset within the decoded buffer where the
	// offending item (marker, length, reference) starts.
	Offset int
	// Msg names the encoding and the problem, e.g.
	// `amf0: string length 5 exceeds remaining 2 bytes`.
	Msg string
	// Err is the sentinel (ErrTruncated, ErrTooDeep, ...).
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// Unwrap returns the sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }
