package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server's and nats.go's process-wide helpers outlive a server.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNodes starts n embedded nodes routed to each other, in parallel
// (JetStream needs a majority before any of them finishes starting).
// startRelayPair starts two nodes, each with a registry observed by the
// cluster, and publishes "cam" on node 1; node 2's registry is where a
// relayed player subscribes. All of it closes at the test's cleanup.
func startRelayPair(t testing.TB) (nodes []*Node, edge *media.Registry, pub *media.Publication) {
	t.Helper()
	nodes = startNodes(t, 2, nil)
	origin := media.NewRegistry(media.Config{}, nil)
	edge = media.NewRegistry(media.Config{}, nil)
	origin.SetObserver(nodes[0].StreamObserver("live", "_definst_", origin))
	edge.SetObserver(nodes[1].StreamObserver("live", "_definst_", edge))
	t.Cleanup(origin.Close)
	t.Cleanup(edge.Close)
	pub, err := origin.Publish("cam")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	return nodes, edge, pub
}

func startNodes(t testing.TB, count int, tweak func(*Config)) []*Node {
	t.Helper()
	ports := make([]int, count)
	routes := make([]string, count)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = "127.0.0.1:" + strconv.Itoa(ports[i])
	}
	nodes := make([]*Node, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		cfg := Config{Enabled: true, StoreDir: t.TempDir(), LeaseTTL: 2 * time.Second, RelayIdle: time.Second,
			StartTimeout: 90 * time.Second, Replicas: count}
		if count > 1 {
			cfg.RouteListen = routes[i]
			cfg.Routes = routes
		}
		if tweak != nil {
			tweak(&cfg)
		}
		log, _ := testutil.Logger(t, slog.LevelInfo)
		wg.Go(func() { nodes[i], errs[i] = Start(t.Context(), cfg, "n"+strconv.Itoa(i+1), log) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, n := range nodes {
				if n != nil {
					n.Close()
				}
			}
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	return nodes
}

func TestLeaseExclusiveAndReleased(t *testing.T) {
	n := startNodes(t, 1, nil)[0]
	ctx := testutil.Context(t, 30*time.Second)
	l, err := n.Acquire(ctx, n.leases, "live._definst_")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Acquire(ctx, n.leases, "live._definst_"); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}
	// Renewals keep it past several TTLs.
	time.Sleep(3 * n.cfg.LeaseTTL)
	select {
	case <-l.Lost():
		t.Fatal("lease lost while renewed")
	default:
	}
	if _, err := n.Acquire(ctx, n.leases, "live._definst_"); !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire after 3 TTLs: %v, want ErrHeld", err)
	}
	l.Release()
	l2, err := n.Acquire(ctx, n.leases, "live._definst_")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestLeaseExpiresWithoutRenewal(t *testing.T) {
	n := startNodes(t, 1, nil)[0]
	ctx := testutil.Context(t, 30*time.Second)
	// A holder that died: the key written once, never renewed.
	if _, err := n.leases.Create(ctx, "dead", []byte("n9")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Acquire(ctx, n.leases, "dead"); !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire of a fresh key: %v, want ErrHeld", err)
	}
	var l *Lease
	testutil.WaitFor(t, 10*n.cfg.LeaseTTL, "the dead holder's lease to expire", func() bool {
		var err error
		l, err = n.Acquire(ctx, n.leases, "dead")
		return err == nil
	})
	l.Release()
}

func TestNodeTagLeaseHeld(t *testing.T) {
	n := startNodes(t, 1, nil)[0]
	ctx := testutil.Context(t, 30*time.Second)
	// Another process claiming the same tag meets the lease (and Start
	// keeps retrying until cluster.start_timeout, then fails).
	_, err := n.Acquire(ctx, n.nodes, n.tag)
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("node tag lease: %v, want ErrHeld", err)
	}
}

