package rtmp

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
)

// stallConn stops reading once stalled: the peer that never reads.
type stallConn struct {
	net.Conn
	mu      sync.Mutex
	stalled bool
	closed  chan struct{}
	once    sync.Once
}

func (s *stallConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	st := s.stalled
	s.mu.Unlock()
	if st {
		<-s.closed
		return 0, net.ErrClosed
	}
	return s.Conn.Read(p)
}

func (s *stallConn) Close() error {
	s.once.Do(func() { close(s.closed) })
	return s.Conn.Close()
}

func (s *stallConn) stall() {
	s.mu.Lock()
	s.stalled = true
	s.mu.Unlock()
}

// A player that stops reading is cut off as a slow consumer while the
// publisher and a fast player carry on (docs/architecture.md#tests, slow consumer).
func TestSlowConsumerIsCutOffOthersCarryOn(t *testing.T) {
	ts := startServer(t, Config{WriteTimeout: 300 * time.Millisecond})
	ctx := testutil.Context(t, 5*time.Second)

	pub := publishStream(ctx, t, ts, "live", "s")
	fast := &packetRecorder{}
	playLive(ctx, t, ts, "live", "s", fast)

	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)
	sc := &stallConn{Conn: nc, closed: make(chan struct{})}
	slowC, err := NewClient(ctx, sc, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer slowC.Close()
	if _, err := slowC.Connect(ctx, "live", ts.url("live")); err != nil {
		t.Fatal(err)
	}
	ss, err := slowC.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Play(ctx, "s", -1000); err != nil {
		t.Fatal(err)
	}
	sc.stall()

	payload := make([]byte, 16000)
	sent := 0
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ts.logs.String(), "reason=slow_consumer") {
		if time.Now().After(deadline) {
			t.Fatal("slow player was not cut off")
		}
		payload[0] = 0x27
		if sent%25 == 0 {
			payload[0] = 0x17
		}
		start := time.Now()
		if err := pub.WritePacket(media.Packet{Kind: media.Video, Time: uint32(sent * 40), Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("publisher write blocked for %v", d)
		}
		sent++
		time.Sleep(2 * time.Millisecond)
	}
	testutil.WaitFor(t, 5*time.Second, "fast player receives every message", func() bool { return len(fast.snapshot()) >= sent+2 })
}
