//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
)

// Flash Remoting from application scripts (docs/remoting.md) against a
// node gateway whose AMF comes from bytearray-node, not from the server's
// amf package: e2e/remoting-gateway/gateway.js.

// gatewayRequest is one request as the node gateway logged it.
type gatewayRequest struct {
	Path        string         `json:"path"`
	Query       string         `json:"query"`
	ContentType string         `json:"contentType"`
	Version     int            `json:"version"`
	Headers     map[string]any `json:"headers"`
	Calls       []struct {
		Target   string `json:"target"`
		Response string `json:"response"`
		Args     []any  `json:"args"`
	} `json:"calls"`
	Error string `json:"error"`
}

// nodeGateway is the running node gateway.
type nodeGateway struct {
	port int
	mu   sync.Mutex
	reqs []gatewayRequest
}

func (g *nodeGateway) requests() []gatewayRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gatewayRequest(nil), g.reqs...)
}

// installGatewayDeps runs npm ci in remoting-gateway once per test binary
// when bytearray-node is missing (parallel tests share the folder).
var installGatewayDeps = sync.OnceValue(func() error {
	dir := "remoting-gateway"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "bytearray-node", "package.json")); err == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is required to install bytearray-node (scripts/deps.sh installs it): %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// --ignore-scripts: bytearray-node's lzma-native would build a native
	// addon the gateway does not use (gateway.js stubs it).
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
})

// startNodeGateway installs the gateway's npm dependencies when missing
// (npm ci from the committed package-lock.json) and starts it on
// 127.0.0.1 with a port it picks. It fails, never skips, without node.
func startNodeGateway(t *testing.T) *nodeGateway {
	t.Helper()
	dir := "remoting-gateway"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the remoting gateway (scripts/deps.sh installs it): %v", err)
	}
	if err := installGatewayDeps(); err != nil {
		t.Fatal(err)
	}
	g := &nodeGateway{}
	ready := make(chan int, 1)
	startProc(t, procOpts{Dir: dir, StdoutLine: func(line string) {
		if p, ok := strings.CutPrefix(line, "listening "); ok {
			if n, err := strconv.Atoi(p); err == nil {
				ready <- n
			}
			return
		}
		var r gatewayRequest
		if json.Unmarshal([]byte(line), &r) == nil {
			g.mu.Lock()
			g.reqs = append(g.reqs, r)
			g.mu.Unlock()
		}
	}}, node, "gateway.js")
	select {
	case g.port = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the node gateway did not start listening within 30s")
	}
	return g
}

// remotingApp is FCS-era script code, unmodified but for the gateway
// address: (a) a NetConnection to the gateway with call and responder
// objects, (b) netservices.asc in the style of the FCS 1.5 documentation.
// Every outcome is reported to the connecting client with client.call.
const remotingApp = `
load("netservices.asc");

var GATEWAY = "http://127.0.0.1:PORT/gateway";

application.onAppStart = function () {
	NetServices.setDefaultGatewayUrl(GATEWAY);
	this.gatewayConn = NetServices.createGatewayConnection();
	this.gatewayConn.setCredentials("alice", "secret");
	this.echoService = this.gatewayConn.getService("echo", this);
	this.authService = this.gatewayConn.getService("auth", this);
	this.sessionService = NetServices.createGatewayConnection().getService("session", this);
};

application.onConnect = function (client) {
	this.acceptConnection(client);
	this.current = client;
	var report = function (label, value) { client.call("report", null, label, value); };

	// (a) NetConnection.connect(gateway) and call.
	var nc = new NetConnection();
	nc.connect(GATEWAY);
	nc.call("echo.add", {
		onResult: function (r) { report("direct add", r); },
		onStatus: function (info) { report("direct add failed", info.code); }
	}, 2, 3);
	nc.call("echo.echo", {
		onResult: function (r) { report("direct echo", r.name + " " + r.n + " " + r.inner.ok); }
	}, {name: "x", n: 7, inner: {ok: true}});
	nc.call("echo.fail", {
		onResult: function (r) { report("direct fail result", r); },
		onStatus: function (info) { report("direct fail", info.code + " " + info.description); }
	});
	var broken = new NetConnection();
	broken.connect("http://127.0.0.1:PORT/broken");
	broken.call("echo.add", {
		onResult: function (r) { report("broken result", r); },
		onStatus: function (info) { report("broken", info.code + " " + info.description); }
	}, 1, 1);

	// (b) netservices.asc.
	this.echoService.add(40, 2);
	this.echoService.fail();
	this.authService.whoami();
	this.sessionService.start();
};

application.add_Result = function (result) {
	this.current.call("report", null, "netservices add_Result", result);
};
application.fail_Status = function (info) {
	this.current.call("report", null, "netservices fail_Status", info.code + " " + info.description);
};
application.whoami_Result = function (result) {
	this.current.call("report", null, "netservices whoami_Result", result);
};
application.start_Result = function (result) {
	this.sessionService.query();
};
application.query_Result = function (result) {
	this.current.call("report", null, "netservices query_Result", result);
};
`

