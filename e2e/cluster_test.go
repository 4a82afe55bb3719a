//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/cluster"
	"github.com/openfcs/openfcs/tunnel"
)

// clusterNode is one openfcs process of a test cluster.
type clusterNode struct {
	*server
	tag string
}

// startCluster runs n openfcs processes as one cluster: embedded NATS
// routed between them, key-value buckets on every node, tags n1..nN. They
// are launched together, since each waits for a JetStream majority.
func startCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		tag := "n" + strconv.Itoa(i+1)
		cfg := fmt.Sprintf(`listen:
  exempt_loopback: true
tunnel:
  node_tag: %s
cluster:
  enabled: true
  route_listen: %s
  routes: [%s]
  replicas: %d
  store_dir: %s
  lease_ttl: 5s
  start_timeout: 2m
`, tag, routes[i], strings.Join(routes, ", "), n, filepath.Join(t.TempDir(), "nats"))
		nodes[i] = &clusterNode{server: launchServer(t, serverOpts{Config: cfg}), tag: tag}
	}
	for _, nd := range nodes {
		nd.awaitStarted(t, 150*time.Second)
	}
	return nodes
}

// clusterStats is what the tests read of a cluster node's admin server
// view (GET /admin/api/v1/server).
type clusterStats struct {
	Tunnel  tunnel.Stats   `json:"rtmpt"`
	Cluster *cluster.Stats `json:"cluster"`
}

func getClusterStats(t testing.TB, nd *clusterNode) clusterStats {
	t.Helper()
	var s clusterStats
	nd.adminJSON(t, "/admin/api/v1/server", &s)
	if s.Cluster == nil {
		t.Fatalf("node %s: the admin server view has no cluster section", nd.tag)
	}
	return s
}

// playStarts counts `play start` lines for stream over the nodes.
func playStarts(nodes []*clusterNode, stream string) int {
	n := 0
	for _, nd := range nodes {
		n += len(nd.findLogs(func(l map[string]any) bool { return l["msg"] == "play start" && l["stream"] == stream }))
	}
	return n
}

// checkAtLeast95 is the cluster acceptance bar: every player decodes at
// least 95% of the published video and audio frames.
func checkAtLeast95(t *testing.T, who string, got, published *mediaInfo) {
	t.Helper()
	checkReceived(t, who, got, published, "h264", "aac")
	for _, kind := range []string{"video", "audio"} {
		s, want := got.stream(kind), published.frames(kind)
		if s != nil && float64(s.Frames) < 0.95*float64(want) {
			t.Errorf("%s: decoded %d %s frames, want >= 95%% of %d", who, s.Frames, kind, want)
		}
	}
}

// runPlayers: the players wait on stream, ffmpeg publishes to pubURL for
// publishTime, every player must decode >= 95%.
func runPlayers(t *testing.T, nodes []*clusterNode, stream, pubURL string, players map[string]*player) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d `play start` lines for %s", len(players), stream), func() bool {
		return playStarts(nodes, stream) >= len(players)
	})
	pub := startPublisher(t, pubURL, codecArgs{Video: h264NoB, Audio: aacAudio}, publishTime)
	pub.finish(t, publishTime+90*time.Second)
	for _, p := range players {
		p.end(t, 15*time.Second)
	}
	published := probe(t, pub.copyPath)
	t.Logf("published over %s: %d video, %d audio frames", scheme(pubURL), published.frames("video"), published.frames("audio"))
	for who, p := range players {
		checkAtLeast95(t, who, probe(t, p.out), published)
	}
}

// nginxRoundRobin is nginx as a plain round-robin balancer over the
// nodes' HTTP ports: no affinity of any kind, each request goes to the
// next node.
const nginxRoundRobin = `worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 512; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream openfcs {
%[2]s		keepalive 16;
	}
	server {
		listen 127.0.0.1:%[3]d;
		keepalive_requests 10000000;
		keepalive_timeout 75s;
		location / {
			proxy_pass http://openfcs;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_request_buffering off;
			client_max_body_size 8m;
		}
	}
}
`

