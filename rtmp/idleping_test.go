package rtmp

import (
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
)

// A connection with nothing to say is pinged before its idle deadline
// and stays while it answers; one whose peer stopped answering is closed
// at the deadline.
func TestQuietConnectionIsPinged(t *testing.T) {
	const idle = 2 * time.Second
	ts := startServer(t, Config{IdleTimeout: idle})
	pingedAndFrozen(t, ts, idle, nil)
}

// pingedAndFrozen connects two clients to ts (whose IdleTimeout is idle),
// one of them through a relay, and has both call once; settled, when
// given, runs then. The relay then freezes: the frozen client must be
// closed by the idle timeout (not before half of it), the quiet one,
// which answers the server's pings, must stay for three idle timeouts
// and still answer.
func pingedAndFrozen(t *testing.T, ts *testServer, idle time.Duration, settled func()) {
	t.Helper()
	ctx := testutil.Context(t, 30*time.Second)
	quiet := dial(t, ts, "live", ClientConfig{})
	f := testutil.StartFreezer(t, ts.addr)
	gone, err := Dial(ctx, "rtmp://"+f.Addr()+"/live", ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gone.Close() })
	// Something read after connect arms the idle deadline, as every
	// client's first calls do.
	for _, c := range []*Client{quiet, gone} {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	if settled != nil {
		settled()
	}
	f.Freeze()
	frozenAt := time.Now()

	testutil.WaitFor(t, 20*time.Second, "the frozen peer closed", func() bool {
		return strings.Contains(ts.logs.String(), "reason=timeout")
	})
	took := time.Since(frozenAt)
	t.Logf("a frozen peer was closed %v after it stopped (idle timeout %v)", took.Round(time.Millisecond), idle)
	if took < idle/2 {
		t.Errorf("the frozen peer was closed after %v, before half the idle timeout %v", took, idle)
	}

	// The quiet one outlives several idle timeouts.
	for time.Since(frozenAt) < 3*idle {
		select {
		case <-quiet.Done():
			t.Fatalf("a quiet client that answers pings was closed: %v", quiet.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatalf("quiet client after %v: %v", 3*idle, err)
	}
	if n := strings.Count(ts.logs.String(), "reason=timeout"); n != 1 {
		t.Errorf("%d connections closed for idleness, want the frozen one only", n)
	}
}
