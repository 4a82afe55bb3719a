package cluster

import (
	"bytes"
	"testing"

	"github.com/openfcs/openfcs/media"
)

// FuzzParseFrame: no feed message panics the relay, and a packet frame
// that parses encodes back to the same bytes.
func FuzzParseFrame(f *testing.F) {
	f.Add(appendFrame(nil, framePacket, &media.Packet{Kind: media.Video, Time: 40, Payload: []byte{0x17, 1, 0, 0, 0}}))
	f.Add(appendFrame(nil, frameUnpublish, nil))
	f.Add([]byte{framePacket, 8, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, p, err := parseFrame(b)
		if err != nil || typ != framePacket {
			return
		}
		if got := appendFrame(nil, typ, p); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, parsed from %x", got, b)
		}
	})
}
