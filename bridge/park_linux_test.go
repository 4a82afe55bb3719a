//go:build linux

package bridge

import (
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp"
)

func waitParkedWS(t *testing.T, st *stack, n int) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, "sessions parked", func() bool { return st.rtmp.ParkedConns() == n })
}

func waitSOValue(t *testing.T, got <-chan string, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case v := <-got:
			if v == want {
				return
			}
		case <-deadline:
			t.Fatalf("shared-object value %q never arrived", want)
		}
	}
}

// An idle RTMP-over-WebSocket session parks (no reader goroutine, its
// socket in the server's epoll set): a call wakes it and is answered, it
// parks again, and a shared-object change made over plain RTMP reaches it
// while it is parked.
func TestParkedWebSocketReadsAndReceives(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)

	quiet := dialRTMP(t, st.url("rtmpws", "live"))
	got := make(chan string, 16)
	so := rtmp.NewSharedObject("park", false)
	so.OnSync = func(items []rtmp.SyncItem) {
		for _, it := range items {
			if it.Name == "k" {
				got <- so.Get("k").Str()
			}
		}
	}
	if err := so.Connect(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	waitParkedWS(t, st, 1)
	for i := range 3 {
		if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatalf("call %d to a parked session: %v", i, err)
		}
		waitParkedWS(t, st, 1)
	}
	other := dialRTMP(t, st.url("rtmp", "live"))
	oso := rtmp.NewSharedObject("park", false)
	if err := oso.Connect(ctx, other); err != nil {
		t.Fatal(err)
	}
	waitParkedWS(t, st, 2)
	if err := oso.SetProperty("k", amf.String("from the other")); err != nil {
		t.Fatal(err)
	}
	waitSOValue(t, got, "from the other")
	if err := so.SetProperty("k", amf.String("mine")); err != nil {
		t.Fatal(err)
	}
	waitSOValue(t, got, "mine")
	if strings.Contains(st.logs.String(), "msg=closed") {
		t.Fatalf("a connection closed:\n%s", st.logs.String())
	}
}

// freezeProxy forwards TCP connections to target until frozen; then it
// forwards nothing more either way (a client that vanished silently).
type freezeProxy struct {
	ln     net.Listener
	frozen atomic.Bool
}

func startFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				_ = a.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, a, b)
			mu.Unlock()
			pipe := func(dst, src net.Conn) {
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if p.frozen.Load() {
						return
					}
					if n > 0 {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			wg.Go(func() { pipe(b, a) })
			wg.Go(func() { pipe(a, b) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

// A parked WebSocket session whose client answers the server's pings
// stays; one whose client vanished is ended by the idle timeout while
// parked.
func TestParkedWebSocketPingAndIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	st := startStack(t, stackOpts{session: rtmp.Config{IdleTimeout: idle, ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)

	quiet := dialRTMP(t, st.url("rtmpws", "live"))
	px := startFreezeProxy(t, st.addr)
	gone := dialRTMP(t, "rtmpws://"+px.ln.Addr().String()+"/live")
	for _, c := range []*rtmp.Client{quiet, gone} {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitParkedWS(t, st, 2)
	px.frozen.Store(true)
	frozenAt := time.Now()
	testutil.WaitFor(t, 30*time.Second, "the frozen session closed", func() bool {
		return strings.Contains(st.logs.String(), "reason=timeout")
	})
	if took := time.Since(frozenAt); took < idle/2 {
		t.Errorf("the frozen session was closed after %v, before half the idle timeout %v", took, idle)
	}
	for time.Since(frozenAt) < 3*idle {
		select {
		case <-quiet.Done():
			t.Fatalf("a parked session that answers pings was closed: %v", quiet.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatalf("quiet session after %v: %v", 3*idle, err)
	}
	if n := strings.Count(st.logs.String(), "reason=timeout"); n != 1 {
		t.Errorf("%d sessions closed for idleness, want the frozen one only", n)
	}
}

// Bad input to a parked WebSocket session (a chunk that continues
// nothing, then a text message) wakes it and closes it alone.
func TestParkedWebSocketBadInput(t *testing.T) {
	for _, text := range []bool{false, true} {
		t.Run(map[bool]string{false: "bad chunk", true: "text message"}[text], func(t *testing.T) {
			st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
			ctx := testutil.Context(t, 60*time.Second)
			good := dialRTMP(t, st.url("rtmpws", "live"))
			u, err := url.Parse(st.url("rtmpws", "live"))
			if err != nil {
				t.Fatal(err)
			}
			nc, err := DialFunc(DialConfig{})(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			bad, err := rtmp.NewClient(ctx, nc, rtmp.ClientConfig{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bad.Close() })
			if _, err := bad.Connect(ctx, "live", u.String()); err != nil {
				t.Fatal(err)
			}
			waitParkedWS(t, st, 2)
			wc := nc.(*wsConn)
			if text {
				err = wc.ws.WriteMessage(1, []byte("hello")) // websocket.TextMessage
			} else {
				_, err = nc.Write([]byte{0xc5, 0, 0, 0})
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-bad.Done():
			case <-ctx.Done():
				t.Fatal("the session that sent bad input was not closed")
			}
			if _, err := good.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
				t.Fatalf("the other parked session: %v", err)
			}
			testutil.WaitFor(t, 10*time.Second, "one closed line", func() bool {
				return strings.Count(st.logs.String(), "msg=closed") == 1
			})
		})
	}
}

// Sessions park and wake all the time (ParkAfter 1ms) while clients
// call and close, and the RTMP server shuts down with some parked: under
// the race detector no session is lost or woken twice, each ends with
// one closed line, and goleak (TestMain) finds no goroutine left.
func TestParkedWebSocketChurnAndShutdown(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: time.Millisecond}})
	ctx := testutil.Context(t, 90*time.Second)
	const n = 12
	clients := make([]*rtmp.Client, n)
	for i := range n {
		clients[i] = dialRTMP(t, st.url("rtmpws", "live"))
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for k := range 10 {
				if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
					t.Errorf("client %d call %d: %v", i, k, err)
					return
				}
				time.Sleep(time.Duration(r.IntN(5)) * time.Millisecond)
			}
			if i%3 == 0 {
				_ = c.Close()
			}
		})
	}
	wg.Wait()
	left := n - (n+2)/3
	testutil.WaitFor(t, 30*time.Second, "closed sessions gone", func() bool { return st.rtmp.NumConns() == left })
	waitParkedWS(t, st, left)

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := st.rtmp.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with parked sessions: %v", err)
	}
	if got := st.rtmp.NumConns(); got != 0 {
		t.Fatalf("%d sessions left after shutdown", got)
	}
	logs := st.logs.String()
	if got := strings.Count(logs, "msg=closed"); got != n {
		t.Errorf("%d closed lines, want %d", got, n)
	}
	if got := strings.Count(logs, "reason=shutdown"); got != left {
		t.Errorf("%d sessions closed by the shutdown, want %d", got, left)
	}
}

// TestParkedWebSocketMessagesInOneWrite: two messages that arrive in one
// segment leave the second in the library's buffer once the first is
// read; the reader, which between messages waits for the socket itself
// while it may park, must see it there and neither wait for bytes
// already read nor park with them.
func TestParkedWebSocketMessagesInOneWrite(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)
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
	waitParkedWS(t, st, 1)
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
	raw := nc.(*wsConn).ws.UnderlyingConn()
	if _, err := raw.Write(append(clientFrame(ack), clientFrame(call)...)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the call handled", func() bool {
		return strings.Contains(st.logs.String(), "name=getStreamLength txn=5")
	})
}
