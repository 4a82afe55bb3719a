package ssas

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/amf/remoting"
	"github.com/openfcs/openfcs/internal/testutil"
)

// testGateway is a Flash Remoting gateway for unit tests (the e2e suite
// uses an independent one in node). Services:
//
//	echo.add(a, b)      a + b
//	echo.echo(x)        x
//	echo.fail()         onStatus {code: "Server.Processing", description: "deliberate"}
//	auth.whoami()       the Credentials header's userid, or null
//	session.start()     "started", with an AppendToGatewayUrl "?session=s1" header
//	session.query()     the request URL's query
//	hdr.persist()       "ok", with a RequestPersistentHeader for Token = "t1"
//	hdr.get(name)       the value of the request header name, or null
//	url.replace(u)      "ok", with a ReplaceGatewayUrl u header
//	hdr.custom()        "ok", with a header Motd = "hello"
//	slow.wait()         answers once release is closed
type testGateway struct {
	t       testing.TB
	srv     *httptest.Server
	release chan struct{}
	once    sync.Once

	mu          sync.Mutex
	requests    []gatewayRequest
	inFlight    int
	maxInFlight int
	// override, when set, answers instead of the services.
	override func(w http.ResponseWriter, req *http.Request)
}

type gatewayRequest struct {
	url     string
	ctype   string
	version uint16
	headers []remoting.Header
	calls   []remoting.Message
}

func newTestGateway(t testing.TB) *testGateway {
	t.Helper()
	g := &testGateway{t: t, release: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.Release()
		g.srv.Close()
	})
	return g
}

// Release lets the slow.wait calls answer.
func (g *testGateway) Release() { g.once.Do(func() { close(g.release) }) }

func (g *testGateway) URL() string { return g.srv.URL + "/gateway" }

func (g *testGateway) serve(w http.ResponseWriter, req *http.Request) {
	g.mu.Lock()
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	override := g.override
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if override != nil {
		// Read the body first: only then does the server notice a client
		// that goes away (and cancel the request's context).
		_, _ = io.Copy(io.Discard, req.Body)
		override(w, req)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in remoting.Packet
	if err := in.Unmarshal(body, remoting.Limits{}); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.requests = append(g.requests, gatewayRequest{url: req.URL.String(), ctype: req.Header.Get("Content-Type"),
		version: in.Version, headers: in.Headers, calls: in.Messages})
	g.mu.Unlock()
	header := func(name string) amf.Value {
		for _, h := range in.Headers {
			if h.Name == name {
				return h.Value
			}
		}
		return amf.Null()
	}
	out := remoting.Packet{Version: in.Version}
	for _, m := range in.Messages {
		args := m.Value.Elems()
		arg := func(i int) amf.Value {
			if i < len(args) {
				return args[i]
			}
			return amf.Undefined()
		}
		outcome, v := remoting.OnResult, amf.Null()
		switch m.Target {
		case "echo.add":
			v = amf.Number(arg(0).Num() + arg(1).Num())
		case "echo.echo":
			v = arg(0)
		case "echo.fail":
			outcome = remoting.OnStatus
			v = amf.Object(amf.Prop{Key: "level", Value: amf.String("error")},
				amf.Prop{Key: "code", Value: amf.String("Server.Processing")},
				amf.Prop{Key: "description", Value: amf.String("deliberate")})
		case "auth.whoami":
			if c := header("Credentials"); c.Kind() == amf.KindObject {
				v = c.Get("userid")
			}
		case "session.start":
			out.Headers = append(out.Headers, remoting.Header{Name: "AppendToGatewayUrl", Value: amf.String("?session=s1")})
			v = amf.String("started")
		case "session.query":
			v = amf.String(req.URL.RawQuery)
		case "hdr.persist":
			out.Headers = append(out.Headers, remoting.Header{Name: "RequestPersistentHeader", Value: amf.Object(
				amf.Prop{Key: "name", Value: amf.String("Token")},
				amf.Prop{Key: "mustUnderstand", Value: amf.Bool(false)},
				amf.Prop{Key: "data", Value: amf.String("t1")})})
			v = amf.String("ok")
		case "hdr.get":
			v = header(arg(0).Str())
		case "url.replace":
			out.Headers = append(out.Headers, remoting.Header{Name: "ReplaceGatewayUrl", Value: arg(0)})
			v = amf.String("ok")
		case "hdr.custom":
			out.Headers = append(out.Headers, remoting.Header{Name: "Motd", Value: amf.String("hello")})
			v = amf.String("ok")
		case "slow.wait":
			select {
			case <-g.release:
			case <-req.Context().Done():
				return
			}
			v = amf.String("late")
		default:
			outcome = remoting.OnStatus
			v = amf.Object(amf.Prop{Key: "code", Value: amf.String("Server.ResourceNotFound")})
		}
		out.Messages = append(out.Messages, remoting.Message{Target: remoting.ResponseTarget(m.Response, outcome), Response: "null", Value: v})
	}
	b, err := out.Marshal(remoting.Limits{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", remoting.ContentType)
	_, _ = w.Write(b)
}

func (g *testGateway) Requests() []gatewayRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gatewayRequest(nil), g.requests...)
}

func (g *testGateway) MaxInFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxInFlight
}

