package chunk

// Message type ids the chunk layer acts on (docs/rtmp.md#protocol-control-messages).
const (
	// TypeSetChunkSize is Set Chunk Size: U32 new chunk size.
	TypeSetChunkSize = 1
	// TypeAbort is Abort: U32 chunk stream id whose partial message to drop.
	TypeAbort = 2
)

// Header describes one message of the chunk stream.
type Header struct {
	// CSID is the chunk stream id, MinCSID..MaxCSID.
	CSID uint32
	// Timestamp is the message's absolute timestamp in milliseconds (the
	// Reader resolves deltas; the Writer computes them). It wraps at 2^32.
	Timestamp uint32
	// Length is the payload length. The Reader fills it; the Writer takes
	// it from len(payload) and ignores this field.
	Length uint32
	// Type is the message type id (docs/rtmp.md#message-types).
	Type uint8
	// StreamID is the message stream id (msid).
	StreamID uint32
}

// extendedTS is the 24-bit timestamp field value that announces an extended
// timestamp (docs/rtmp.md#extended-timestamps). The value itself must use the extended form.
const extendedTS = 0xFFFFFF

// Header sizes in bytes by fmt (docs/rtmp.md#message-header).
var msgHeaderLen = [4]int{11, 7, 3, 0}

// maxChunkHeader is the longest chunk header: 3-byte basic header, 11-byte
// message header, 4-byte extended timestamp.
const maxChunkHeader = 3 + 11 + 4

// appendBasicHeader appends the basic header for fmt and csid in its
// shortest form (docs/rtmp.md#basic-header). csid must be in [MinCSID, MaxCSID].
func appendBasicHeader(b []byte, fmt byte, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(b, fmt<<6|byte(csid))
	case csid < 320:
		return append(b, fmt<<6, byte(csid-64))
	default:
		v := csid - 64
		return append(b, fmt<<6|1, byte(v), byte(v>>8)) // little-endian
	}
}

func appendU24(b []byte, v uint32) []byte {
	return append(b, byte(v>>16), byte(v>>8), byte(v))
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func u24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

func u32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32le(b []byte) uint32 {
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}
