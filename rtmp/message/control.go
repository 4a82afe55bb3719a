package message

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort is returned when a payload is shorter than its type requires.
var ErrShort = errors.New("message: payload too short")

// Limit types of Set Peer Bandwidth (docs/rtmp.md#protocol-control-messages).
const (
	LimitHard    uint8 = 0
	LimitSoft    uint8 = 1
	LimitDynamic uint8 = 2
)

// AppendU32 appends the 4-byte payload shared by Set Chunk Size, Abort,
// Acknowledgement and Window Acknowledgement Size.
func AppendU32(b []byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(b, v)
}

// ParseU32 reads the 4-byte payload of types 1, 2, 3 and 5.
func ParseU32(p []byte) (uint32, error) {
	if len(p) < 4 {
		return 0, fmt.Errorf("%w: %d bytes, want 4", ErrShort, len(p))
	}
	return binary.BigEndian.Uint32(p), nil
}

// SetPeerBandwidth is message type 6.
type SetPeerBandwidth struct {
	Window uint32
	Limit  uint8
}

// Append encodes m.
func (m SetPeerBandwidth) Append(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, m.Window), m.Limit)
}

// ParseSetPeerBandwidth decodes a type 6 payload.
func ParseSetPeerBandwidth(p []byte) (SetPeerBandwidth, error) {
	if len(p) < 5 {
		return SetPeerBandwidth{}, fmt.Errorf("%w: %d bytes, want 5", ErrShort, len(p))
	}
	return SetPeerBandwidth{Window: binary.BigEndian.Uint32(p), Limit: p[4]}, nil
}