func TestForwardReachesOwnerAndMissingNodeIs404(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	if err := nodes[1].ServeTunnel(func(path string, body []byte) (int, []byte) {
		return http.StatusOK, []byte(path + ":" + string(body))
	}); err != nil {
		t.Fatal(err)
	}
	ctx := testutil.Context(t, 30*time.Second)
	var status int
	var resp []byte
	// Subscription interest crosses the route asynchronously.
	testutil.WaitFor(t, 20*time.Second, "the forward subject to reach node 1", func() bool {
		var err error
		status, resp, err = nodes[0].Forward(ctx, "n2", "/idle/n2-X/3", []byte{0})
		return err == nil && status == http.StatusOK
	})
	if want := "/idle/n2-X/3:\x00"; string(resp) != want {
		t.Fatalf("resp %q, want %q", resp, want)
	}
	status, _, _ = nodes[0].Forward(ctx, "n7", "/idle/n7-X/3", []byte{0})
	if status != http.StatusNotFound {
		t.Fatalf("forward to a missing node: %d, want 404", status)
	}
}

// TestRelayOneCopyPerNode: a stream published on node 1 plays on node 2;
// two players there share one relay, and node 1 sends one feed.
func TestRelayOneCopyPerNode(t *testing.T) {
	nodes, reg2, pub := startRelayPair(t)
	meta := &media.Packet{Kind: media.Data, Payload: []byte("\x02\x00\x0aonMetaData\x05")}
	pub.SetMetadata(meta)
	subA := reg2.Subscribe("cam", media.SubscribeOptions{})
	defer subA.Close()
	subB := reg2.Subscribe("cam", media.SubscribeOptions{})
	defer subB.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint32(0); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			// AVC keyframe then inter frames: 0x17 / 0x27, NALU packet type 1.
			b := []byte{0x27, 1, 0, 0, 0, byte(i)}
			if i%10 == 0 {
				b[0] = 0x17
			}
			pub.Write(&media.Packet{Kind: media.Video, Time: i * 20, Payload: b})
		}
	})
	defer func() { close(stop); wg.Wait() }()

	for _, sub := range []*media.Subscriber{subA, subB} {
		var got int
		var sawMeta bool
		deadline := time.After(60 * time.Second)
		for got < 20 {
			select {
			case <-sub.Ready():
				for _, ev := range sub.Drain(nil) {
					if ev.Type != media.EventPacket {
						continue
					}
					if ev.Packet.Kind == media.Data {
						sawMeta = true
					} else {
						got++
					}
				}
			case <-deadline:
				t.Fatalf("player on node 2 got %d video messages, want 20", got)
			}
		}
		if !sawMeta {
			t.Error("player on node 2 got no onMetaData")
		}
	}
	s1, s2 := nodes[0].Stats(), nodes[1].Stats()
	if s1.FeedsStarted != 1 || s2.RelaysStarted != 1 || s2.Relays != 1 {
		t.Fatalf("node 1 %+v, node 2 %+v: want one feed and one relay for two players", s1, s2)
	}
	// The last player leaves: the relay and the feed end after RelayIdle.
	subA.Close()
	subB.Close()
	testutil.WaitFor(t, 30*time.Second, "the relay and the feed to end", func() bool {
		return nodes[0].Stats().Feeds == 0 && nodes[1].Stats().Relays == 0
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Enabled: true, Name: "a.b"},
		{Enabled: true, Replicas: 6},
		{Enabled: true, LeaseTTL: time.Millisecond},
		{Enabled: true, URL: "nats://x", Routes: []string{"y:1"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", c)
		}
	}
	if err := (Config{Name: "a.b"}).Validate(); err != nil {
		t.Errorf("disabled config: %v", err)
	}
}

// BenchmarkForward is the latency a forwarded RTMPT poll adds: one NATS
// request/reply between two routed embedded servers, a 1400-byte body.
func BenchmarkForward(b *testing.B) {
	nodes := startNodes(b, 2, nil)
	if err := nodes[1].ServeTunnel(func(_ string, body []byte) (int, []byte) { return http.StatusOK, body[:1] }); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body := make([]byte, 1400)
	testutil.WaitFor(b, 20*time.Second, "the forward subject to reach node 2", func() bool {
		st, _, err := nodes[0].Forward(ctx, "n2", "/idle/n2-X/1", body)
		return err == nil && st == http.StatusOK
	})
	b.ReportAllocs()
	for b.Loop() {
		if st, _, err := nodes[0].Forward(ctx, "n2", "/idle/n2-X/1", body); err != nil || st != http.StatusOK {
			b.Fatal(st, err)
		}
	}
}
