package rtmp

import (
	"net"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// TestDrainAsksReconnectWhereAdvertised: a client whose connect carries
// capsEx Reconnect gets capsEx back in the _result and, when the server
// drains, NetConnection.Connect.ReconnectRequest before
// NetConnection.Connect.AppShutdown; a client without capsEx gets neither
// the echo nor the request, only AppShutdown. Both are closed.
func TestDrainAsksReconnectWhereAdvertised(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 10*time.Second)
	connect := func(caps int) (*Client, *message.Command) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient(ctx, nc, ClientConfig{CapsEx: caps})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		r, err := c.call(ctx, message.CSIDCommand, 0, "connect", c.connectObject("live", ts.url("live"), true))
		if err != nil {
			t.Fatal(err)
		}
		return c, r
	}
	// 0x0f: every E-RTMP capability; the server has only Reconnect.
	eRTMP, r := connect(0x0f)
	if got := r.Object.Get("capsEx"); got.Num() != capsExReconnect {
		t.Errorf("_result capsEx = %v, want %d", got, capsExReconnect)
	}
	legacy, r := connect(0)
	if got := r.Object.Get("capsEx"); !got.IsUndefined() {
		t.Errorf("_result to a client without capsEx carries capsEx %v", got)
	}

	n := ts.eng.Drain()
	if n.Clients != 2 || n.Reconnect != 1 {
		t.Errorf("Drain = %+v, want 2 clients, 1 asked to reconnect", n)
	}
	codes := func(c *Client) []string {
		var got []string
		for {
			select {
			case cmd := <-c.Calls:
				if cmd.Name == "onStatus" {
					got = append(got, cmd.Arg(0).Get("code").Str())
				}
			case <-c.Done():
				for {
					select {
					case cmd := <-c.Calls:
						if cmd.Name == "onStatus" {
							got = append(got, cmd.Arg(0).Get("code").Str())
						}
					default:
						return got
					}
				}
			case <-ctx.Done():
				t.Fatalf("not closed by the drain; statuses so far %v", got)
			}
		}
	}
	if got := codes(eRTMP); len(got) != 2 || got[0] != status.ConnectReconnectRequest || got[1] != status.ConnectAppShutdown {
		t.Errorf("E-RTMP client got %v, want [%s %s]", got, status.ConnectReconnectRequest, status.ConnectAppShutdown)
	}
	if got := codes(legacy); len(got) != 1 || got[0] != status.ConnectAppShutdown {
		t.Errorf("legacy client got %v, want [%s]", got, status.ConnectAppShutdown)
	}
}
