package rtmp

import (
	"strings"
	"testing"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp/message"
)

// An instance unloaded by its script (application.shutdown(), or a failed
// script) tells every client NetConnection.Connect.AppShutdown before
// closing it, also a client that is playing: the end of the instance's
// streams must not cut the connection before the status is flushed.
func TestInstanceShutdownReachesPlayer(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := ctxT(t)
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Play(ctx, "waiting", -1000); err != nil {
		t.Fatal(err)
	}
	ins := ts.eng.Instances()
	if len(ins) != 1 {
		t.Fatalf("%d instances", len(ins))
	}
	ins[0].Shutdown()
	for {
		select {
		case cmd := <-c.Calls:
			if cmd.Name == "onStatus" && cmd.Arg(0).Get("code").Str() == instance.CodeConnectAppShutdown {
				waitFor(t, "closed line", func() bool { return strings.Contains(ts.logs.String(), "msg=closed") })
				if strings.Contains(ts.logs.String(), "reason=slow_consumer") {
					t.Errorf("closed as a slow consumer:\n%s", ts.logs.String())
				}
				return
			}
		case <-c.Done():
			t.Fatalf("closed without %s: %v", message.CodeConnectAppShutdown, c.Err())
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}