// remotingEnv loads script (with GATEWAY replaced by the gateway URL) and
// connects one client so that the instance starts.
func remotingEnv(t *testing.T, cfg Config, gw string, script string) *env {
	t.Helper()
	if cfg.AllowHosts == nil {
		cfg.AllowHosts = []string{"127.0.0.1"}
	}
	e := newEnv(t, cfg, map[string]string{"main.asc": strings.ReplaceAll(script, "GATEWAY", gw)})
	if _, err := e.connect("a", "_definst_"); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRemotingCall(t *testing.T) {
	g := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
trace("connect " + nc.connect("GATEWAY") + " " + nc.isConnected);
nc.setCredentials("alice", "secret");
nc.call("echo.add", {onResult: function (r) { trace("add " + r); }}, 2, 3);
nc.call("echo.fail", {
  onResult: function (r) { trace("fail result " + r); },
  onStatus: function (s) { trace("fail status " + s.code + " " + s.description); }
});
nc.call("auth.whoami", {onResult: function (r) { trace("whoami " + r); }});
nc.call("echo.echo", {onResult: function (r) { trace("echo " + r.name + " " + r.list.join(",")); }}, {name: "x", list: [1, 2]});
`)
	e.waitLine("echo x 1,2")
	want := []string{"connect true false", "add 5", "fail status Server.Processing deliberate", "whoami alice", "echo x 1,2"}
	if got := scriptTraces(e); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("traces:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	reqs := g.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want the 4 calls of one script entry in one request", len(reqs))
	}
	r := reqs[0]
	if r.ctype != "application/x-amf" || r.version != remoting.VersionFMS || len(r.calls) != 4 {
		t.Fatalf("request: content type %q, version %d, %d calls", r.ctype, r.version, len(r.calls))
	}
	for i, c := range r.calls {
		if want := "/" + strconv.Itoa(i+1); c.Response != want {
			t.Errorf("call %d response URI %q, want %q", i, c.Response, want)
		}
	}
	if len(r.headers) != 1 || r.headers[0].Name != "Credentials" || r.headers[0].Value.Get("password").Str() != "secret" {
		t.Fatalf("headers %+v, want Credentials {userid, password}", r.headers)
	}
}

func TestRemotingGatewayHeaders(t *testing.T) {
	g := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.addHeader("Mine", true, {n: 1});
var log = function (what, then) { return {onResult: function (r) { trace(what + " " + r); if (then) then(); }}; };
nc.call("session.start", log("start"));
nc.call("hdr.persist", log("persist", function () {
  nc.call("session.query", log("query"));
  nc.call("hdr.get", log("token"), "Token");
  nc.call("hdr.get", {onResult: function (r) {
    trace("mine " + r.n);
    nc.addHeader("Mine");
    nc.call("hdr.get", log("mine after removal"), "Mine");
  }}, "Mine");
}));
`)
	e.waitLine("mine after removal")
	want := []string{"start started", "persist ok", "query session=s1", "token t1", "mine 1", "mine after removal null"}
	if got := scriptTraces(e); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("traces:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	reqs := g.Requests()
	if len(reqs) != 3 || !strings.HasSuffix(reqs[1].url, "?session=s1") || reqs[1].headers[0].Name != "Mine" || !reqs[1].headers[0].MustUnderstand {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestRemotingReplaceGatewayUrl(t *testing.T) {
	g := newTestGateway(t)
	other := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), strings.ReplaceAll(`
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.Motd = function (v) { trace("motd " + v); };
nc.call("hdr.custom", {onResult: function (r) { trace("custom " + r); }});
nc.call("url.replace", {onResult: function (r) {
  trace("replaced, uri " + (nc.uri == "OTHER"));
  nc.call("echo.add", {onResult: function (r) { trace("add " + r); }}, 1, 2);
}}, "OTHER");
`, "OTHER", other.URL()))
	e.waitLine("add 3")
	want := []string{"motd hello", "custom ok", "replaced, uri true", "add 3"}
	if got := scriptTraces(e); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("traces:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n, m := len(g.Requests()), len(other.Requests()); n != 1 || m != 1 {
		t.Fatalf("first gateway %d requests, second %d; want 1 and 1", n, m)
	}
}

// A later call waits for the running request of its connection: the
// session id of the first answer reaches it.
func TestRemotingOneRequestPerConnection(t *testing.T) {
	g := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.call("session.start", {onResult: function (r) { trace("start " + r); }});
setTimeout(function () {
  nc.call("session.query", {onResult: function (r) { trace("query " + r); }});
}, 1);
`)
	e.waitLine("query")
	want := []string{"start started", "query session=s1"}
	if got := scriptTraces(e); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("traces:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRemotingNetServices(t *testing.T) {
	g := newTestGateway(t)
	// The shape of the FCS 1.5 and Flash MX documentation examples.
	e := remotingEnv(t, Config{}, g.URL(), `
load("netservices.asc");
application.onAppStart = function () {
  NetServices.setDefaultGatewayUrl("GATEWAY");
  this.gatewayConn = NetServices.createGatewayConnection();
  this.echoService = this.gatewayConn.getService("echo", this);
  this.echoService.add(40, 2);
  this.echoService.fail();
  this.echoService.nope();
  var other = NetServices.createGatewayConnection("GATEWAY").getService("echo", {
    onResult: function (r) { trace("fallback result " + r); }
  });
  other.echo("hi");
  other.nope();
  var bare = this.gatewayConn.getService("echo");
  bare.add({onResult: function (r) { trace("own responder " + r); }}, 1, 1);
};
application.add_Result = function (r) { trace("add_Result " + r); };
application.fail_Status = function (s) { trace("fail_Status " + s.code + " " + s.description); };
application.onStatus = function (s) { trace("application.onStatus " + s.code); };
`)
	e.waitLine("own responder")
	e.waitLine("fallback result")
	e.waitLine("NetServices: nope_Status")
	got := strings.Join(scriptTraces(e), "\n")
	for _, want := range []string{"add_Result 42", "fail_Status Server.Processing deliberate", "fallback result hi",
		"own responder 2", "application.onStatus Server.ResourceNotFound",
		"NetServices: nope_Status received with no handler: Server.ResourceNotFound"} {
		if !strings.Contains(got, want) {
			t.Errorf("no trace %q in:\n%s", want, got)
		}
	}
	var targets []string
	for _, r := range g.Requests() {
		for _, c := range r.calls {
			targets = append(targets, c.Target)
		}
	}
	if strings.Join(targets, " ") != "echo.add echo.fail echo.nope echo.add echo.echo echo.nope" &&
		strings.Join(targets, " ") != "echo.echo echo.nope echo.add echo.fail echo.nope echo.add" {
		t.Errorf("gateway saw %v", targets)
	}
}

// An application's own netservices.asc wins over the bundled one.
func TestRemotingNetServicesAppCopy(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{
		"main.asc":        `load("netservices.asc"); trace(NetServices.mine);`,
		"netservices.asc": `NetServices = {mine: "app copy"};`,
	})
	if _, err := e.connect("a", "_definst_"); err != nil {
		t.Fatal(err)
	}
	e.waitLine("app copy")
}

func TestRemotingFailures(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		answer func(w http.ResponseWriter, req *http.Request)
		want   string
	}{
		{"http status", Config{}, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no", http.StatusInternalServerError)
		}, "status NetConnection.Call.Failed HTTP: Status 500."},
		{"not amf", Config{}, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<html>hello</html>")
		}, "status NetConnection.Call.BadVersion Bad AMF response"},
		{"no answer for the call", Config{}, func(w http.ResponseWriter, _ *http.Request) {
			b, _ := (&remoting.Packet{}).Marshal(remoting.Limits{})
			_, _ = w.Write(b)
		}, "status NetConnection.Call.Failed The gateway sent no answer to this call."},
		{"declared length over the limit", Config{RemotingMaxBody: 100}, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write(make([]byte, 1000))
		}, "status NetConnection.Call.Failed HTTP: Response of 1000 bytes exceeds the limit of 100."},
		{"chunked answer over the limit", Config{RemotingMaxBody: 100}, func(w http.ResponseWriter, _ *http.Request) {
			for range 10 {
				_, _ = w.Write(make([]byte, 50))
				w.(http.Flusher).Flush()
			}
		}, "status NetConnection.Call.Failed HTTP: Response exceeds the limit of 100 bytes."},
		{"timeout", Config{HTTPTimeout: 200 * time.Millisecond}, func(w http.ResponseWriter, req *http.Request) {
			select {
			case <-req.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, "status NetConnection.Call.Failed HTTP: Failed: timed out."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t)
			g.override = tc.answer
			e := remotingEnv(t, tc.cfg, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.call("echo.add", {
  onResult: function (r) { trace("result " + r); },
  onStatus: function (s) { trace("status " + s.code + " " + s.description + " " + s.details); }
}, 1, 2);
`)
			e.waitLine("status")
			got := scriptTraces(e)[0]
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want prefix %q", got, tc.want)
			}
			if !strings.HasSuffix(got, " "+g.URL()) {
				t.Fatalf("got %q, want details %s", got, g.URL())
			}
		})
	}
}

