//go:build linux

package rtmp

import (
	"context"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
)

// waitParked waits until n connections of ts are parked.
func waitParked(t *testing.T, ts *testServer, n int) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, "connections parked", func() bool { return ts.srv.ParkedConns() == n })
}

// A quiet connection parks; a call wakes it and is answered; it parks
// again; a shared-object change made by another client reaches it while
// it is parked, and so does its own next change.
func TestParkedConnectionReadsAndReceives(t *testing.T) {
	ts := startServer(t, Config{ParkAfter: 50 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)

	quiet := dial(t, ts, "live", ClientConfig{})
	got := make(chan amf.Value, 16)
	so := NewSharedObject("park", false)
	so.OnSync = func(items []SyncItem) {
		for _, it := range items {
			if it.Name == "k" {
				got <- so.Get("k")
			}
		}
	}
	if err := so.Connect(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	waitParked(t, ts, 1)

	for i := range 3 {
		if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatalf("call %d to a parked connection: %v", i, err)
		}
		waitParked(t, ts, 1)
	}

	other := dial(t, ts, "live", ClientConfig{})
	oso := NewSharedObject("park", false)
	if err := oso.Connect(ctx, other); err != nil {
		t.Fatal(err)
	}
	waitParked(t, ts, 2)
	if err := oso.SetProperty("k", amf.String("from the other")); err != nil {
		t.Fatal(err)
	}
	waitValue(t, got, "from the other")
	// The quiet one stayed parked: its update was written without its
	// reader (the other one woke to send the change, then parked again).
	waitParked(t, ts, 2)
	if err := so.SetProperty("k", amf.String("mine")); err != nil {
		t.Fatal(err)
	}
	waitValue(t, got, "mine")
	if strings.Contains(ts.logs.String(), "closed") {
		t.Fatalf("a connection closed:\n%s", ts.logs.String())
	}
}

func waitValue(t *testing.T, got <-chan amf.Value, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case v := <-got:
			if v.Str() == want {
				return
			}
		case <-deadline:
			t.Fatalf("the parked client never saw %q", want)
		}
	}
}

// A parked connection is pinged before its idle deadline and answers (the
// answer wakes it), so it outlives several idle timeouts; a parked one
// whose peer stopped answering is closed at the deadline by the timer
// that stands in for its reader's.
func TestParkedConnectionPingAndIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	ts := startServer(t, Config{IdleTimeout: idle, ParkAfter: 50 * time.Millisecond})
	pingedAndFrozen(t, ts, idle, func() { waitParked(t, ts, 2) })
}

// Connections park and wake all the time (ParkAfter 1ms) while clients
// call, vanish, and the server shuts down with some of them parked: under
// the race detector, no connection is lost or woken twice, every one ends
// with one closed line, and goleak (TestMain) finds no goroutine left.
func TestParkChurnCloseAndShutdown(t *testing.T) {
	ts := startServer(t, Config{ParkAfter: time.Millisecond})
	ctx := testutil.Context(t, 60*time.Second)
	const n = 24
	var wg sync.WaitGroup
	clients := make([]*Client, n)
	for i := range n {
		clients[i] = dial(t, ts, "live", ClientConfig{})
	}
	for i, c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for k := range 20 {
				if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
					t.Errorf("client %d call %d: %v", i, k, err)
					return
				}
				time.Sleep(time.Duration(r.IntN(5)) * time.Millisecond)
			}
			if i%3 == 0 {
				_ = c.Close() // the server sees EOF, parked or not
			}
		})
	}
	wg.Wait()
	testutil.WaitFor(t, 20*time.Second, "closed clients gone", func() bool { return ts.srv.NumConns() == n-(n+2)/3 })
	waitParked(t, ts, n-(n+2)/3)

	// New connections take the descriptors of the closed ones while the
	// others sit parked.
	for range 4 {
		c := dial(t, ts, "live", ClientConfig{})
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitParked(t, ts, n-(n+2)/3+4)

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with parked connections: %v", err)
	}
	if got := ts.srv.NumConns(); got != 0 {
		t.Fatalf("%d connections left after shutdown", got)
	}
	logs := ts.logs.String()
	if got, want := strings.Count(logs, "msg=closed"), n+4; got != want {
		t.Errorf("%d closed lines, want %d", got, want)
	}
	if got, want := strings.Count(logs, "reason=shutdown"), n-(n+2)/3+4; got != want {
		t.Errorf("%d connections closed by the shutdown, want %d", got, want)
	}
}

// A connection ended by the server while parked (a final reply, as a
// script's disconnect sends) leaves the set before its socket closes,
// and the client sees the end.
func TestParkedConnectionEndedByServer(t *testing.T) {
	ts := startServer(t, Config{ParkAfter: 20 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)
	c := dial(t, ts, "live", ClientConfig{})
	if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatal(err)
	}
	waitParked(t, ts, 1)
	var sc *conn
	ts.srv.mu.Lock()
	for k := range ts.srv.conns {
		sc = k
	}
	ts.srv.mu.Unlock()
	sc.endAfterReply(withReason(ReasonDisconnected, errTestEnd))
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the client of a parked connection ended by the server saw no end")
	}
	testutil.WaitFor(t, 10*time.Second, "the connection gone", func() bool { return ts.srv.NumConns() == 0 })
	if got := ts.srv.ParkedConns(); got != 0 {
		t.Fatalf("%d connections still parked", got)
	}
}

var errTestEnd = &net.OpError{Op: "test", Err: context.Canceled}

// Parked connections hold no reader goroutine, and every one of them
// still answers.
func TestParkedConnectionsHoldNoReader(t *testing.T) {
	ts := startServer(t, Config{ParkAfter: 20 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)
	const n = 16
	clients := make([]*Client, n)
	for i := range clients {
		clients[i] = dial(t, ts, "live", ClientConfig{})
		if _, err := clients[i].Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitParked(t, ts, n)
	if got := testutil.Goroutines(t, "rtmp.(*conn).readLoop"); got != 0 {
		t.Fatalf("%d reader goroutines with all %d connections parked", got, n)
	}
	for i, c := range clients {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatalf("client %d after parking: %v", i, err)
		}
	}
}
