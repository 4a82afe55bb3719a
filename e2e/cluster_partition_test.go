//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp"
)

// netLab is a network made of namespaces for one test: each node has its
// own namespace with two links. Its cluster link (198.18.7.<i>/24) goes
// to a bridge in a hub namespace, where the other nodes' links are too;
// its client link (198.19.<i>.2/30) is a veth pair to the test's own
// namespace (198.19.<i>.1). Cutting a node's cluster link at the hub
// partitions it from the other nodes while the test still reaches it.
// The addresses are from the benchmarking range (RFC 2544) and exist only
// on these virtual links: nothing leaves the host.
type netLab struct {
	t      *testing.T
	prefix string // of interface and namespace names, unique per test process
	n      int
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetLab builds the namespaces of n nodes. It needs root (CAP_NET_ADMIN)
// and iproute2; without them the test fails, it is not skipped.
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the partition test makes network namespaces: it must run as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is not installed: run scripts/deps.sh")
	}
	l := &netLab{t: t, prefix: "of" + strconv.Itoa(os.Getpid()%100000), n: n}
	hub := l.prefix + "h"
	ipCmd(t, "netns", "add", hub)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", hub).Run() })
	ipCmd(t, "-n", hub, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", hub, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		ns, c, k, r, s := l.ns(i), l.name("c", i), l.name("k", i), l.name("r", i), l.name("s", i)
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		// Cluster link: node <-> hub bridge.
		ipCmd(t, "link", "add", c, "type", "veth", "peer", "name", k)
		ipCmd(t, "link", "set", c, "netns", ns)
		ipCmd(t, "link", "set", k, "netns", hub)
		ipCmd(t, "-n", ns, "addr", "add", fmt.Sprintf("198.18.7.%d/24", i), "dev", c)
		ipCmd(t, "-n", ns, "link", "set", c, "up")
		ipCmd(t, "-n", hub, "link", "set", k, "master", "br0")
		ipCmd(t, "-n", hub, "link", "set", k, "up")
		// Client link: the test's namespace <-> node.
		ipCmd(t, "link", "add", r, "type", "veth", "peer", "name", s)
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", r).Run() })
		ipCmd(t, "link", "set", s, "netns", ns)
		ipCmd(t, "addr", "add", fmt.Sprintf("198.19.%d.1/30", i), "dev", r)
		ipCmd(t, "link", "set", r, "up")
		ipCmd(t, "-n", ns, "addr", "add", fmt.Sprintf("198.19.%d.2/30", i), "dev", s)
		ipCmd(t, "-n", ns, "link", "set", s, "up")
	}
	return l
}

func (l *netLab) ns(i int) string                { return l.prefix + "n" + strconv.Itoa(i) }
func (l *netLab) name(kind string, i int) string { return l.prefix + kind + strconv.Itoa(i) }
func (l *netLab) clusterAddr(i int) string       { return fmt.Sprintf("198.18.7.%d", i) }
func (l *netLab) clientAddr(i int) string        { return fmt.Sprintf("198.19.%d.2", i) }

// cut takes node i's cluster link down at the hub: the node and the
// others no longer reach each other; the test still reaches every node.
func (l *netLab) cut(i int) { ipCmd(l.t, "-n", l.prefix+"h", "link", "set", l.name("k", i), "down") }

// heal brings node i's cluster link back.
func (l *netLab) heal(i int) { ipCmd(l.t, "-n", l.prefix+"h", "link", "set", l.name("k", i), "up") }

