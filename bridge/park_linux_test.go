//go:build linux

package bridge

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/rtmptest"
	"github.com/openfcs/openfcs/rtmp"
)

// dialWSConn connects a client to st's "live" over WebSocket and returns
// it with its connection, for a test that writes the socket itself.
func dialWSConn(ctx context.Context, t *testing.T, st *stack) (*wsConn, *rtmp.Client) {
	t.Helper()
	u, err := url.Parse(st.url("rtmpws", "live"))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := DialFunc(DialConfig{})(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rtmp.NewClient(ctx, nc, rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Connect(ctx, "live", u.String()); err != nil {
		t.Fatal(err)
	}
	return nc.(*wsConn), c
}

// An idle RTMP-over-WebSocket session parks (no reader goroutine, its
// socket in the server's epoll set): a call wakes it and is answered, it
// parks again, and a shared-object change made over plain RTMP reaches it
// while it is parked.
func TestParkedWebSocketReadsAndReceives(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	rtmptest.ParkReadsAndReceives(t, st.rtmp, st.logs, dialRTMP(t, st.url("rtmpws", "live")), func() *rtmp.Client {
		return dialRTMP(t, st.url("rtmp", "live"))
	})
}

// A parked WebSocket session whose client answers the server's pings
// stays; one whose client vanished is ended by the idle timeout while
// parked.
func TestParkedWebSocketPingAndIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	st := startStack(t, stackOpts{session: rtmp.Config{IdleTimeout: idle, ParkAfter: 50 * time.Millisecond}})
	quiet := dialRTMP(t, st.url("rtmpws", "live"))
	f := testutil.StartFreezer(t, st.addr)
	gone := dialRTMP(t, "rtmpws://"+f.Addr()+"/live")
	rtmptest.ParkPingAndIdleTimeout(t, st.rtmp, st.logs, idle, quiet, gone, f.Freeze)
}

// Bad input to a parked WebSocket session (a chunk that continues
// nothing, then a text message) wakes it and closes it alone.
func TestParkedWebSocketBadInput(t *testing.T) {
	for _, text := range []bool{false, true} {
		t.Run(map[bool]string{false: "bad chunk", true: "text message"}[text], func(t *testing.T) {
			st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
			ctx := testutil.Context(t, 60*time.Second)
			good := dialRTMP(t, st.url("rtmpws", "live"))
			wc, bad := dialWSConn(ctx, t, st)
			rtmptest.WaitParked(t, st.rtmp, 2)
			var err error
			if text {
				err = wc.ws.WriteMessage(1, []byte("hello")) // websocket.TextMessage
			} else {
				_, err = wc.Write([]byte{0xc5, 0, 0, 0})
			}
			if err != nil {
				t.Fatal(err)
			}
			rtmptest.WaitClosedAlone(t, st.logs, bad, good)
		})
	}
}

// Sessions park and wake all the time (ParkAfter 1ms) while clients
// call and close, and the RTMP server shuts down with some parked: under
// the race detector no session is lost or woken twice, each ends with
// one closed line, and goleak (TestMain) finds no goroutine left.
func TestParkedWebSocketChurnAndShutdown(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: time.Millisecond}})
	rtmptest.ParkChurnAndShutdown(t, st.rtmp, st.logs, func() *rtmp.Client {
		return dialRTMP(t, st.url("rtmpws", "live"))
	})
}

// TestParkedWebSocketMessagesInOneWrite: two messages that arrive in one
// segment leave the second in the library's buffer once the first is
// read; the reader, which between messages waits for the socket itself
// while it may park, must see it there and neither wait for bytes
// already read nor park with them.
func TestParkedWebSocketMessagesInOneWrite(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)
	wc, _ := dialWSConn(ctx, t, st)
	rtmptest.WaitParked(t, st.rtmp, 1)
	// An acknowledgement, then a call of a name no client of this test
	// sends otherwise, each in a message of its own, in one write.
	ack := []byte{0x02, 0, 0, 0, 0, 0, 4, 0x03, 0, 0, 0, 0, 0, 0, 0, 1}
	const name = "getStreamLength"
	body := []byte{0x02, 0, byte(len(name))}
	body = append(body, name...)
	body = append(body, 0x00, 0x40, 0x14, 0, 0, 0, 0, 0, 0) // transaction 5
	body = append(body, 0x05, 0x02, 0, 1, 'z')              // null, "z"
	call := []byte{0x03, 0, 0, 0, 0, 0, byte(len(body)), 0x14, 0, 0, 0, 0}
	call = append(call, body...)
	raw := wc.ws.UnderlyingConn()
	if _, err := raw.Write(append(clientFrame(ack), clientFrame(call)...)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the call handled", func() bool {
		return strings.Contains(st.logs.String(), "name=getStreamLength txn=5")
	})
}
