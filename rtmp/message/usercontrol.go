package message

import (
	"encoding/binary"
	"fmt"
)

// Event is a user control event type (docs/rtmp.md#user-control-events).
type Event uint16

// User control event types (docs/rtmp.md#user-control-events).
const (
	EventStreamBegin       Event = 0
	EventStreamEOF         Event = 1
	EventStreamDry         Event = 2
	EventSetBufferLength   Event = 3
	EventStreamIsRecorded  Event = 4
	EventPingRequest       Event = 6
	EventPingResponse      Event = 7
	EventSWFVerifyRequest  Event = 26
	EventSWFVerifyResponse Event = 27
	EventBufferEmpty       Event = 31
	EventBufferReady       Event = 32
)

// UserControl is message type 4. Value is the stream id or ping timestamp;
// Extra is the buffer length in ms for SetBufferLength and unused otherwise.
// Data keeps the raw event data of events this package does not interpret
// (readers must ignore unknown events, docs/rtmp.md#user-control-events).
type UserControl struct {
	Event Event
	Value uint32
	Extra uint32
}

// Append encodes m.
func (m UserControl) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(m.Event))
	b = binary.BigEndian.AppendUint32(b, m.Value)
	if m.Event == EventSetBufferLength {
		b = binary.BigEndian.AppendUint32(b, m.Extra)
	}
	return b
}

// ParseUserControl decodes a type 4 payload. Unknown events with fewer than
// four data bytes decode with Value 0 rather than failing, since the spec
// requires them to be ignored.
func ParseUserControl(p []byte) (UserControl, error) {
	if len(p) < 2 {
		return UserControl{}, fmt.Errorf("%w: user control of %d bytes", ErrShort, len(p))
	}
	m := UserControl{Event: Event(binary.BigEndian.Uint16(p))}
	d := p[2:]
	switch m.Event {
	case EventStreamBegin, EventStreamEOF, EventStreamDry, EventStreamIsRecorded,
		EventPingRequest, EventPingResponse, EventBufferEmpty, EventBufferReady:
		if len(d) < 4 {
			return m, fmt.Errorf("%w: event %d needs 4 data bytes, has %d", ErrShort, m.Event, len(d))
		}
		m.Value = binary.BigEndian.Uint32(d)
	case EventSetBufferLength:
		if len(d) < 8 {
			return m, fmt.Errorf("%w: SetBufferLength needs 8 data bytes, has %d", ErrShort, len(d))
		}
		m.Value = binary.BigEndian.Uint32(d)
		m.Extra = binary.BigEndian.Uint32(d[4:])
	default:
		if len(d) >= 4 {
			m.Value = binary.BigEndian.Uint32(d)
		}
	}
	return m, nil
}