// startLabCluster runs one openfcs node in each of the lab's namespaces,
// routed to each other over the cluster links.
func startLabCluster(t *testing.T, l *netLab, ttl time.Duration) []*clusterNode {
	t.Helper()
	var routes []string
	for i := 1; i <= l.n; i++ {
		routes = append(routes, l.clusterAddr(i)+":6222")
	}
	nodes := make([]*clusterNode, l.n)
	for i := range nodes {
		tag := "n" + strconv.Itoa(i+1)
		cfg := fmt.Sprintf(`tunnel:
  node_tag: %s
cluster:
  enabled: true
  route_listen: %s
  routes: [%s]
  replicas: %d
  store_dir: %s
  lease_ttl: %v
  start_timeout: 2m
`, tag, routes[i], strings.Join(routes, ", "), l.n, filepath.Join(t.TempDir(), "nats"), ttl)
		nodes[i] = &clusterNode{server: launchServer(t, serverOpts{Config: cfg, NetNS: l.ns(i + 1), Host: l.clientAddr(i + 1)}), tag: tag}
	}
	for _, nd := range nodes {
		nd.awaitStarted(t, 150*time.Second)
	}
	return nodes
}

// runSpan is one time an instance ran on a node, from its log.
type runSpan struct {
	node       string
	start, end time.Time // end zero: still running
}

// instanceSpans reads from the nodes' logs when app/inst ran where.
func instanceSpans(t *testing.T, nodes []*clusterNode, app, inst string) []runSpan {
	t.Helper()
	var spans []runSpan
	for _, nd := range nodes {
		var open *runSpan
		for _, l := range nd.findLogs(func(l map[string]any) bool {
			return l["app"] == app && l["instance"] == inst && (l["msg"] == "instance loaded" || l["msg"] == "instance unloaded")
		}) {
			ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
			if err != nil {
				t.Fatalf("log time %v: %v", l["time"], err)
			}
			if l["msg"] == "instance loaded" {
				spans = append(spans, runSpan{node: nd.tag, start: ts})
				open = &spans[len(spans)-1]
			} else if open != nil {
				open.end = ts
				open = nil
			}
		}
	}
	return spans
}

// checkNoOverlap fails if app/inst ran on two nodes at one moment.
func checkNoOverlap(t *testing.T, spans []runSpan) {
	t.Helper()
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.node == b.node {
				continue
			}
			aEnd, bEnd := a.end, b.end
			if aEnd.IsZero() {
				aEnd = time.Now().Add(time.Hour)
			}
			if bEnd.IsZero() {
				bEnd = time.Now().Add(time.Hour)
			}
			if a.start.Before(bEnd) && b.start.Before(aEnd) {
				t.Errorf("the instance ran on %s (%v to %v) and %s (%v to %v) at once", a.node,
					a.start.Format(time.StampMilli), a.end.Format(time.StampMilli), b.node,
					b.start.Format(time.StampMilli), b.end.Format(time.StampMilli))
			}
		}
	}
}

