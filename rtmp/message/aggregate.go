package message

import (
	"errors"
	"fmt"
)

// Errors of SplitAggregate and AppendAggregate.
var (
	// ErrAggregate means an aggregate message (type 22) is not a whole
	// sequence of tags: a sub-message header or body runs past its end.
	ErrAggregate = errors.New("message: malformed aggregate message")
	// ErrAggregatePart means a part's body is too large for the 24-bit size
	// field of its tag.
	ErrAggregatePart = errors.New("message: aggregate part too large")
)

// aggregateTagHeader and aggregateBackPointer frame each sub-message: an
// FLV tag header (type, size 24, time 24 + 8, stream id 24) before the
// body and the tag's size after it.
const (
	aggregateTagHeader   = 11
	aggregateBackPointer = 4
)

// AggregatePart is one sub-message of an aggregate message.
type AggregatePart struct {
	// Type is the sub-message's type: audio (8), video (9) or data (18)
	// in practice; SplitAggregate returns any type found.
	Type uint8
	// Timestamp is the sub-message's time on the aggregate message's
	// clock: the first part is at the aggregate's timestamp and the others
	// keep their distance to it, as FMS writes them (the tags inside carry
	// the file's times, the message header the stream's).
	Timestamp uint32
	// Body aliases the aggregate's payload.
	Body []byte
}

// SplitAggregate appends to dst the sub-messages of the aggregate payload
// p (type 22) whose message timestamp is ts, and returns the extended
// slice. Each sub-message is an FLV tag followed by its 4-byte back
// pointer, whose value is not checked; the tag's stream id is ignored (the
// aggregate message's applies). Bodies alias p. A payload that is not a
// whole sequence of tags fails with ErrAggregate and appends nothing: a
// half-applied aggregate would deliver media out of its context.
func SplitAggregate(dst []AggregatePart, p []byte, ts uint32) ([]AggregatePart, error) {
	n0 := len(dst)
	var first uint32
	for off := 0; off < len(p); {
		if len(p)-off < aggregateTagHeader {
			return dst[:n0], fmt.Errorf("%w: %d bytes at offset %d, a tag header needs %d", ErrAggregate, len(p)-off, off, aggregateTagHeader)
		}
		h := p[off : off+aggregateTagHeader]
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		t := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
		end := off + aggregateTagHeader + size + aggregateBackPointer
		if end > len(p) {
			return dst[:n0], fmt.Errorf("%w: a %d-byte part at offset %d runs past the %d-byte message", ErrAggregate, size, off, len(p))
		}
		if len(dst) == n0 {
			first = t
		}
		dst = append(dst, AggregatePart{
			Type:      h[0],
			Timestamp: t + (ts - first), // modular, as the 32-bit clock is
			Body:      p[off+aggregateTagHeader : end-aggregateBackPointer],
		})
		off = end
	}
	return dst, nil
}

// AppendAggregate encodes parts as an aggregate payload onto b, each as a
// tag with its own timestamp (stream id 0) and back pointer, so that
// SplitAggregate(nil, out, parts[0].Timestamp) returns parts again. A body
// over 16 MiB - 1 fails with ErrAggregatePart.
func AppendAggregate(b []byte, parts []AggregatePart) ([]byte, error) {
	for i := range parts {
		pt := &parts[i]
		size := len(pt.Body)
		if size > 0xFFFFFF {
			return b, fmt.Errorf("%w: part %d has %d bytes", ErrAggregatePart, i, size)
		}
		t := pt.Timestamp
		b = append(b, pt.Type, byte(size>>16), byte(size>>8), byte(size),
			byte(t>>16), byte(t>>8), byte(t), byte(t>>24), 0, 0, 0)
		b = append(b, pt.Body...)
		b = AppendU32(b, uint32(aggregateTagHeader+size))
	}
	return b, nil
}
