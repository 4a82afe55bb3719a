package rtph264

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// NAL unit types this package looks at (ITU-T H.264 table 7-1, RFC 6184
// section 5.2).
const (
	NALSlice = 1  // coded slice of a non-IDR picture
	NALIDR   = 5  // coded slice of an IDR picture
	NALSEI   = 6  // supplemental enhancement information
	NALSPS   = 7  // sequence parameter set
	NALPPS   = 8  // picture parameter set
	NALAUD   = 9  // access unit delimiter
	NALSTAPA = 24 // RTP aggregation packet, single time
	NALFUA   = 28 // RTP fragmentation unit
)

// Errors callers branch on.
var (
	// ErrMalformed: the bytes contradict their own lengths or headers.
	ErrMalformed = errors.New("rtph264: malformed")
	// ErrTooLarge: a declared or accumulated size is over its limit.
	ErrTooLarge = errors.New("rtph264: over the size limit")
	// ErrUnsupported: a valid form this package does not carry.
	ErrUnsupported = errors.New("rtph264: unsupported packetization")
)

// Type returns the NAL unit type of nal (its first byte's low five bits),
// or 0 for an empty slice.
func Type(nal []byte) uint8 {
	if len(nal) == 0 {
		return 0
	}
	return nal[0] & 0x1f
}

// SplitAVCC splits b, NAL units each prefixed by a big-endian length of
// lenSize bytes (1, 2 or 4, from the configuration record), into dst. The
// results alias b. At most maxNALs units are accepted.
func SplitAVCC(dst [][]byte, b []byte, lenSize, maxNALs int) ([][]byte, error) {
	if lenSize != 1 && lenSize != 2 && lenSize != 4 {
		return dst, fmt.Errorf("%w: NAL length size %d", ErrMalformed, lenSize)
	}
	n := 0
	for len(b) > 0 {
		if len(b) < lenSize {
			return dst, fmt.Errorf("%w: %d bytes left for a %d-byte NAL length", ErrMalformed, len(b), lenSize)
		}
		var l int
		switch lenSize {
		case 1:
			l = int(b[0])
		case 2:
			l = int(binary.BigEndian.Uint16(b))
		case 4:
			l = int(binary.BigEndian.Uint32(b))
		}
		b = b[lenSize:]
		if l < 0 || l > len(b) {
			return dst, fmt.Errorf("%w: NAL length %d with %d bytes left", ErrMalformed, l, len(b))
		}
		if n++; n > maxNALs {
			return dst, fmt.Errorf("%w: more than %d NAL units", ErrTooLarge, maxNALs)
		}
		if l > 0 {
			dst = append(dst, b[:l])
		}
		b = b[l:]
	}
	return dst, nil
}

// AppendAVCC appends nals to dst, each with a 4-byte length prefix.
func AppendAVCC(dst []byte, nals ...[]byte) []byte {
	for _, n := range nals {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n)))
		dst = append(dst, n...)
	}
	return dst
}