// Without an onStatus on the responder the status goes to the
// NetConnection, then to application.onStatus: never lost.
func TestRemotingStatusFallback(t *testing.T) {
	g := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.onStatus = function (s) { trace("nc.onStatus " + s.code); };
nc.call("echo.fail", {onResult: function () {}});
var bare = new NetConnection();
bare.connect("GATEWAY");
bare.call("echo.fail", null);
application.onStatus = function (s) { trace("application.onStatus " + s.code); };
`)
	e.waitLine("nc.onStatus Server.Processing")
	e.waitLine("application.onStatus Server.Processing")
}

func TestRemotingDestinationRule(t *testing.T) {
	t.Run("loopback not allowed", func(t *testing.T) {
		g := newTestGateway(t)
		e := remotingEnv(t, Config{AllowHosts: []string{}}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.call("echo.add", {onStatus: function (s) { trace("status " + s.code + " " + s.description); }}, 1, 2);
`)
		e.waitLine("status NetConnection.Call.Failed HTTP: Failed: destination not allowed: 127.0.0.1")
		if n := len(g.Requests()); n != 0 {
			t.Fatalf("the gateway got %d requests", n)
		}
	})
	t.Run("redirect hop checked", func(t *testing.T) {
		// The second server listens on 127.0.0.2, which the allow list
		// does not name: the redirect must not reach it.
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatalf("listen on 127.0.0.2: %v", err)
		}
		var mu sync.Mutex
		hits := 0
		other := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			mu.Lock()
			hits++
			mu.Unlock()
		})}}
		other.Start()
		t.Cleanup(other.Close)
		g := newTestGateway(t)
		g.override = func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, other.URL+"/gateway", http.StatusTemporaryRedirect)
		}
		e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.call("echo.add", {onStatus: function (s) { trace("status " + s.code + " " + s.description); }}, 1, 2);
