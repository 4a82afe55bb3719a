package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/openfcs/openfcs/amf"
)

// EventType is the type byte of a shared-object event (docs/shared-objects.md#events).
type EventType uint8

// Event types. Types 0 and ≥ 12 are undefined.
const (
	EventUse           EventType = 1  // C→S, no data
	EventRelease       EventType = 2  // C→S, no data
	EventRequestChange EventType = 3  // C→S, key + value
	EventChange        EventType = 4  // S→C, key + value
	EventSuccess       EventType = 5  // S→C, key
	EventSendMessage   EventType = 6  // both, handler + args
	EventStatus        EventType = 7  // S→C, code + level
	EventClear         EventType = 8  // S→C, no data
	EventRemove        EventType = 9  // S→C, key
	EventRequestRemove EventType = 10 // C→S, key
	EventUseSuccess    EventType = 11 // S→C, no data
)

var eventNames = [...]string{
	EventUse: "use", EventRelease: "release", EventRequestChange: "request-change",
	EventChange: "change", EventSuccess: "success", EventSendMessage: "send-message",
	EventStatus: "status", EventClear: "clear", EventRemove: "remove",
	EventRequestRemove: "request-remove", EventUseSuccess: "use-success",
}

// String returns the event type's name, e.g. "request-change".
func (t EventType) String() string {
	if t.Known() {
		return eventNames[t]
	}
	return "event(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is one of the eleven defined event types.
func (t EventType) Known() bool { return t >= EventUse && t <= EventUseSuccess }

// ClientToServer reports whether t is sent by clients (Use, Release,
// RequestChange, SendMessage, RequestRemove).
func (t EventType) ClientToServer() bool {
	switch t {
	case EventUse, EventRelease, EventRequestChange, EventSendMessage, EventRequestRemove:
		return true
	}
	return false
}

// FlagPersistent is the flags bit of a server-persistent shared object
// (docs/shared-objects.md#flags). Other bits carry no known meaning.
const FlagPersistent uint32 = 0x02

// Sentinel errors; parse errors wrap one of them with the offset.
var (
	// ErrTruncated reports a header or event that runs past the end of the
	// body, or an event length larger than what remains.
	ErrTruncated = errors.New("sharedobject: truncated message")
	// ErrMalformed reports event data that is not consumed exactly by its
	// layout, a bad AMF value or a handler that is not a string.
	ErrMalformed = errors.New("sharedobject: malformed event")
	// ErrTooLong reports a name, key or event that its length field cannot
	// express (encoding only).
	ErrTooLong = errors.New("sharedobject: field too long")
)

// Event is one shared-object event.
type Event struct {
	Type EventType
	// Key is the slot name (RequestChange, Change, Success, Remove,
	// RequestRemove), the handler name (SendMessage) or the status code
	// (Status).
	Key string
	// Value is the slot value of RequestChange and Change.
	Value amf.Value
	// Level is the status level of Status ("error", "warning", "status").
	Level string
	// Args are the SendMessage arguments.
	Args []amf.Value
	// Raw holds the data of an event of unknown type, as read (it aliases
	// the parsed body); it is written back unchanged.
	Raw []byte
}

// Message is one shared-object message body: the events for one shared
// object.
type Message struct {
	// Name is the shared object's name (byte string, relayed unchanged).
	Name string
	// Version: client→server the version the client last saw (0 without a
	// copy); server→client the version after the events were applied.
	Version uint32
	// Flags: FlagPersistent for server-persistent shared objects.
	Flags uint32
	// Events in order.
	Events []Event
	// Format is the leading byte of a type-16 body (normally 0), as read;
	// ignored for type 19 and always written as 0.
	Format byte
}

// Persistent reports whether the flags mark a server-persistent object.
func (m *Message) Persistent() bool { return m.Flags&FlagPersistent != 0 }

// headerLen is the fixed part of a body after the name: version, flags,
// reserved.
const headerLen = 12

// eventHeaderLen is an event's type byte and data length.
const eventHeaderLen = 5

// Parse decodes a shared-object body: type 16 when amf3 is set (one leading
// format byte, any value accepted), else type 19. It reuses m.Events'
// capacity. Keys and names are copies; values follow d's settings (with
// d.AliasInput, strings alias p). Every length is checked against what
// remains before it is used (docs/shared-objects.md#reading-events); event data must be consumed exactly.
// On error m holds the events parsed before it.
func Parse(p []byte, amf3 bool, d *amf.Decoder, m *Message) error {
	m.Events = m.Events[:0]
	m.Format = 0
	off := 0
	if amf3 {
		if len(p) < 1 {
			return fmt.Errorf("%w: empty type-16 body", ErrTruncated)
		}
		m.Format = p[0]
		off = 1
	}
	if len(p)-off < 2 {
		return fmt.Errorf("%w: name length at offset %d", ErrTruncated, off)
	}
	n := int(binary.BigEndian.Uint16(p[off:]))
	off += 2
	if len(p)-off < n+headerLen {
		return fmt.Errorf("%w: header needs %d bytes, %d remain at offset %d", ErrTruncated, n+headerLen, len(p)-off, off)
	}
	m.Name = string(p[off : off+n])
	off += n
	m.Version = binary.BigEndian.Uint32(p[off:])
	m.Flags = binary.BigEndian.Uint32(p[off+4:])
	off += headerLen
	for off < len(p) {
		if len(p)-off < eventHeaderLen {
			return fmt.Errorf("%w: event header needs 5 bytes, %d remain at offset %d", ErrTruncated, len(p)-off, off)
		}
		t := EventType(p[off])
		l := binary.BigEndian.Uint32(p[off+1:])
		start := off + eventHeaderLen
		if uint64(l) > uint64(len(p)-start) {
			return fmt.Errorf("%w: %v event length %d exceeds remaining %d bytes at offset %d", ErrTruncated, t, l, len(p)-start, off)
		}
		data := p[start : start+int(l)]
		if err := parseEvent(t, data, d, m); err != nil {
			return fmt.Errorf("%v event at offset %d: %w", t, off, err)
		}
		off = start + int(l)
	}
	return nil
}

// parseEvent appends the events that data (exactly one wire event) holds.
func parseEvent(t EventType, data []byte, d *amf.Decoder, m *Message) error {
	switch t {
	case EventUse, EventRelease, EventClear, EventUseSuccess:
		// Data should be empty; a peer that sends some is skipped (docs/shared-objects.md#event-encodings).
		m.Events = append(m.Events, Event{Type: t})
		return nil
	case EventRequestChange, EventChange:
		if len(data) == 0 {
			return fmt.Errorf("%w: no key/value pair", ErrMalformed)
		}
		for off := 0; off < len(data); {
			k, n, err := key(data, off)
			if err != nil {
				return err
			}
			off = n
			v, used, err := d.DecodeAMF0(data[off:])
			if err != nil {
				return fmt.Errorf("%w: value of %q at offset %d: %w", ErrMalformed, k, off, err)
			}
			off += used
			m.Events = append(m.Events, Event{Type: t, Key: k, Value: v})
		}
		return nil
	case EventSuccess, EventRemove, EventRequestRemove:
		if len(data) == 0 {
			return fmt.Errorf("%w: no key", ErrMalformed)
		}
		for off := 0; off < len(data); {
			k, n, err := key(data, off)
			if err != nil {
				return err
			}
			off = n
			m.Events = append(m.Events, Event{Type: t, Key: k})
		}
		return nil
	case EventStatus:
		code, off, err := key(data, 0)
		if err != nil {
			return err
		}
		level, off, err := key(data, off)
		if err != nil {
			return err
		}
		if off != len(data) {
			return fmt.Errorf("%w: %d bytes after the status level", ErrMalformed, len(data)-off)
		}
		m.Events = append(m.Events, Event{Type: t, Key: code, Level: level})
		return nil
	case EventSendMessage:
		h, off, err := d.DecodeAMF0(data)
		if err != nil {
			return fmt.Errorf("%w: handler: %w", ErrMalformed, err)
		}
		if h.Kind() != amf.KindString {
			return fmt.Errorf("%w: handler is a %v, not a string", ErrMalformed, h.Kind())
		}
		ev := Event{Type: t, Key: h.Str()}
		for off < len(data) {
			v, used, err := d.DecodeAMF0(data[off:])
			if err != nil {
				return fmt.Errorf("%w: argument %d at offset %d: %w", ErrMalformed, len(ev.Args), off, err)
			}
			off += used
			ev.Args = append(ev.Args, v)
		}
		m.Events = append(m.Events, ev)
		return nil
	}
	m.Events = append(m.Events, Event{Type: t, Raw: data})
	return nil
}

// key reads a U16-length string without marker at data[off:].
func key(data []byte, off int) (string, int, error) {
	if len(data)-off < 2 {
		return "", off, fmt.Errorf("%w: key length at offset %d", ErrMalformed, off)
	}
	n := int(binary.BigEndian.Uint16(data[off:]))
	off += 2
	if len(data)-off < n {
		return "", off, fmt.Errorf("%w: key length %d exceeds remaining %d bytes at offset %d", ErrMalformed, n, len(data)-off, off-2)
	}
	return string(data[off : off+n]), off + n, nil
}

// AppendHeader appends a body header: for amf3 the format byte 00, then the
// name, version, flags and a zero reserved word.
func AppendHeader(b []byte, amf3 bool, name string, version, flags uint32) ([]byte, error) {
	if len(name) > 0xffff {
		return b, fmt.Errorf("%w: name of %d bytes", ErrTooLong, len(name))
	}
	if amf3 {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint32(b, version)
	b = binary.BigEndian.AppendUint32(b, flags)
	return binary.BigEndian.AppendUint32(b, 0), nil
}

// HeaderSize is the size of a type-19 header for a name of n bytes.
func HeaderSize(n int) int { return 2 + n + headerLen }

// PutVersion overwrites the version of a type-19 body (no format byte) in
// place; it lets an encoder write events before it knows the final version.
func PutVersion(body []byte, version uint32) {
	n := int(binary.BigEndian.Uint16(body))
	binary.BigEndian.PutUint32(body[2+n:], version)
}

func appendKey(b []byte, k string) ([]byte, error) {
	if len(k) > 0xffff {
		return b, fmt.Errorf("%w: key of %d bytes", ErrTooLong, len(k))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
	return append(b, k...), nil
}

// appendValue writes one value standalone: plain AMF0, or 0x11 + AMF3 for
// values without an AMF0 form.
func appendValue(b []byte, v amf.Value, e *amf.Encoder) ([]byte, error) {
	e.Reset()
	b, err := e.AppendAMF0Switched(b, v)
	e.Reset() // do not keep v alive in the encoder's tables
	return b, err
}

// AppendEvent appends one event. e is the encoder used for values; its
// tables are reset around each value (every value is standalone). On error b
// is returned unchanged.
func AppendEvent(b []byte, ev *Event, e *amf.Encoder) ([]byte, error) {
	start := len(b)
	b = append(b, byte(ev.Type), 0, 0, 0, 0)
	var err error
	switch ev.Type {
	case EventUse, EventRelease, EventClear, EventUseSuccess:
	case EventRequestChange, EventChange:
		if b, err = appendKey(b, ev.Key); err == nil {
			b, err = appendValue(b, ev.Value, e)
		}
	case EventSuccess, EventRemove, EventRequestRemove:
		b, err = appendKey(b, ev.Key)
	case EventStatus:
		if b, err = appendKey(b, ev.Key); err == nil {
			b, err = appendKey(b, ev.Level)
		}
	case EventSendMessage:
		b, err = appendValue(b, amf.String(ev.Key), e)
		for i := 0; err == nil && i < len(ev.Args); i++ {
			b, err = appendValue(b, ev.Args[i], e)
		}
	default:
		b = append(b, ev.Raw...)
	}
	if err != nil {
		return b[:start], err
	}
	l := len(b) - start - eventHeaderLen
	if uint64(l) > 0xffffffff {
		return b[:start], fmt.Errorf("%w: event of %d bytes", ErrTooLong, l)
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(l))
	return b, nil
}

// Append appends the message as a type-16 body (amf3, with format byte 00)
// or a type-19 body. On error b is returned unchanged.
func (m *Message) Append(b []byte, amf3 bool, e *amf.Encoder) ([]byte, error) {
	start := len(b)
	b, err := AppendHeader(b, amf3, m.Name, m.Version, m.Flags)
	if err != nil {
		return b, err
	}
	for i := range m.Events {
		if b, err = AppendEvent(b, &m.Events[i], e); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}
