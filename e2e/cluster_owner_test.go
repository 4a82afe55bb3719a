//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/tunnel"
)

// ownerScript is the shared application of the one-owner scenarios: it
// reports application.clients.length, counts its RPCs (each traced once
// where it runs), and calls every client back on request.
const ownerScript = `
var rpcs = 0;
application.onConnect = function (client, who) {
	client.who = who;
	application.acceptConnection(client);
	trace("connected " + who + " clients " + application.clients.length);
};
Client.prototype.count = function () {
	rpcs++;
	trace("rpc " + rpcs + " from " + this.who);
	return application.clients.length;
};
Client.prototype.clients = function () {
	var names = [];
	for (var i = 0; i < application.clients.length; i++) names.push(application.clients[i].who);
	return names.join(",");
};
Client.prototype.callAll = function (text) {
	for (var i = 0; i < application.clients.length; i++) application.clients[i].call("hello", null, text, application.clients[i].who);
	return application.clients.length;
};
Client.prototype.echo = function (v) { return v; };
`

// ownerClient is one project client of the shared instance.
type ownerClient struct {
	name string
	node *clusterNode
	c    *rtmp.Client
	so   *soWatch
}

// writeOwnerApp installs the shared application on every node.
func writeOwnerApp(t *testing.T, nodes []*clusterNode, app string) {
	t.Helper()
	for _, nd := range nodes {
		nd.writeApp(t, app, map[string]string{"main.asc": ownerScript})
	}
}