// TestClusterPartition: acceptance "a network partition between nodes
// leaves no instance running on two nodes at once". Three nodes, each in
// a network namespace of its own; room/split loads on node 1, a client
// on node 2 shares it. Node 1's cluster link is cut: node 1, alone, can
// no longer renew the instance's lease and stops the instance (its client
// is closed) a quarter of the TTL before the lease can expire; only then
// does the majority side load it, when a client asks node 2. While cut,
// node 1 refuses clients of the instance. Healed, node 1 relays its new
// clients to the owner, so a client of each node shares one instance
// (the healing's leader elections may move it once more, after the
// heal). The nodes' logs show the instance's run on each node; no two
// overlap.
func TestClusterPartition(t *testing.T) {
	const ttl = 5 * time.Second
	lab := newNetLab(t, 3)
	nodes := startLabCluster(t, lab, ttl)
	writeOwnerApp(t, nodes, "room")
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	a := dialOwnerClient(t, ctx, nodes[0], "rtmp", "room/split", "A")
	c := dialOwnerClient(t, ctx, nodes[1], "rtmp", "room/split", "C")
	if n := rpcNum(t, ctx, c.c, "count"); n != 2 {
		t.Fatalf("application.clients.length = %v, want 2", n)
	}
	if !nodes[0].logged("instance loaded", map[string]string{"app": "room", "instance": "split"}) {
		t.Fatal("room/split did not load on node 1, where A connected first")
	}

	lab.cut(1)
	cut := time.Now()
	waitFor(t, 60*time.Second, "node 1 to stop room/split after losing its lease", func() bool {
		return nodes[0].logged("instance unloaded", map[string]string{"app": "room", "instance": "split"})
	})
	t.Logf("lease TTL %v: node 1, cut off, stopped the instance %v after the cut", ttl, time.Since(cut).Round(time.Millisecond))
	select {
	case <-a.c.Done():
	case <-time.After(15 * time.Second):
		t.Error("A, the fenced instance's client on node 1, is still connected")
	}
	// The minority side cannot take the instance.
	if cl, err := rtmp.Dial(ctx, "rtmp://"+nodes[0].rtmpAddr+"/room/split", rtmp.ClientConfig{}, amf.String("X")); err == nil {
		_ = cl.Close()
		t.Error("node 1, cut off from the majority, admitted a client of room/split")
	}

	// The majority side takes it over once the lease has expired.
	var d *ownerClient
	var attempts int
	for d == nil {
		if time.Since(cut) > 2*time.Minute {
			t.Fatalf("no node of the majority side ran room/split 2 minutes after the cut (%d attempts)", attempts)
		}
		attempts++
		cl, err := rtmp.Dial(ctx, "rtmp://"+nodes[1].rtmpAddr+"/room/split", rtmp.ClientConfig{}, amf.String("D"))
		if err != nil {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		t.Cleanup(func() { _ = cl.Close() })
		d = &ownerClient{name: "D", node: nodes[1], c: cl}
	}
	t.Logf("a client of node 2 was admitted %v after the cut (%d attempts)", time.Since(cut).Round(time.Millisecond), attempts)

	healed := time.Now()
	lab.heal(1)
	// Healed: node 1 relays to the owner instead of loading room/split on
	// its own. The healing itself can move the instance once more: while
	// JetStream elects its leaders again no lease can be renewed, and the
	// owner fences itself (docs/cluster.md#partitions). Clients then do
	// what real ones do after NetConnection.Connect.AppShutdown: connect
	// again. What must hold is one instance for D (node 2) and E (node 1).
	redial := func(nd *clusterNode, name string, cl *rtmp.Client) *rtmp.Client {
		if cl != nil {
			select {
			case <-cl.Done():
			default:
				return cl
			}
		}
		cl, err := rtmp.Dial(ctx, "rtmp://"+nd.rtmpAddr+"/room/split", rtmp.ClientConfig{}, amf.String(name))
		if err != nil {
			return nil
		}
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}
	dc, e := d.c, (*rtmp.Client)(nil)
	var count float64
	waitFor(t, 90*time.Second, "D on node 2 and E on node 1 in one room/split after healing", func() bool {
		if dc = redial(nodes[1], "D", dc); dc == nil {
			return false
		}
		if e = redial(nodes[0], "E", e); e == nil {
			return false
		}
		res, err := e.Call(ctx, "count")
		if err != nil || len(res) == 0 {
			return false
		}
		count = res[len(res)-1].Num()
		return count == 2
	})
	t.Logf("after healing: application.clients.length = %v", count)
	spans := instanceSpans(t, nodes, "room", "split")
	for _, s := range spans {
		t.Logf("room/split ran on %s from %s to %s", s.node, s.start.Format(time.StampMilli), s.end.Format(time.StampMilli))
	}
	if len(spans) < 2 {
		t.Errorf("room/split ran %d times, want node 1 before the cut and one node of the majority after", len(spans))
	}
	// Node 1 alone before the cut, the majority's node after it; a third
	// run only after the healing's elections.
	if len(spans) > 2 {
		slices.SortFunc(spans, func(a, b runSpan) int { return a.start.Compare(b.start) })
		for _, s := range spans[2:] {
			if s.start.Before(healed) {
				t.Errorf("room/split ran on %s from %s, before the partition healed", s.node, s.start.Format(time.StampMilli))
			}
		}
	}
	checkNoOverlap(t, spans)
}