`)
		e.waitLine("status NetConnection.Call.Failed HTTP: Failed: destination not allowed: 127.0.0.2")
		mu.Lock()
		defer mu.Unlock()
		if hits != 0 {
			t.Fatalf("the redirect reached a destination the rule refuses (%d hits)", hits)
		}
	})
	t.Run("redirect to an allowed host", func(t *testing.T) {
		g := newTestGateway(t)
		front := newTestGateway(t)
		front.override = func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, g.URL(), http.StatusPermanentRedirect)
		}
		e := remotingEnv(t, Config{}, front.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.call("echo.add", {onResult: function (r) { trace("add " + r); }}, 1, 2);
`)
		e.waitLine("add 3")
	})
}

func TestRemotingLimits(t *testing.T) {
	t.Run("requests per instance", func(t *testing.T) {
		g := newTestGateway(t)
		e := remotingEnv(t, Config{RemotingMaxRequests: 2}, g.URL(), `
for (var i = 0; i < 5; i++) {
  var nc = new NetConnection();
  nc.connect("GATEWAY");
  nc.call("slow.wait", {onResult: function (r) { trace("done " + r); }});
}
`)
		testutil.WaitFor(t, 10*time.Second, "len(g.Requests()) == 2", func() bool { return len(g.Requests()) == 2 })
		e.barrier()
		rt := e.ld.last()
		state := make(chan [2]int, 1)
		rt.post(func() { state <- [2]int{rt.remoting.inFlight, len(rt.remoting.waiting)} })
		if s := <-state; s != [2]int{2, 3} {
			t.Fatalf("%d requests running and %d connections waiting, want 2 and 3", s[0], s[1])
		}
		g.Release()
		for range 5 {
			e.waitLine("done late")
		}
		testutil.WaitFor(t, 10*time.Second, "len(scriptTraces(e)) == 5", func() bool { return len(scriptTraces(e)) == 5 })
		if m := g.MaxInFlight(); m != 2 {
			t.Fatalf("at most %d requests at once, want 2", m)
		}
	})
	t.Run("queued calls per instance", func(t *testing.T) {
		g := newTestGateway(t)
		e := remotingEnv(t, Config{RemotingMaxQueued: 2}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
var r = function (n) { return {onResult: function (v) { trace(n + " result " + v); }, onStatus: function (s) { trace(n + " status " + s.description); }}; };
trace("call 1 " + nc.call("echo.add", r(1), 1, 0));
trace("call 2 " + nc.call("echo.add", r(2), 2, 0));
trace("call 3 " + nc.call("echo.add", r(3), 3, 0));
`)
		e.waitLine("2 result")
		got := strings.Join(scriptTraces(e), "\n")
		for _, want := range []string{"call 1 true", "call 2 true", "call 3 false", "3 status Too many remoting calls waiting (2).", "1 result 1", "2 result 2"} {
			if !strings.Contains(got, want) {
				t.Errorf("no %q in:\n%s", want, got)
			}
		}
	})
	t.Run("request size", func(t *testing.T) {
		g := newTestGateway(t)
		e := remotingEnv(t, Config{RemotingMaxBody: 1000}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
var s = ""; for (var i = 0; i < 2000; i++) s += "x";
nc.call("echo.echo", {onStatus: function (st) { trace("status " + st.code + " " + st.description); }}, s);
`)
		e.waitLine("status NetConnection.Call.Failed Request not sent")
		if n := len(g.Requests()); n != 0 {
			t.Fatalf("%d requests sent", n)
		}
	})
}