// startNginxRoundRobin runs Debian's nginx balancing over upstreams.
func startNginxRoundRobin(t testing.TB, upstreams []string) string {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		t.Fatalf("nginx is not installed: run scripts/deps.sh (make test does)")
	}
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "\t\tserver %s;\n", u)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxRoundRobin, dir, servers.String(), port)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, procOpts{}, "/usr/sbin/nginx", "-p", dir, "-c", conf, "-g", "daemon off;")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, 10*time.Second, "nginx to accept connections", func() bool {
		if p.exited() {
			t.Fatalf("nginx exited: %v\n%s", p.err, p.stderr.String())
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return addr
}

// TestCluster runs three openfcs nodes as one cluster.
//
// "stream across nodes": ffmpeg publishes over RTMP to node 1, two
// rtmpdump players play from node 3; both decode >= 95%, node 3 runs one
// relay for them and node 1 sends one feed whose bytes node 3 receives:
// one copy per stream between the nodes, not one per player.
//
// "rtmpt through a round-robin balancer": nginx balances over the three
// HTTP ports without affinity; ffmpeg publishes over rtmpt:// through it,
// two rtmpdump players play over rtmpt:// through it and decode >= 95%,
// every node received tunnel requests from nginx, and some were
// forwarded to the sessions' nodes and served there.
//
// Not parallel: three servers with JetStream, nginx, ffmpeg and rtmpdump
// load the machine.
func TestCluster(t *testing.T) {
	requireEncoders(t, "libx264", "aac")
	nodes := startCluster(t, 3)

	t.Run("stream across nodes", func(t *testing.T) {
		before1, before3 := getClusterStats(t, nodes[0]).Cluster, getClusterStats(t, nodes[2]).Cluster
		players := map[string]*player{
			"rtmpdump 1 on node 3": startRtmpdumpPlayer(t, nodes[2].RTMPURL("live", "across")),
			"rtmpdump 2 on node 3": startRtmpdumpPlayer(t, nodes[2].RTMPURL("live", "across")),
		}
		runPlayers(t, nodes, "across", nodes[0].RTMPURL("live", "across"), players)
		after1, after3 := getClusterStats(t, nodes[0]).Cluster, getClusterStats(t, nodes[2]).Cluster
		feeds, relays := after1.FeedsStarted-before1.FeedsStarted, after3.RelaysStarted-before3.RelaysStarted
		if feeds != 1 || relays != 1 {
			t.Errorf("node 1 started %d feeds, node 3 %d relays for two players: want one each", feeds, relays)
		}
		sent, got := after1.FeedBytes-before1.FeedBytes, after3.RelayBytes-before3.RelayBytes
		t.Logf("node 1 -> node 3: %d payload bytes sent, %d received", sent, got)
		if sent == 0 || got != sent {
			t.Errorf("node 1 sent %d bytes, node 3 received %d: want one equal, non-zero copy", sent, got)
		}
	})

	t.Run("rtmpt through a round-robin balancer", func(t *testing.T) {
		var ups []string
		before := make([]tunnel.Stats, len(nodes))
		for i, nd := range nodes {
			ups = append(ups, nd.httpAddr)
			before[i] = getClusterStats(t, nd).Tunnel
		}
		lb := startNginxRoundRobin(t, ups)
		players := map[string]*player{
			"rtmpdump 1 rtmpt via balancer": startRtmpdumpPlayer(t, tunnelURL("rtmpt", lb, "live", "lb")),
			"rtmpdump 2 rtmpt via balancer": startRtmpdumpPlayer(t, tunnelURL("rtmpt", lb, "live", "lb")),
		}
		runPlayers(t, nodes, "lb", tunnelURL("rtmpt", lb, "live", "lb"), players)
		// Every node gets polls. A node forwards those of sessions it
		// does not hold; when all three sessions' /open landed on one node
		// (the balancer's turn is shared with the polls, so that happens),
		// that node forwards none: forwarding is counted over the cluster.
		var fwd, fwdIn uint64
		for i, nd := range nodes {
			st := getClusterStats(t, nd).Tunnel
			req, f := st.Requests-before[i].Requests, st.Forwarded-before[i].Forwarded
			fwd += f
			fwdIn += st.ForwardedIn - before[i].ForwardedIn
			t.Logf("node %s: %d tunnel requests from the balancer, %d forwarded to another node", nd.tag, req, f)
			if req == 0 {
				t.Errorf("node %s: no request from the balancer: want polls on every node", nd.tag)
			}
		}
		if fwd == 0 || fwdIn == 0 {
			t.Errorf("%d requests forwarded, %d served for another node: want some of each", fwd, fwdIn)
		}
	})

	t.Run("one instance, one owner", func(t *testing.T) { testOneOwner(t, nodes) })
	t.Run("media through relayed sessions", func(t *testing.T) { testRelayedMedia(t, nodes) })
	// Last: node 1 stays dead.
	t.Run("owner killed", func(t *testing.T) { testOwnerKilled(t, nodes, 5*time.Second) })
}
