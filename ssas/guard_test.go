package ssas

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dlclark/regexp2/v2"

	"github.com/openfcs/openfcs/amf"
)

// addrDialer records what a NetConnection asks to dial and refuses it.
type addrDialer struct {
	mu    sync.Mutex
	calls [][]string
}

func (d *addrDialer) Dial(_ context.Context, _ string, addrs []string, _ []amf.Value, _ RemoteHandler) (Remote, error) {
	d.mu.Lock()
	d.calls = append(d.calls, addrs)
	d.mu.Unlock()
	return nil, errors.New("test dialer")
}

func (d *addrDialer) IsLocal(host string) bool { return host == "" }

func (d *addrDialer) got() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]string(nil), d.calls...)
}

const ncScript = `
Client.prototype.dial = function (uri) {
    var nc = new NetConnection();
    nc.onStatus = function (info) { trace(uri + " " + info.code); };
    nc.connect(uri);
    return true;
};
`

// NetConnection resolves a name once, checks every answer against the
// destination rule, and hands the dialer the checked addresses: the
// dialer never resolves the name itself, so a second DNS answer cannot
// lead past the check. A refused destination is never dialed.
func TestNetConnectionDialsCheckedAddress(t *testing.T) {
	d := &addrDialer{}
	e := newEnv(t, Config{AllowHosts: []string{"127.0.0.0/8", "::1"}}, map[string]string{"main.asc": ncScript})
	e.host.Dialer = d
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	cl.call("dial", amf.String("rtmp://localhost:1999/app"))
	e.waitLine("rtmp://localhost:1999/app NetConnection.Connect.Failed")
	calls := d.got()
	if len(calls) != 1 || len(calls[0]) == 0 {
		t.Fatalf("dialer calls %v, want one with checked addresses", calls)
	}
	for _, a := range calls[0] {
		host, port, err := net.SplitHostPort(a)
		if err != nil || port != "1999" {
			t.Fatalf("dial address %q", a)
		}
		if _, err := netip.ParseAddr(host); err != nil {
			t.Fatalf("dial address %q is a name, not a checked address", a)
		}
	}

	e2 := newEnv(t, Config{}, map[string]string{"main.asc": ncScript})
	d2 := &addrDialer{}
	e2.host.Dialer = d2
	cl2, err := e2.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e2.barrier()
	cl2.call("dial", amf.String("rtmp://127.0.0.2/app"))
	e2.waitLine("rtmp://127.0.0.2/app NetConnection.Connect.Failed")
	if calls := d2.got(); len(calls) != 0 {
		t.Fatalf("a loopback destination outside allow_hosts was dialed: %v", calls)
	}
}

// LoadVars (and XML) follow redirects only to destinations the rule
// allows: an allowed server that redirects to a private address outside
// allow_hosts gets no request through.
func TestLoadVarsRedirectChecked(t *testing.T) {
	var hit atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("127.0.0.2 is not usable here: %v", err)
	}
	inner := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hit.Add(1)
		_, _ = w.Write([]byte("secret=1"))
	}))
	_ = inner.Listener.Close()
	inner.Listener = ln
	inner.Start()
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			_, _ = w.Write([]byte("fine=1"))
			return
		}
		http.Redirect(w, r, inner.URL+"/", http.StatusFound)
	}))
	defer outer.Close()
	e := newEnv(t, Config{AllowHosts: []string{"127.0.0.1"}}, map[string]string{"main.asc": `
Client.prototype.get = function (url, tag) {
    var lv = new LoadVars();
    lv.onLoad = function (ok) { trace(tag + " " + ok + " " + this.secret + " " + this.fine); };
    return lv.load(url);
};
Client.prototype.getXML = function (url, tag) {
    var x = new XML();
    x.onLoad = function (ok) { trace(tag + " " + ok); };
    return x.load(url);
};
`})
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	cl.call("get", amf.String(outer.URL+"/ok"), amf.String("direct"))
	e.waitLine("direct true undefined 1")
	cl.call("get", amf.String(outer.URL+"/redirect"), amf.String("lv"))
	e.waitLine("lv false undefined undefined")
	cl.call("getXML", amf.String(outer.URL+"/redirect"), amf.String("xml"))
	e.waitLine("xml false")
	if n := hit.Load(); n != 0 {
		t.Fatalf("the redirect target outside allow_hosts got %d requests", n)
	}
}

// A regular expression that needs backtracking (goja hands those to
// regexp2, which goja's interrupt does not reach) stops at the script
// budget instead of holding a core for hours, and the runaway script is
// handled like any other.
func TestRegexpBacktrackingBounded(t *testing.T) {
	e := newEnv(t, Config{MaxScriptTime: 300 * time.Millisecond}, map[string]string{"main.asc": `
Client.prototype.slow = function () {
    // A back-reference forces regexp2; nested quantifiers make it
    // exponential in the input length.
    return /^(a+)+\1b$/.test(new Array(40).join("a") + "c");
};
Client.prototype.ping = function () { return "pong"; };
`})
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	limit := regexp2.DefaultMatchTimeout + 10*time.Second // process-wide, from the first Host
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.call("slow")
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("the backtracking regexp ran past %v", limit)
	}
	if regexp2.DefaultMatchTimeout > time.Minute {
		t.Fatalf("regexp2 match timeout is %v: not tied to the script budget", regexp2.DefaultMatchTimeout)
	}
}

// Deep recursion throws a RangeError that is logged with the script's
// file and line (not an empty message at line 0), and the instance keeps
// serving.
func TestDeepRecursionLogged(t *testing.T) {
	e := newEnv(t, Config{MaxCallStack: 200}, map[string]string{"main.asc": `
function down(n) {
    return down(n + 1) + 1;
}
Client.prototype.deep = function () { return down(0); };
Client.prototype.ping = function () { return "pong"; };
`})
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	e.captureLog.Store(true)
	if _, ok := cl.call("deep"); ok {
		t.Fatal("unbounded recursion returned a result")
	}
	var line string
	for _, l := range e.lines() {
		if strings.HasPrefix(l, "! ERROR script error") {
			line = l
		}
	}
	if !strings.Contains(line, "RangeError") || !strings.Contains(line, "file=main.asc") || !strings.Contains(line, "line=3 ") {
		t.Fatalf("script error log line %q, want a RangeError at main.asc line 3", line)
	}
	if v, ok := cl.call("ping"); !ok || v.Str() != "pong" {
		t.Fatalf("after the recursion, ping = %v %v", v, ok)
	}
}
