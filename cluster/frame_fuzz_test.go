package cluster

import (
	"bytes"
	"testing"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// FuzzParseFrame: no feed message panics the relay, and a packet frame
// that parses encodes back to the same bytes.
func FuzzParseFrame(f *testing.F) {
	f.Add(appendFrame(nil, framePacket, &media.Packet{Kind: media.Video, Time: 40, Payload: []byte{0x17, 1, 0, 0, 0}}))
	f.Add(appendFrame(nil, frameUnpublish, nil))
	f.Add(appendFrame(nil, framePacket, &media.Packet{Kind: media.Audio, Time: 20, Payload: []byte{0xaf, 1, 0x21}, Audience: media.ForLegacy}))
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

// FuzzParseLinkFrame: no relayed-session frame panics either side, and a
// message frame that parses encodes back to the same bytes.
func FuzzParseLinkFrame(f *testing.F) {
	f.Add(appendLinkFrame(nil, linkMessage, chunk.Header{CSID: 3, Type: 20, StreamID: 1, Timestamp: 40}, []byte{2, 0, 1, 'x'}))
	f.Add(appendLinkFrame(nil, linkEnd, chunk.Header{}, nil))
	f.Add([]byte{linkMessage, 20, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, h, p, err := parseLinkFrame(b)
		if err != nil || kind != linkMessage {
			return
		}
		if int(h.Length) != len(p) {
			t.Fatalf("length %d, payload %d bytes", h.Length, len(p))
		}
		if got := appendLinkFrame(nil, kind, h, p); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, parsed from %x", got, b)
		}
	})
}