// close drops calls not sent yet and the answer of the running request.
func TestRemotingClose(t *testing.T) {
	g := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
nc.call("slow.wait", {onResult: function (r) { trace("late answer " + r); }});
setTimeout(function () {
  nc.call("echo.add", {onResult: function (r) { trace("queued answer " + r); }}, 1, 1);
  nc.close();
  trace("closed");
  nc.connect("GATEWAY");
  nc.call("echo.add", {onResult: function (r) { trace("after reconnect " + r); }}, 2, 2);
}, 50);
`)
	e.waitLine("after reconnect 4")
	g.Release()
	testutil.WaitFor(t, 10*time.Second, "len(g.Requests()) == 2", func() bool { return len(g.Requests()) == 2 })
	e.barrier()
	got := strings.Join(scriptTraces(e), "\n")
	if strings.Contains(got, "late answer") || strings.Contains(got, "queued answer") {
		t.Fatalf("a closed connection's call was answered:\n%s", got)
	}
}

// scriptTraces returns the script's trace lines (not the driver's "> "
// lines).
func scriptTraces(e *env) []string {
	var out []string
	for _, l := range e.lines() {
		if !strings.HasPrefix(l, "> ") {
			out = append(out, l)
		}
	}
	return out
}

// registerProxy forwards a client's call to the gateway.
func TestRemotingRegisterProxy(t *testing.T) {
	g := newTestGateway(t)
	e := remotingEnv(t, Config{}, g.URL(), `
var nc = new NetConnection();
nc.connect("GATEWAY");
application.registerProxy("echo.add", nc);
application.registerProxy("echo.fail", nc);
`)
	e.barrier()
	cl, err := e.connect("b", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	if v, ok := cl.call("echo.add", amf.Number(20), amf.Number(22)); !ok || v.Num() != 42 {
		t.Fatalf("proxied echo.add = %v, %v", v, ok)
	}
	if v, ok := cl.call("echo.fail"); ok || v.Get("code").Str() != "Server.Processing" {
		t.Fatalf("proxied echo.fail = %v, %v", v, ok)
	}
}
