package rtmptest

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp"
)

// WaitParked waits until n of srv's sessions are parked
// (rtmp.Server.ParkedConns).
func WaitParked(t testing.TB, srv *rtmp.Server, n int) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, "sessions parked", func() bool { return srv.ParkedConns() == n })
}

// ParkChurnAndShutdown is the park churn scenario, whatever carries the
// sessions: dial connects 12 clients to srv (whose ParkAfter is short, so
// that sessions park and wake all the time); each calls 10 times with
// random pauses, every third then closes; once the rest have parked, srv
// shuts down. Every session must end with one closed line in logs (srv's
// log), the parked ones by the shutdown, and none may be left.
func ParkChurnAndShutdown(t testing.TB, srv *rtmp.Server, logs *testutil.LogBuffer, dial func() *rtmp.Client) {
	t.Helper()
	ctx := testutil.Context(t, 90*time.Second)
	const n = 12
	clients := make([]*rtmp.Client, n)
	for i := range n {
		clients[i] = dial()
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
	testutil.WaitFor(t, 30*time.Second, "closed sessions gone", func() bool { return srv.NumConns() == left })
	WaitParked(t, srv, left)

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with parked sessions: %v", err)
	}
	if got := srv.NumConns(); got != 0 {
		t.Fatalf("%d sessions left after shutdown", got)
	}
	out := logs.String()
	if got := strings.Count(out, "msg=closed"); got != n {
		t.Errorf("%d closed lines, want %d", got, n)
	}
	if got := strings.Count(out, "reason=shutdown"); got != left {
		t.Errorf("%d sessions closed by the shutdown, want %d", got, left)
	}
}

// ParkReadsAndReceives is the parked session scenario, whatever carries
// the sessions: quiet, connected to srv (whose ParkAfter is short), parks;
// a call wakes it and is answered, it parks again, three times; then a
// client dialOther connects changes a shared object quiet has, and the
// change reaches quiet while it is parked. No session may close.
func ParkReadsAndReceives(t testing.TB, srv *rtmp.Server, logs *testutil.LogBuffer, quiet *rtmp.Client, dialOther func() *rtmp.Client) {
	t.Helper()
	ctx := testutil.Context(t, 60*time.Second)
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
	WaitParked(t, srv, 1)
	for i := range 3 {
		if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatalf("call %d to a parked session: %v", i, err)
		}
		WaitParked(t, srv, 1)
	}
	other := dialOther()
	oso := rtmp.NewSharedObject("park", false)
	if err := oso.Connect(ctx, other); err != nil {
		t.Fatal(err)
	}
	WaitParked(t, srv, 2)
	if err := oso.SetProperty("k", amf.String("from the other")); err != nil {
		t.Fatal(err)
	}
	waitSOValue(t, got, "from the other")
	if err := so.SetProperty("k", amf.String("mine")); err != nil {
		t.Fatal(err)
	}
	waitSOValue(t, got, "mine")
	if strings.Contains(logs.String(), "msg=closed") {
		t.Fatalf("a connection closed:\n%s", logs.String())
	}
}

// ParkPingAndIdleTimeout is the parked idle-timeout scenario, whatever
// carries the sessions: quiet and gone, both connected to srv (whose
// IdleTimeout is idle and whose ParkAfter is short), call once and park;
// freeze then stops gone's client from answering while leaving its
// connection open. gone's session must be ended by the idle timeout (not
// before half of it), and quiet's, whose client answers the server's
// pings, must stay for three idle timeouts and still answer a call.
func ParkPingAndIdleTimeout(t testing.TB, srv *rtmp.Server, logs *testutil.LogBuffer, idle time.Duration, quiet, gone *rtmp.Client, freeze func()) {
	t.Helper()
	ctx := testutil.Context(t, 60*time.Second)
	for _, c := range []*rtmp.Client{quiet, gone} {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	WaitParked(t, srv, 2)
	freeze()
	frozenAt := time.Now()
	testutil.WaitFor(t, 30*time.Second, "the frozen session closed", func() bool {
		return strings.Contains(logs.String(), "reason=timeout")
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
	if n := strings.Count(logs.String(), "reason=timeout"); n != 1 {
		t.Errorf("%d sessions closed for idleness, want the frozen one only", n)
	}
}

// waitSOValue waits until got, fed the values of a shared-object slot as
// they sync, brings want.
func waitSOValue(t testing.TB, got <-chan string, want string) {
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

// WaitClosedAlone waits, after bad's client sent bad input, until bad's
// session is closed, and checks that good's still answers and that one
// session only was closed (one closed line in logs).
func WaitClosedAlone(t testing.TB, logs *testutil.LogBuffer, bad, good *rtmp.Client) {
	t.Helper()
	ctx := testutil.Context(t, 60*time.Second)
	select {
	case <-bad.Done():
	case <-ctx.Done():
		t.Fatal("the session that sent bad input was not closed")
	}
	if _, err := good.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatalf("the other parked session: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "one closed line", func() bool {
		return strings.Count(logs.String(), "msg=closed") == 1
	})
}
