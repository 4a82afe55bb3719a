package media

import "strconv"

// Kind is the kind of a published message. The values equal the RTMP message
// type ids on purpose (docs/rtmp.md#message-types), so a transport converts with a cast.
// Values other than Audio and Video (Data, or 15 for an AMF3 data message)
// are relayed in order like Data: never cached, dropped only by a cut-off.
type Kind uint8

// Message kinds.
const (
	Audio Kind = 8
	Video Kind = 9
	Data  Kind = 18 // AMF0 data message (onMetaData, onCuePoint, NetStream.send)
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Audio:
		return "audio"
	case Video:
		return "video"
	case Data:
		return "data"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Packet is one published media message. It is immutable once passed to
// [Publication.Write] or [Publication.SetMetadata]: it is shared by pointer
// with every subscriber and never copied per subscriber. Payload is an FLV
// tag body (docs/flv.md#audio-tags) and passes through untouched.
type Packet struct {
	Kind    Kind
	Time    uint32 // timestamp, ms
	Payload []byte
	// Keyframe marks a video keyframe carrying a picture. Set by Write.
	Keyframe bool
	// Config marks codec configuration (sequence header, E-RTMP
	// SequenceStart and similar) that is cached and never dropped. Set by
	// Write.
	Config bool
	// Audience limits which subscribers receive the packet: a stream
	// may carry one audio track twice, once in an Enhanced RTMP codec
	// and once converted for players that predate it
	// (docs/webrtc.md#players-that-predate-enhanced-rtmp). Set by the
	// publisher; the zero value reaches everyone.
	Audience Audience

	configKey uint16 // which cached configuration this one replaces
}

// Audience says which subscribers receive a [Packet].
type Audience uint8

// Audiences.
const (
	// ForAll: every subscriber.
	ForAll Audience = iota
	// ForEnhanced: subscribers that decode Enhanced RTMP codecs (not
	// SubscribeOptions.Legacy).
	ForEnhanced
	// ForLegacy: subscribers opened with SubscribeOptions.Legacy.
	ForLegacy
)

// reaches reports whether a subscriber (legacy or not) receives packets
// for a.
func (a Audience) reaches(legacy bool) bool {
	return a == ForAll || (a == ForLegacy) == legacy
}

// EventType says what a subscriber [Event] carries.
type EventType uint8

// Event types.
const (
	// EventPacket: Event.Packet is a message to send.
	EventPacket EventType = iota
	// EventPublishNotify: a publisher started on the stream
	// (NetStream.Play.PublishNotify; also the first event of a subscriber
	// joining a published stream, where a transport sends Play.Start).
	EventPublishNotify
	// EventUnpublishNotify: the publisher left
	// (NetStream.Play.UnpublishNotify). The subscriber stays subscribed.
	EventUnpublishNotify
)

// String names the event type for logs.
func (t EventType) String() string {
	switch t {
	case EventPacket:
		return "packet"
	case EventPublishNotify:
		return "publish_notify"
	case EventUnpublishNotify:
		return "unpublish_notify"
	}
	return "event(" + strconv.Itoa(int(t)) + ")"
}

// Event is one entry of a subscriber's queue. Packet is nil except for
// EventPacket.
type Event struct {
	Type   EventType
	Packet *Packet
}