// TestRemotingGateway: a script calls a node gateway directly and through
// netservices.asc; results reach onResult (and method_Result), errors
// onStatus (and method_Status), an HTTP failure is logged and reaches
// onStatus; the gateway sees Flash Remoting requests (application/x-amf,
// version 1, Credentials, the session id it handed out).
func TestRemotingGateway(t *testing.T) {
	t.Parallel()
	g := startNodeGateway(t)
	s := startServer(t, serverOpts{Apps: []string{"remoting"}, Config: "ssas:\n  allow_hosts: [\"127.0.0.1\"]\n"})
	s.writeApp(t, "remoting", map[string]string{
		"main.asc": strings.ReplaceAll(remotingApp, "PORT", strconv.Itoa(g.port)),
	})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c := s.dialApp(t, ctx, "remoting")
	want := map[string]string{
		"direct add":                "5",
		"direct echo":               "x 7 true",
		"direct fail":               "Server.Processing deliberate failure",
		"broken":                    "NetConnection.Call.Failed HTTP: Status 500.",
		"netservices add_Result":    "42",
		"netservices fail_Status":   "Server.Processing deliberate failure",
		"netservices whoami_Result": "alice",
		"netservices query_Result":  "session=s1",
	}
	got := map[string]string{}
	for len(got) < len(want) {
		r := nextCall(t, ctx, c, "report")
		label := r.Arg(0).Str()
		v := r.Arg(1)
		val := v.Str()
		if v.Kind() == amf.KindNumber {
			val = strconv.FormatFloat(v.Num(), 'f', -1, 64)
		}
		if _, dup := got[label]; dup {
			t.Errorf("report %q twice", label)
		}
		got[label] = val
	}
	for label, w := range want {
		if got[label] != w {
			t.Errorf("%s = %q, want %q", label, got[label], w)
		}
	}

	// The gateway's view of the requests. It prints each request before
	// answering it, but its output is read through a pipe: the answer
	// can reach the client before the line reaches the test, so the
	// requests are read again until both expected ones are there.
	var sawCredentials, sawSession bool
	var reqs []gatewayRequest
	deadline := time.Now().Add(20 * time.Second)
	for {
		reqs = g.requests()
		sawCredentials, sawSession = false, false
		for _, r := range reqs {
			if cred, ok := r.Headers["Credentials"].(map[string]any); ok && cred["userid"] == "alice" && cred["password"] == "secret" {
				sawCredentials = true
			}
			for _, call := range r.Calls {
				if call.Target == "session.query" && r.Query == "?session=s1" {
					sawSession = true
				}
			}
		}
		if sawCredentials && sawSession || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, r := range reqs {
		if r.Error != "" {
			t.Errorf("the gateway could not read a request: %s", r.Error)
			continue
		}
		if r.ContentType != "application/x-amf" || r.Version != 1 {
			t.Errorf("request content type %q, version %d; want application/x-amf, 1", r.ContentType, r.Version)
		}
		for _, call := range r.Calls {
			if !strings.HasPrefix(call.Response, "/") {
				t.Errorf("call %s has response URI %q", call.Target, call.Response)
			}
		}
	}
	if !sawCredentials {
		t.Error("no request carried the Credentials header {userid, password}")
	}
	if !sawSession {
		t.Error("session.query did not go to the URL with the AppendToGatewayUrl suffix")
	}

	// Failures are logged, once per call. The script's onStatus can reach
	// the client before the server's log line is read from its output:
	// wait for the lines, then count.
	base := "http://127.0.0.1:" + strconv.Itoa(g.port)
	keys := []string{"echo.add " + base + "/broken", "echo.fail " + base + "/gateway"}
	count := map[string]int{}
	logged := func() bool {
		clear(count)
		for _, l := range s.findLogs(func(m map[string]any) bool { return m["msg"] == "remoting call failed" }) {
			m, _ := l["method"].(string)
			gw, _ := l["gateway"].(string)
			count[m+" "+gw]++
		}
		return count[keys[0]] >= 1 && count[keys[1]] >= 1
	}
	deadline = time.Now().Add(10 * time.Second)
	for !logged() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range keys {
		if count[k] < 1 {
			t.Errorf("no `remoting call failed` log line for %s; got %v", k, count)
		}
	}
	if count["echo.add "+base+"/broken"] != 1 {
		t.Errorf("the HTTP failure was logged %d times, want once", count["echo.add "+base+"/broken"])
	}
}

// TestRemotingDestinationRefused: without an allow_hosts entry the
// loopback gateway is out of bounds; the call fails with onStatus and the
// gateway never sees it.
func TestRemotingDestinationRefused(t *testing.T) {
	t.Parallel()
	g := startNodeGateway(t)
	s := startServer(t, serverOpts{Apps: []string{"remoting"}})
	s.writeApp(t, "remoting", map[string]string{"main.asc": strings.ReplaceAll(`
application.onConnect = function (client) {
	this.acceptConnection(client);
	var nc = new NetConnection();
	nc.connect("http://127.0.0.1:PORT/gateway");
	nc.call("echo.add", {
		onResult: function (r) { client.call("report", null, "result", r); },
		onStatus: function (info) { client.call("report", null, "status", info.code + " " + info.description); }
	}, 1, 2);
};
`, "PORT", strconv.Itoa(g.port))})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c := s.dialApp(t, ctx, "remoting")
	r := nextCall(t, ctx, c, "report")
	if got := r.Arg(1).Str(); r.Arg(0).Str() != "status" || !strings.HasPrefix(got, "NetConnection.Call.Failed HTTP: Failed: destination not allowed: 127.0.0.1") {
		t.Fatalf("report %v %q, want status NetConnection.Call.Failed ... destination not allowed", r.Arg(0), got)
	}
	if n := len(g.requests()); n != 0 {
		t.Fatalf("the gateway got %d requests", n)
	}
}
