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
	ctx := testutil.Context(t, 30*time.Second)

	quiet := dial(t, ts, "live", ClientConfig{})
	f := testutil.StartFreezer(t, ts.addr)
	gone, err := Dial(ctx, "rtmp://"+f.Addr()+"/live", ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	// Something read after connect arms the idle deadline, as every
	// client's first calls do.
	for _, c := range []*Client{quiet, gone} {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
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
