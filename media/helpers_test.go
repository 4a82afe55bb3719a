package media

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Payloads shaped like real publishers' messages (docs/flv.md#audio-tags, docs/flv.md#test-vectors).
var (
	avcSeqPayload = []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x08, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe4, 0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80}
	aacSeqPayload = []byte{0xaf, 0x00, 0x12, 0x10}
	metaPayload   = []byte{0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0x08, 0, 0, 0, 0, 0, 0, 9}
)

func avcSeq(ts uint32) *Packet { return &Packet{Kind: Video, Time: ts, Payload: avcSeqPayload} }
func aacSeq(ts uint32) *Packet { return &Packet{Kind: Audio, Time: ts, Payload: aacSeqPayload} }
func meta() *Packet            { return &Packet{Kind: Data, Payload: metaPayload} }

// key and inter are H.264 NALU packets of n payload bytes.
func key(ts uint32, n int) *Packet {
	return &Packet{Kind: Video, Time: ts, Payload: sized([]byte{0x17, 1, 0, 0, 0}, n)}
}
func inter(ts uint32, n int) *Packet {
	return &Packet{Kind: Video, Time: ts, Payload: sized([]byte{0x27, 1, 0, 0, 0}, n)}
}

// aac is a raw AAC frame; sorenson a Sorenson H.263 frame (no config).
func aac(ts uint32, n int) *Packet {
	return &Packet{Kind: Audio, Time: ts, Payload: sized([]byte{0xaf, 1}, n)}
}

func sized(head []byte, n int) []byte {
	p := make([]byte, max(n, len(head)))
	copy(p, head)
	return p
}

func newRegistry(tb testing.TB, cfg Config) *Registry {
	tb.Helper()
	r := NewRegistry(cfg, nil)
	tb.Cleanup(r.Close)
	return r
}

func publish(tb testing.TB, r *Registry, name string) *Publication {
	tb.Helper()
	p, err := r.Publish(name)
	if err != nil {
		tb.Fatalf("Publish(%q): %v", name, err)
	}
	return p
}

// describe renders events compactly for comparisons: "pub", "unpub",
// "v:key@10", "v:cfg@0", "v@20", "a:cfg@0", "a@30", "d@0".
func describe(evs []Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch ev.Type {
		case EventPublishNotify:
			b.WriteString("pub")
			continue
		case EventUnpublishNotify:
			b.WriteString("unpub")
			continue
		}
		p := ev.Packet
		b.WriteString(p.Kind.String()[:1])
		switch {
		case p.Config:
			b.WriteString(":cfg")
		case p.Keyframe:
			b.WriteString(":key")
		}
		fmt.Fprintf(&b, "@%d", p.Time)
	}
	return b.String()
}

func drainAll(s *Subscriber) string { return describe(s.Drain(nil)) }

func newLoggedRegistry(tb testing.TB, cfg Config) (*Registry, *testutil.LogBuffer) {
	tb.Helper()
	log, lb := testutil.Logger(tb, slog.LevelInfo)
	r := NewRegistry(cfg, log)
	tb.Cleanup(r.Close)
	return r, lb
}
