package cluster

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// TestTwoNodes runs the scenarios that need two nodes on one pair: each
// start of a JetStream cluster takes seconds.
func TestTwoNodes(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	t.Run("own one node at a time", func(t *testing.T) { testOwnOneNodeAtATime(t, nodes) })
	t.Run("relay link", func(t *testing.T) { testRelayLink(t, nodes) })
	t.Run("shared object store", func(t *testing.T) { testSharedObjectStore(t, nodes) })
}

// testOwnOneNodeAtATime: the first node to ask owns an instance, the
// other is told where it runs; two uses on the owner share the lease,
// which is free for the other node once the last use is released.
func testOwnOneNodeAtATime(t *testing.T, nodes []*Node) {
	t.Helper()
	n1, n2 := nodes[0], nodes[1]
	h1, err := n1.Own("room", "one")
	if err != nil || h1 == nil {
		t.Fatalf("n1 Own: %v, %v", h1, err)
	}
	h1b, err := n1.Own("room", "one")
	if err != nil {
		t.Fatalf("n1 second Own: %v", err)
	}
	_, err = n2.Own("room", "one")
	var ee *instance.ElsewhereError
	if !errors.As(err, &ee) || ee.Node != "n1" || !errors.Is(err, instance.ErrElsewhere) {
		t.Fatalf("n2 Own: %v, want ElsewhereError naming n1", err)
	}
	h1.Release()
	h1.Release() // a second release of one use changes nothing
	if _, err := n2.Own("room", "one"); !errors.As(err, &ee) {
		t.Fatalf("n2 Own with one use left on n1: %v, want ElsewhereError", err)
	}
	h1b.Release()
	// The release is a delete on the bucket's leader; n2 may read its own
	// replica a moment before the delete reaches it (KV gets are direct
	// reads, served by any replica), and then still sees n1. A lease that
	// was not released would stay n1's for the whole TTL (2 s here).
	var h2 instance.Hold
	deadline := time.Now().Add(time.Second)
	for {
		h2, err = n2.Own("room", "one")
		if err == nil || !errors.As(err, &ee) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("n2 Own after n1 released: %v", err)
	}
	if st := n2.Stats(); st.Instances != 1 {
		t.Errorf("n2 holds %d instance leases, want 1", st.Instances)
	}
	h2.Release()
}

// pipeServer is a VirtualServer whose sessions echo every message back
// with its type changed, so the test sees both directions.
type pipeServer struct {
	mu       sync.Mutex
	sessions []*echoSession
}

type echoSession struct {
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	ip     string
}

func (p *pipeServer) ServeVirtual(_ context.Context, _, ip string) (VirtualSession, error) {
	s := &echoSession{in: make(chan []byte, 16), closed: make(chan struct{}), ip: ip}
	p.mu.Lock()
	p.sessions = append(p.sessions, s)
	p.mu.Unlock()
	return s, nil
}

func (s *echoSession) Write(_ chunk.Header, p []byte) error {
	select {
	case s.in <- append([]byte(nil), p...):
		return nil
	case <-s.closed:
		return io.ErrClosedPipe
	}
}

func (s *echoSession) Read() (chunk.Header, []byte, error) {
	select {
	case p := <-s.in:
		return chunk.Header{CSID: 3, Type: 20}, p, nil
	case <-s.closed:
		return chunk.Header{}, nil, io.EOF
	}
}

