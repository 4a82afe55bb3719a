//go:build linux

package tunnel

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp"
)

// waitParkedSessions waits until n RTMP sessions of st are parked.
func waitParkedSessions(t *testing.T, st *stack, n int) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, "sessions parked", func() bool { return st.rtmp.ParkedConns() == n })
}

func waitSO(t *testing.T, got <-chan string, want string) {
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

// An idle RTMPT session parks (no reader goroutine): a call wakes it and
// is answered, it parks again, and a shared-object change made by a
// client over plain RTMP reaches it while it is parked.
func TestParkedSessionReadsAndReceives(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)

	quiet := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
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
	waitParkedSessions(t, st, 1)
	for i := range 3 {
		if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatalf("call %d to a parked session: %v", i, err)
		}
		waitParkedSessions(t, st, 1)
	}

	other := dialRTMP(t, "rtmp://"+st.addr+"/live", DialConfig{})
	oso := rtmp.NewSharedObject("park", false)
	if err := oso.Connect(ctx, other); err != nil {
		t.Fatal(err)
	}
	waitParkedSessions(t, st, 2)
	if err := oso.SetProperty("k", amf.String("from the other")); err != nil {
		t.Fatal(err)
	}
	waitSO(t, got, "from the other")
	if err := so.SetProperty("k", amf.String("mine")); err != nil {
		t.Fatal(err)
	}
	waitSO(t, got, "mine")
	if strings.Contains(st.logs.String(), "msg=closed") {
		t.Fatalf("a connection closed:\n%s", st.logs.String())
	}
}

// freezer is an HTTP transport whose requests stop reaching the server
// once frozen (they wait until released or canceled): a client that
// vanished without a word.
type freezer struct {
	base    http.RoundTripper
	frozen  atomic.Bool
	release chan struct{}
}

func (f *freezer) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.frozen.Load() {
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-f.release:
			return nil, context.Canceled
		}
	}
	return f.base.RoundTrip(req)
}

// A parked RTMPT session whose client keeps polling answers the server's
// pings and stays; one whose client stopped polling (the tunnel session
// kept alive by a long session timeout) is ended by the idle timeout
// while parked.
func TestParkedSessionPingAndIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	st := startStack(t, Config{SessionTimeout: time.Hour},
		stackOpts{session: rtmp.Config{IdleTimeout: idle, ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)

	quiet := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	f := &freezer{base: http.DefaultTransport.(*http.Transport).Clone(), release: make(chan struct{})}
	gone := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{Client: &http.Client{Transport: f}})
	t.Cleanup(func() { close(f.release) }) // before the clients close (cleanups run last first)
	for _, c := range []*rtmp.Client{quiet, gone} {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitParkedSessions(t, st, 2)
	f.frozen.Store(true)
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

// Bad input to a parked session wakes it and closes it alone.
func TestParkedSessionBadInput(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	ctx := testutil.Context(t, 60*time.Second)

	good := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	nc, err := DialFunc(DialConfig{})(ctx, mustURL(t, "rtmpt://"+st.addr+"/live"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := newRTMPClient(t, nc, "rtmpt://"+st.addr+"/live")
	if err != nil {
		t.Fatal(err)
	}
	waitParkedSessions(t, st, 2)
	// A type-3 chunk header on a chunk stream that has had no message:
	// nothing to continue.
	if _, err := nc.Write([]byte{0xc5, 0, 0, 0}); err != nil {
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
	if n := strings.Count(st.logs.String(), "msg=closed"); n != 1 {
		t.Fatalf("%d closed lines, want 1:\n%s", n, st.logs.String())
	}
}

// Sessions park and wake all the time (ParkAfter 1ms) while clients
// call, close their sessions (/close) and vanish, and the tunnel and RTMP
// servers shut down with some parked: under the race detector no session
// is lost or woken twice, each ends with one closed line, and goleak
// (TestMain) finds no goroutine left.
func TestParkedSessionChurnAndShutdown(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{session: rtmp.Config{ParkAfter: time.Millisecond}})
	ctx := testutil.Context(t, 90*time.Second)
	const n = 12
	clients := make([]*rtmp.Client, n)
	for i := range n {
		clients[i] = dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
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
	waitParkedSessions(t, st, left)

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

// A parked session's client that ends the tunnel session (/close) wakes
// the RTMP reader, which ends the RTMP session; expiry does the same.
func TestParkedSessionEndedByClientOrExpiry(t *testing.T) {
	st := startStack(t, Config{SessionTimeout: 2 * time.Second}, stackOpts{session: rtmp.Config{ParkAfter: 50 * time.Millisecond}})
	closer := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{})
	f := &freezer{base: http.DefaultTransport.(*http.Transport).Clone(), release: make(chan struct{})}
	vanishing := dialRTMP(t, "rtmpt://"+st.addr+"/live", DialConfig{Client: &http.Client{Transport: f}})
	t.Cleanup(func() { close(f.release) })
	_ = vanishing
	waitParkedSessions(t, st, 2)
	_ = closer.Close()
	f.frozen.Store(true)
	testutil.WaitFor(t, 30*time.Second, "both sessions closed", func() bool { return st.rtmp.NumConns() == 0 })
	logs := st.logs.String()
	if got := strings.Count(logs, "msg=closed"); got != 2 {
		t.Errorf("%d closed lines, want 2:\n%s", got, logs)
	}
	if !strings.Contains(logs, "reason=timeout") {
		t.Errorf("the vanished client's session was not closed as a timeout:\n%s", logs)
	}
}