// dialOwnerClient connects who to path on nd over proto (rtmp, rtmpt or
// rtmpws); who is the connect's extra argument, the name the script keeps.
// The client's shared object "room" is connected.
func dialOwnerClient(t *testing.T, ctx context.Context, nd *clusterNode, proto, path, who string) *ownerClient {
	t.Helper()
	cfg := rtmp.ClientConfig{}
	url := "rtmp://" + nd.rtmpAddr + "/" + path
	switch proto {
	case "rtmpt":
		dial, cleanup := tunnel.Dialer(soRTMPTConfig)
		t.Cleanup(cleanup)
		cfg.Dial = dial
		url = "rtmpt://" + nd.httpAddr + "/" + path
	case "rtmpws":
		cfg.Dial = bridge.DialFunc(bridge.DialConfig{})
		url = "rtmpws://" + nd.httpAddr + "/" + path
	}
	c, err := rtmp.Dial(ctx, url, cfg, amf.String(who))
	if err != nil {
		t.Fatalf("%s: connect %s: %v", who, url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w := watchSO("room", false)
	if err := w.so.Connect(ctx, c); err != nil {
		t.Fatalf("%s: shared object: %v", who, err)
	}
	return &ownerClient{name: who, node: nd, c: c, so: w}
}

func rpcNum(t *testing.T, ctx context.Context, c *rtmp.Client, method string, args ...amf.Value) float64 {
	t.Helper()
	res, err := c.Call(ctx, method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if len(res) == 0 {
		t.Fatalf("%s: no result", method)
	}
	return res[len(res)-1].Num()
}

// tracesOn counts trace lines containing text on every node.
func tracesOn(nodes []*clusterNode, text string) map[string]int {
	out := map[string]int{}
	for _, nd := range nodes {
		for _, tr := range nd.traces() {
			if strings.Contains(tr, text) {
				out[nd.tag]++
			}
		}
	}
	return out
}

func medianDuration(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// testOneOwner: acceptance "two clients on different nodes share one
// instance". A connects to node 1 over RTMP and loads the instance there
// (node 1 takes its lease); B connects to node 2 over RTMP, C to node 3
// over RTMPT and W to node 2 over WebSocket: all three are relayed to
// node 1. The script on node 1 sees all four in application.clients, shared-object changes and sends cross
// both ways, a server-to-client call reaches the relayed clients, and an
// RPC from a relayed client runs once.
func testOneOwner(t *testing.T, nodes []*clusterNode) {
	t.Helper()
	writeOwnerApp(t, nodes, "room")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	before := make([]clusterStats, len(nodes))
	for i, nd := range nodes {
		before[i] = getClusterStats(t, nd)
	}
	a := dialOwnerClient(t, ctx, nodes[0], "rtmp", "room/one", "A")
	b := dialOwnerClient(t, ctx, nodes[1], "rtmp", "room/one", "B")
	c := dialOwnerClient(t, ctx, nodes[2], "rtmpt", "room/one", "C")
	w := dialOwnerClient(t, ctx, nodes[1], "rtmpws", "room/one", "W")

	// application.clients: one instance, on node 1, with all four.
	if n := rpcNum(t, ctx, b.c, "count"); n != 4 {
		t.Errorf("application.clients.length seen by B's RPC = %v, want 4", n)
	}
	res, err := c.c.Call(ctx, "clients")
	if err != nil || len(res) == 0 {
		t.Fatalf("clients: %v %v", res, err)
	}
	if got := strings.Split(res[len(res)-1].Str(), ","); !slices.Equal(sorted(got), []string{"A", "B", "C", "W"}) {
		t.Errorf("application.clients = %v, want A, B, C and W", got)
	}
	for _, nd := range nodes[1:] {
		if n := len(nd.findLogs(func(l map[string]any) bool { return l["msg"] == "instance loaded" && l["app"] == "room" })); n != 0 {
			t.Errorf("node %s loaded room/one %d times: the instance must run on its owner only", nd.tag, n)
		}
	}

	// The RPC ran once, on the owner only.
	if got := tracesOn(nodes, "rpc 1 from B"); got[nodes[0].tag] != 1 || len(got) != 1 {
		t.Errorf("trace of B's RPC by node: %v, want once on %s", got, nodes[0].tag)
	}

	// Shared object: A (local) to B and C (relayed), and C back to A and B.
	if err := a.so.so.SetProperty("from_a", amf.String("hello")); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*ownerClient{b, c, w} {
		waitFor(t, 15*time.Second, o.name+" sees A's change", func() bool { return o.so.has("change", "from_a") })
	}
	if err := c.so.so.SetProperty("from_c", amf.Number(42)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "C's success", func() bool { return c.so.has("success", "from_c") })
	for _, o := range []*ownerClient{a, b, w} {
		waitFor(t, 15*time.Second, o.name+" sees C's change", func() bool { return o.so.has("change", "from_c") })
		if got := o.so.so.Get("from_c").Num(); got != 42 {
			t.Errorf("%s: from_c = %v, want 42", o.name, got)
		}
	}
	if err := b.so.so.Send("shout", amf.String("from B")); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*ownerClient{a, c, w} {
		waitFor(t, 15*time.Second, o.name+" gets B's send", func() bool { return o.so.nsends() > 0 })
	}

	// Server to client: the script calls every client back.
	if n := rpcNum(t, ctx, a.c, "callAll", amf.String("hi all")); n != 4 {
		t.Errorf("callAll reached %v clients, want 4", n)
	}
	for _, o := range []*ownerClient{a, b, c, w} {
		cmd := nextCall(t, ctx, o.c, "hello")
		if cmd.Arg(0).Str() != "hi all" || cmd.Arg(1).Str() != o.name {
			t.Errorf("%s got hello(%v, %v)", o.name, cmd.Arg(0), cmd.Arg(1))
		}
	}

	// What relaying adds to a call: the median round trip of an echo RPC
	// from B (relayed through node 2) against A's (node 1 itself).
	rtt := func(oc *ownerClient) time.Duration {
		var d []time.Duration
		for range 50 {
			start := time.Now()
			if _, err := oc.c.Call(ctx, "echo", amf.Number(1)); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		return medianDuration(d)
	}
	local, relayed := rtt(a), rtt(b)
	t.Logf("echo RPC median round trip: %v from A on the owner, %v from B relayed (added %v)", local, relayed, relayed-local)

	// Leaving: the relayed client's departure reaches the script.
	_ = b.c.Close()
	waitFor(t, 15*time.Second, "B gone from application.clients", func() bool {
		return rpcNum(t, ctx, a.c, "count") == 3
	})
	st2 := getClusterStats(t, nodes[1]).Cluster
	b2 := before[1].Cluster
	t.Logf("node 2 relayed (B and W) %d messages (%d payload bytes) up and %d (%d bytes) down",
		st2.SessionMessagesUp-b2.SessionMessagesUp, st2.SessionBytesUp-b2.SessionBytesUp,
		st2.SessionMessagesDown-b2.SessionMessagesDown, st2.SessionBytesDown-b2.SessionBytesDown)
	if st2.SessionsStarted-b2.SessionsStarted != 2 {
		t.Errorf("node 2 relayed %d sessions, want 2 (B and W)", st2.SessionsStarted-b2.SessionsStarted)
	}
	if st1 := getClusterStats(t, nodes[0]).Cluster; st1.OwnedStarted-before[0].Cluster.OwnedStarted != 3 {
		t.Errorf("node 1 ran %d relayed sessions, want 3 (B, C and W)", st1.OwnedStarted-before[0].Cluster.OwnedStarted)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// kill9 kills the node's process (SIGKILL): nothing is saved or released.
func (nd *clusterNode) kill9(t *testing.T) {
	t.Helper()
	nd.sigkilled.Store(true)
	if err := syscall.Kill(nd.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-nd.proc.done
}

// logged reports whether nd logged msg with the given attributes.
func (nd *clusterNode) logged(msg string, attrs map[string]string) bool {
	return len(nd.findLogs(func(l map[string]any) bool {
		if l["msg"] != msg {
			return false
		}
		for k, v := range attrs {
			if l[k] != v {
				return false
			}
		}
		return true
	})) > 0
}

// testOwnerKilled: acceptance "kill -9 of the instance-owning node". A
// (RTMP on node 1) loads room/fail there and sets a persistent shared
// object; B (RTMPT through the balancer) and C (RTMP on node 2) share the
// instance. Node 1 is killed: B and C see their connections close, the
// instance's lease expires (lease_ttl 5s), and clients reconnecting
// through the balancer and to node 2 find the instance again on node 2
// or 3, with the shared object's value. Node 1 stays dead: this runs last.
func testOwnerKilled(t *testing.T, nodes []*clusterNode, ttl time.Duration) {
	t.Helper()
	writeOwnerApp(t, nodes, "room")
	var ups []string
	for _, nd := range nodes {
		ups = append(ups, nd.httpAddr)
	}
	lb := startNginxRoundRobin(t, ups)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	a := dialOwnerClient(t, ctx, nodes[0], "rtmp", "room/fail", "A")
	if !nodes[0].logged("instance loaded", map[string]string{"app": "room", "instance": "fail"}) {
		t.Fatal("room/fail did not load on node 1, where A connected first")
	}
	c := dialOwnerClient(t, ctx, nodes[1], "rtmp", "room/fail", "C")
	b := dialLBClient(t, ctx, lb, "room/fail", "B")
	if n := rpcNum(t, ctx, b, "count"); n != 3 {
		t.Fatalf("application.clients.length = %v before the kill, want 3", n)
	}
	state := watchSO("state", true)
	if err := state.so.Connect(ctx, a.c); err != nil {
		t.Fatal(err)
	}
	if err := state.so.SetProperty("count", amf.Number(7)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "node 1 to save the shared object in the cluster", func() bool {
		return nodes[0].logged("shared object saved to the cluster", map[string]string{"so": "state"})
	})

	nodes[0].kill9(t)
	killed := time.Now()
	for _, cl := range []struct {
		name string
		c    *rtmp.Client
	}{{"B (RTMPT through the balancer)", b}, {"C (relayed from node 2)", c.c}} {
		select {
		case <-cl.c.Done():
			t.Logf("%s: connection closed %v after the kill", cl.name, time.Since(killed).Round(time.Millisecond))
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: still connected 30s after its instance's node died", cl.name)
		}
	}

	// Reconnect through the balancer until the instance runs again.
	var b2 *rtmp.Client
	attempts := 0
	for b2 == nil {
		if time.Since(killed) > 3*ttl+30*time.Second {
			t.Fatalf("no reconnect succeeded %v after the kill (%d attempts)", time.Since(killed), attempts)
		}
		attempts++
		dial, cleanup := tunnel.Dialer(soRTMPTConfig)
		cl, err := rtmp.Dial(ctx, tunnelURL("rtmpt", lb, "room", "fail"), rtmp.ClientConfig{Dial: dial}, amf.String("B2"))
		if err != nil {
			cleanup()
			time.Sleep(250 * time.Millisecond)
			continue
		}
		t.Cleanup(func() { _ = cl.Close(); cleanup() })
		b2 = cl
	}
	back := time.Since(killed)
	t.Logf("lease TTL %v: a client reconnected through the balancer %v after the kill (%d attempts)", ttl, back.Round(time.Millisecond), attempts)
	owner := ""
	for _, nd := range nodes[1:] {
		if nd.logged("instance loaded", map[string]string{"app": "room", "instance": "fail"}) {
			owner = nd.tag
		}
	}
	if owner == "" {
		t.Fatal("no surviving node loaded room/fail")
	}
	c2 := dialOwnerClient(t, ctx, nodes[1], "rtmp", "room/fail", "C2")
	if n := rpcNum(t, ctx, c2.c, "count"); n != 2 {
		t.Errorf("application.clients.length = %v on the new owner %s, want 2 (B2 and C2)", n, owner)
	}
	state2 := watchSO("state", true)
	if err := state2.so.Connect(ctx, b2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the persistent shared object's value on the new owner", func() bool {
		return state2.so.Get("count").Num() == 7
	})
	t.Logf("room/fail runs on %s with its persistent shared object", owner)
}

// dialLBClient connects who over RTMPT through the balancer at lb.
func dialLBClient(t *testing.T, ctx context.Context, lb, path, who string) *rtmp.Client {
	t.Helper()
	dial, cleanup := tunnel.Dialer(soRTMPTConfig)
	t.Cleanup(cleanup)
	app, inst, _ := strings.Cut(path, "/")
	c, err := rtmp.Dial(ctx, tunnelURL("rtmpt", lb, app, inst), rtmp.ClientConfig{Dial: dial}, amf.String(who))
	if err != nil {
		t.Fatalf("%s: connect through the balancer: %v", who, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testRelayedMedia: media through relayed sessions. A project client on
// node 1 makes node 1 the owner of room/_definst_; ffmpeg publishes to
// node 2 and two rtmpdump players play from node 3: all three sessions
// run on node 1, relayed, and the players decode >= 95%. The relayed
// bytes are logged: one copy per relayed client.
func testRelayedMedia(t *testing.T, nodes []*clusterNode) {
	t.Helper()
	requireEncoders(t, "libx264", "aac")
	writeOwnerApp(t, nodes, "room")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	before2, before3 := getClusterStats(t, nodes[1]).Cluster, getClusterStats(t, nodes[2]).Cluster
	_ = dialOwnerClient(t, ctx, nodes[0], "rtmp", "room", "owner")
	players := map[string]*player{
		"rtmpdump 1 relayed from node 3": startRtmpdumpPlayer(t, nodes[2].RTMPURL("room", "cam")),
		"rtmpdump 2 relayed from node 3": startRtmpdumpPlayer(t, nodes[2].RTMPURL("room", "cam")),
	}
	runPlayers(t, nodes, "cam", nodes[1].RTMPURL("room", "cam"), players)
	after2, after3 := getClusterStats(t, nodes[1]).Cluster, getClusterStats(t, nodes[2]).Cluster
	ran := func(nd *clusterNode, msg string) int {
		return len(nd.findLogs(func(l map[string]any) bool { return l["msg"] == msg && l["app"] == "room" && l["stream"] == "cam" }))
	}
	if n := ran(nodes[0], "publish start") + ran(nodes[0], "play start"); n != 3 {
		t.Errorf("node 1 started %d of the three streams, want all", n)
	}
	if n := after2.SessionsStarted - before2.SessionsStarted; n != 1 {
		t.Errorf("node 2 relayed %d sessions, want 1 (the publisher)", n)
	}
	if n := after3.SessionsStarted - before3.SessionsStarted; n != 2 {
		t.Errorf("node 3 relayed %d sessions, want 2 (the players)", n)
	}
	if n := ran(nodes[1], "publish start") + ran(nodes[2], "play start"); n != 0 {
		t.Errorf("nodes 2 and 3 ran %d of the relayed streams themselves", n)
	}
	t.Logf("publisher relayed by node 2: %d payload bytes up; two players relayed by node 3: %d payload bytes down",
		after2.SessionBytesUp-before2.SessionBytesUp, after3.SessionBytesDown-before3.SessionBytesDown)
}