func (s *echoSession) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// testRelayLink: a link carries the connect and later messages to the
// owner's session and that session's messages back in order; the client
// leaving ends the owner's session, and the owner's session ending ends
// the link.
func testRelayLink(t *testing.T, nodes []*Node) {
	t.Helper()
	edge, owner := nodes[0], nodes[1]
	ps := &pipeServer{}
	if err := owner.SetVirtualServer(ps); err != nil {
		t.Fatal(err)
	}
	ctx := testutil.Context(t, 30*time.Second)
	got := make(chan string, 16)
	ended := make(chan error, 1)
	// The owner's subscription reaches the edge's server over the route
	// a moment after SetVirtualServer: until then NATS has no responder.
	var l *Link
	var err error
	for {
		l, err = edge.Relay(ctx, "n2", LinkOpen{App: "room", Instance: "one", IP: "192.0.2.7", Proto: "rtmpt",
			ConnectHeader: chunk.Header{CSID: 3, Type: 20}, Connect: []byte("connect")},
			func(_ chunk.Header, p []byte) { got <- string(p) }, func(err error) { ended <- err })
		if err == nil || !errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b", "c"} {
		if err := l.Send(chunk.Header{CSID: 3, Type: 20}, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"connect", "a", "b", "c"} {
		select {
		case p := <-got:
			if p != want {
				t.Fatalf("got %q, want %q", p, want)
			}
		case <-ctx.Done():
			t.Fatalf("no %q back", want)
		}
	}
	ps.mu.Lock()
	s := ps.sessions[0]
	ps.mu.Unlock()
	if s.ip != "192.0.2.7" {
		t.Errorf("owner session's client address %q", s.ip)
	}
	l.Close()
	select {
	case <-s.closed:
	case <-ctx.Done():
		t.Fatal("the owner's session outlived its client")
	}
	select {
	case err := <-ended:
		t.Fatalf("end called after Close: %v", err)
	default:
	}

	// The owner's side ends: the edge hears it.
	l2, err := edge.Relay(ctx, "n2", LinkOpen{App: "room", Instance: "one", Proto: "rtmp",
		ConnectHeader: chunk.Header{CSID: 3, Type: 20}, Connect: []byte("connect")},
		func(chunk.Header, []byte) {}, func(err error) { ended <- err })
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	ps.mu.Lock()
	s2 := ps.sessions[1]
	ps.mu.Unlock()
	_ = s2.Close()
	select {
	case err := <-ended:
		t.Logf("edge told: %v", err)
	case <-ctx.Done():
		t.Fatal("the edge did not hear its owner's session end")
	}
	if st := owner.Stats(); st.OwnedStarted != 2 {
		t.Errorf("owner ran %d relayed sessions, want 2", st.OwnedStarted)
	}
}

// TestRelayToGoneNode: a link to a node with no subscriber fails at once.
func TestRelayToGoneNode(t *testing.T) {
	n := startNodes(t, 1, nil)[0]
	ctx := testutil.Context(t, 30*time.Second)
	_, err := n.Relay(ctx, "n9", LinkOpen{ConnectHeader: chunk.Header{CSID: 3, Type: 20}},
		func(chunk.Header, []byte) {}, func(error) {})
	if err == nil {
		t.Fatal("relay to a node that does not exist succeeded")
	}
}

// TestLeaseFencedBeforeExpiry: a holder cut off from NATS gives its lease
// up before the key can expire, so at the moment it stops the other node
// still finds the lease held; once the key expires the other node takes it.
func TestLeaseFencedBeforeExpiry(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	n1, n2 := nodes[0], nodes[1]
	ctx := testutil.Context(t, 60*time.Second)
	h, err := n1.Own("room", "fenced")
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	n1.nc.Close() // n1 can no longer renew; its server and the bucket live on
	select {
	case <-h.Lost():
	case <-ctx.Done():
		t.Fatal("the cut-off holder never gave its lease up")
	}
	fenced := time.Since(cut)
	_, err = n2.Own("room", "fenced")
	if !errors.Is(err, instance.ErrElsewhere) {
		t.Fatalf("when the holder stopped, the other node got %v: the lease must still be held", err)
	}
	var h2 instance.Hold
	for h2 == nil && ctx.Err() == nil {
		if h2, err = n2.Own("room", "fenced"); err != nil {
			h2 = nil
			time.Sleep(100 * time.Millisecond)
		}
	}
	if h2 == nil {
		t.Fatalf("the lease never expired for the other node: %v", err)
	}
	t.Logf("TTL %v: the cut-off holder stopped after %v, the other node took over after %v",
		n1.cfg.LeaseTTL, fenced.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond))
	h2.Release()
}

// BenchmarkLinkRoundTrip: one relayed message to the owner's session and
// its answer back (the session echoes): what relaying adds to a call,
// without the RTMP session's own work.
func BenchmarkLinkRoundTrip(b *testing.B) {
	nodes := startNodes(b, 2, nil)
	if err := nodes[1].SetVirtualServer(&pipeServer{}); err != nil {
		b.Fatal(err)
	}
	ctx := testutil.Context(b, 60*time.Second)
	back := make(chan struct{}, 1)
	var l *Link
	testutil.WaitFor(b, 20*time.Second, "the link subject to reach node 2", func() bool {
		var err error
		l, err = nodes[0].Relay(ctx, "n2", LinkOpen{ConnectHeader: chunk.Header{CSID: 3, Type: 20}, Connect: []byte("c")},
			func(chunk.Header, []byte) { back <- struct{}{} }, func(error) {})
		return err == nil
	})
	defer l.Close()
	<-back                    // the connect's echo
	call := make([]byte, 200) // an RPC with a few arguments
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Send(chunk.Header{CSID: 3, Type: 20}, call); err != nil {
			b.Fatal(err)
		}
		<-back
	}
}
