package ssas

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
)

// A runaway script is interrupted after the budget and its instance
// unloaded (the client is closed with AppShutdown); another instance of
// the same app keeps answering; the next connect loads a fresh runtime.
func TestRunawayUnloadsInstance(t *testing.T) {
	e := newEnv(t, Config{MaxScriptTime: 200 * time.Millisecond}, map[string]string{"main.asc": `
Client.prototype.spin = function () { for (;;) {} };
Client.prototype.ping = function () { return application.name; };
`})
	a, err := e.connect("a", "x")
	if err != nil {
		t.Fatal(err)
	}
	rtX := e.ld.last()
	e.barrier() // a is accepted
	b, err := e.connect("b", "y")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	go a.in.Call(a.c, "spin", nil, func(amf.Value, bool) {})
	if v, ok := b.call("ping"); !ok || v.Str() != "app/y" {
		t.Fatalf("y ping = %v %v", v, ok)
	}
	select {
	case <-a.p.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the runaway instance's client was not closed")
	}
	select {
	case <-rtX.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the runaway runtime did not stop")
	}
	a.in.Disconnect(a.c)
	c, err := e.connect("c", "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.in == a.in {
		t.Fatal("the failed instance was reused")
	}
	e.barrier() // c is accepted
	if v, ok := c.call("ping"); !ok || v.Str() != "app/x" {
		t.Fatalf("restarted x ping = %v %v", v, ok)
	}
}

// A syntax error fails the connect with ErrScript naming file:line; a
// fixed file is used by the next connect.
func TestSyntaxErrorThenFix(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": "var a = 1;\r\nvar b = ;\r\n"})
	_, err := e.connect("a", "_definst_")
	if !errors.Is(err, instance.ErrScript) || !strings.Contains(err.Error(), "main.asc:2:9") {
		t.Fatalf("err = %v, want ErrScript at main.asc:2:9", err)
	}
	e.write("main.asc", "application.onConnect = function () { return true; };")
	if _, err := e.connect("a", "_definst_"); err != nil {
		t.Fatal(err)
	}
}

// An exception while the script starts (here a load() of a file not
// there yet) fails the instance like a syntax error: the connect that
// loaded it is rejected with the generic message, the next one fails with
// ErrScript without loading again; creating the file makes the next
// connect load the application again, without waiting for the retry
// interval.
func TestStartErrorThenFix(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
load("users.asc");
application.onConnect = function (c, user) { return users[user] === true; };
`})
	a, err := e.connect("a", "_definst_", amf.String("alice"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.m.Instances()) != 0 || a.p.State() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the failed instance was not unloaded, or its client not answered")
		}
		time.Sleep(time.Millisecond)
	}
	a.p.mu.Lock()
	info := a.p.info
	a.p.mu.Unlock()
	if st := a.p.State(); st != "rejected" || info.Get("application").Str() != instance.ScriptErrorApplication {
		t.Fatalf("first client: %s %v, want rejected with the generic message", st, fmtAMF(info))
	}
	_, err = e.connect("b", "_definst_", amf.String("alice"))
	if !errors.Is(err, instance.ErrScript) || !strings.Contains(err.Error(), "main.asc:2:5") {
		t.Fatalf("err = %v, want ErrScript at main.asc:2:5", err)
	}
	if n := len(e.ld.rt); n != 1 {
		t.Fatalf("%d loads for two connects to a failed script, want 1", n)
	}
	e.write("users.asc", "var users = {alice: true};")
	a, err = e.connect("a", "_definst_", amf.String("alice"))
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	if st := a.p.State(); st != "accepted" {
		t.Fatalf("alice after the fix: %s, want accepted", st)
	}
	b, err := e.connect("b", "_definst_", amf.String("mallory"))
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	if st := b.p.State(); st != "rejected" {
		t.Fatalf("mallory: %s, want rejected", st)
	}
}

// Entry-script search order (docs/ssas.md#which-script-runs): main.asc wins over <app>.asc,

// scripts/ first, case-insensitive fallback.
func TestFindEntry(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  string
		warn  bool
	}{
		{[]string{"main.asc", "app.asc"}, "main.asc", false},
		{[]string{"app.asc"}, "app.asc", false},
		{[]string{"scripts/main.asc", "main.asc"}, "scripts/main.asc", false},
		{[]string{"main.js", "app.asc"}, "main.js", false},
		{[]string{"Main.ASC"}, "Main.ASC", true},
		{nil, "", false},
	} {
		e := newEnv(t, Config{}, nil)
		for _, f := range tc.files {
			e.write(f, "//")
		}
		got, _, warn := FindEntry(e.dir+"/app", "app")
		if got != tc.want || warn != tc.warn {
			t.Errorf("%v: got %q warn=%v, want %q warn=%v", tc.files, got, warn, tc.want, tc.warn)
		}
	}
}

// The rewrites of the compatibility layer keep lines in place.
func TestPrepare(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"const A = 1;", "var   A = 1;"},
		{"var s = \"const\"; // const", "var s = \"const\"; // const"},
		{"if (x) {\n function f() {}\n}", "if (x) {\n var f = function f() {};\n}"},
		{"function top() { function inner() {} }", "function top() { function inner() {} }"},
		{"\uFEFFa = 1;\rb = 2;\r\nc = 3;", "a = 1;\nb = 2;\nc = 3;"},
	} {
		if got := prepare("t.asc", tc.in, false).text; got != tc.want {
			t.Errorf("prepare(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := prepare("t.asc", "#include \"lib.asc\"\ntrace(1);", true).text; got != "load(\"lib.asc\");\ntrace(1);" {
		t.Errorf("#include rewrite = %q", got)
	}
}

// Refused connects to distinct instance names (each loads a runtime)
// leave nothing behind: instances unload as soon as their only client is
// refused, so goroutines and heap return to where they were.
func TestRefusedConnectsToDistinctInstances(t *testing.T) {
	n := 5000
	if raceEnabled {
		n = 1000 // the race detector makes each runtime ~10x slower to build
	}
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
application.onConnect = function (c, user) { return user == "alice"; };
`})
	e.m.SetScriptLoader(e.host) // the capturing loader would keep every runtime
	runtime.GC()
	baseG := runtime.NumGoroutine()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peakG int
	for i := range n {
		p := &benchPeer{decided: make(chan bool, 1)}
		in, c, err := e.m.Connect("app", fmt.Sprint("room", i), instance.ClientInfo{Protocol: "rtmp", Args: []amf.Value{amf.String("mallory")}, Peer: p})
		if err != nil {
			t.Fatal(err)
		}
		if <-p.decided {
			t.Fatal("accepted")
		}
		in.Disconnect(c) // the transport closes a refused connection
		peakG = max(peakG, runtime.NumGoroutine())
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(e.m.Instances()) != 0 || runtime.NumGoroutine() > baseG+5 {
		if time.Now().After(deadline) {
			t.Fatalf("after %d refused connects: %d instances loaded, %d goroutines (baseline %d)",
				n, len(e.m.Instances()), runtime.NumGoroutine(), baseG)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(base.HeapAlloc)
	t.Logf("%d refused connects: peak goroutines %d (baseline %d), heap %+d bytes", n, peakG, baseG, grew)
	if grew > 20<<20 {
		t.Fatalf("heap grew by %d bytes after %d refused connects", grew, n)
	}
	if peakG > baseG+200 {
		t.Fatalf("goroutines peaked at %d (baseline %d)", peakG, baseG)
	}
}
