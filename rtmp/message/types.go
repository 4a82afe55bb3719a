package message

// Type is an RTMP message type id (docs/rtmp.md#message-types).
type Type = uint8

// Message type ids (docs/rtmp.md#message-types).
const (
	TypeSetChunkSize     Type = 1
	TypeAbort            Type = 2
	TypeAck              Type = 3
	TypeUserControl      Type = 4
	TypeWindowAckSize    Type = 5
	TypeSetPeerBandwidth Type = 6
	TypeAudio            Type = 8
	TypeVideo            Type = 9
	TypeDataAMF3         Type = 15
	TypeSharedObjectAMF3 Type = 16
	TypeCommandAMF3      Type = 17
	TypeData             Type = 18
	TypeSharedObject     Type = 19
	TypeCommand          Type = 20
	TypeAggregate        Type = 22
)

// Conventional chunk stream ids (docs/rtmp.md#basic-header). Only CSIDControl is fixed by
// the spec; the others match what FMS, Red5 and ffmpeg use so captures read
// alike.
const (
	CSIDControl = 2 // protocol and user control messages
	CSIDCommand = 3 // NetConnection and NetStream commands, status
	CSIDAudio   = 4
	CSIDVideo   = 6
	CSIDData    = 5
	CSIDStream  = 8 // ffmpeg's NetStream command channel
)

// TypeName returns a short name for logs.
func TypeName(t Type) string {
	switch t {
	case TypeSetChunkSize:
		return "set_chunk_size"
	case TypeAbort:
		return "abort"
	case TypeAck:
		return "ack"
	case TypeUserControl:
		return "user_control"
	case TypeWindowAckSize:
		return "window_ack_size"
	case TypeSetPeerBandwidth:
		return "set_peer_bandwidth"
	case TypeAudio:
		return "audio"
	case TypeVideo:
		return "video"
	case TypeDataAMF3:
		return "data_amf3"
	case TypeSharedObjectAMF3:
		return "shared_object_amf3"
	case TypeCommandAMF3:
		return "command_amf3"
	case TypeData:
		return "data"
	case TypeSharedObject:
		return "shared_object"
	case TypeCommand:
		return "command"
	case TypeAggregate:
		return "aggregate"
	}
	return "unknown"
}
