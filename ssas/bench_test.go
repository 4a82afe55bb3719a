package ssas

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
)

// benchPeer signals decisions on a channel and records nothing else.
type benchPeer struct{ decided chan bool }

func (p *benchPeer) Accept(*instance.Client)                        { p.decided <- true }
func (p *benchPeer) Reject(*instance.Client, amf.Value)             { p.decided <- false }
func (p *benchPeer) Call(string, []amf.Value, instance.Result) bool { return true }
func (p *benchPeer) Close(amf.Value)                                {}
func (p *benchPeer) Ping() bool                                     { return true }
func (p *benchPeer) Stats() instance.PeerStats                      { return instance.PeerStats{} }

const benchAuth = `
var accounts = { alice: "secret" };
application.onConnect = function (client, user, pass) {
    if (accounts[user] === pass) return true;
    application.rejectConnection(client, { message: "bad credentials" });
};
Client.prototype.add = function (a, b) { return a + b; };
`

// BenchmarkConnect: connects per second through the engine with an
// onConnect that checks a connect argument and accepts. Each iteration is one connect, its decision and
// the disconnect.
func BenchmarkConnect(b *testing.B) {
	e := newEnv(b, Config{}, map[string]string{"main.asc": benchAuth})
	p := &benchPeer{decided: make(chan bool, 1)}
	args := []amf.Value{amf.String("alice"), amf.String("secret")}
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		in, c, err := e.m.Connect("app", "_definst_", instance.ClientInfo{Protocol: "rtmp", Args: args, Peer: p})
		if err != nil {
			b.Fatal(err)
		}
		if !<-p.decided {
			b.Fatal("rejected")
		}
		in.Disconnect(c)
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "connects/s")
}

// BenchmarkRPC: client-to-server round trips through a Client.prototype
// method (argument conversion, the loop hop, the call, the result).
func BenchmarkRPC(b *testing.B) {
	e := newEnv(b, Config{}, map[string]string{"main.asc": benchAuth})
	p := &benchPeer{decided: make(chan bool, 1)}
	in, c, err := e.m.Connect("app", "_definst_", instance.ClientInfo{Protocol: "rtmp",
		Args: []amf.Value{amf.String("alice"), amf.String("secret")}, Peer: p})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Disconnect(c)
	<-p.decided
	done := make(chan amf.Value, 1)
	args := []amf.Value{amf.Number(2), amf.Number(3)}
	res := func(v amf.Value, _ bool) { done <- v }
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		in.Call(c, "add", args, res)
		if v := <-done; v.Num() != 5 {
			b.Fatalf("add = %v", v)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkIdleInstanceMemory: heap held by one loaded, idle instance
// runtime (goja runtime, SSAS globals, the sample chat script), measured
// over 50 instances.
func BenchmarkIdleInstanceMemory(b *testing.B) {
	const n = 50
	script := `
application.onAppStart = function () { users = {}; count = 0; };
application.onConnect = function (c, name) { c.name = name; users[c.id] = name; count++; return true; };
application.onDisconnect = function (c) { delete users[c.id]; count--; };
Client.prototype.say = function (t) { return this.name + ": " + t; };
`
	for b.Loop() {
		e := newEnv(b, Config{}, map[string]string{"main.asc": script})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var clients []*client
		for i := range n {
			cl, err := e.connect("c", fmt.Sprintf("i%d", i), amf.String("x"))
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, cl)
		}
		for _, rt := range e.ld.rt {
			done := make(chan struct{})
			rt.post(func() { close(done) })
			<-done
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/instance")
		runtime.KeepAlive(clients)
		e.m.Close()
	}
}
