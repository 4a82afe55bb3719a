package ssas

import (
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

// refBomb is depth levels of [x, x] where both elements are one shared
// array: 2*depth+1 nodes decoded (a few bytes of AMF0 references on the
// wire), 2^depth leaves when followed as a tree.
func refBomb(depth int) amf.Value {
	x := amf.StrictArray()
	for range depth {
		x = amf.StrictArray(x, x)
	}
	return x
}

// identityScript reports, for the value it gets, whether both halves of a
// [x, x] pair are one object all the way down (as FMS hands them over).
const identityScript = `
function shared(a) {
    for (var d = 0; a.length == 2; d++) {
        if (a[0] !== a[1]) return "copied at depth " + d;
        a = a[0];
    }
    return "shared " + d;
}
application.onConnect = function (c, a) { trace("connect " + shared(a)); return true; };
Client.prototype.check = function (a) { return shared(a); };
Client.prototype.fromSO = function () {
    return shared(SharedObject.get("bomb", false).getProperty("k"));
};
Client.prototype.cycle = function (o) { return o.self === o && o.list[0] === o; };
`

// The reference bomb of a 558-byte connect (shared references 40 levels
// deep) converts in linear time and keeps its identity, for connect
// arguments, client call arguments and shared-object values.
func TestConvertKeepsSharedReferences(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": identityScript})
	cl, err := e.connect("a", "_definst_", refBomb(40))
	if err != nil {
		t.Fatal(err)
	}
	e.waitLine("connect shared 40")
	if v, ok := cl.call("check", refBomb(40)); !ok || v.Str() != "shared 40" {
		t.Fatalf("check = %v %v", v, ok)
	}
	so, err := cl.in.SharedObjects().Get("bomb", false)
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	// SetProperty encodes the value for the wire, where AMF0 spells the
	// tree out (amf max_expand); the slot keeps the shared graph.
	if err := so.SetProperty("k", refBomb(12)); err != nil {
		t.Fatal(err)
	}
	if v, ok := cl.call("fromSO"); !ok || v.Str() != "shared 12" {
		t.Fatalf("fromSO = %v %v", v, ok)
	}
	// A cycle (an AMF0 object that refers to itself) converts to a cycle.
	o := amf.Object()
	o.Set("self", o)
	o.Set("list", amf.StrictArray(o))
	if v, ok := cl.call("cycle", o); !ok || !v.Bool() {
		t.Fatalf("cycle = %v %v", v, ok)
	}
}

// wide returns an array of n distinct empty objects.
func wide(n int) amf.Value {
	el := make([]amf.Value, n)
	for i := range el {
		el[i] = amf.Object()
	}
	return amf.StrictArray(el...)
}

// A value past the node or byte budget is refused: the connect is
// rejected, the call fails, and the script and other clients carry on.
func TestConvertBudget(t *testing.T) {
	e := newEnv(t, Config{MaxConvertNodes: 1000, MaxConvertBytes: 4096}, map[string]string{"main.asc": identityScript + `
Client.prototype.count = function (a) { return a.length; };
`})
	big, err := e.connect("big", "_definst_", wide(2000))
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	if big.p.State() != "rejected" || !strings.Contains(fmtAMF(big.p.info), "too large") {
		t.Fatalf("oversized connect: state %q info %s", big.p.State(), fmtAMF(big.p.info))
	}
	cl, err := e.connect("a", "_definst_", refBomb(40))
	if err != nil {
		t.Fatal(err)
	}
	e.waitLine("connect shared 40")
	if v, ok := cl.call("count", wide(999)); !ok || v.Num() != 999 {
		t.Fatalf("count(999 objects) = %v %v", v, ok)
	}
	if v, ok := cl.call("count", wide(1001)); ok {
		t.Fatalf("count(1001 objects) = %v, want a failed call", v)
	}
	long := amf.String(strings.Repeat("é", 3000)) // 6000 bytes
	if v, ok := cl.call("count", long); ok {
		t.Fatalf("count(6000-byte string) = %v, want a failed call", v)
	}
	// One long string referenced many times counts once.
	s := amf.String(strings.Repeat("x", 3000))
	if v, ok := cl.call("count", amf.StrictArray(s, s, s, s)); !ok || v.Num() != 4 {
		t.Fatalf("count(4 references to one string) = %v %v", v, ok)
	}
}

// BenchmarkConvertArgs: the conversion of one call's arguments, an array
// of 100 objects of three properties (the memo and the budget included).
func BenchmarkConvertArgs(b *testing.B) {
	e := newEnv(b, Config{}, map[string]string{"main.asc": `Client.prototype.n = function (a) { return a.length; };`})
	cl, err := e.connect("a", "_definst_")
	if err != nil {
		b.Fatal(err)
	}
	e.barrier()
	el := make([]amf.Value, 100)
	for i := range el {
		el[i] = amf.Object(amf.Prop{Key: "id", Value: amf.Number(float64(i))},
			amf.Prop{Key: "name", Value: amf.String("user")}, amf.Prop{Key: "on", Value: amf.Bool(true)})
	}
	args := []amf.Value{amf.StrictArray(el...)}
	rt := e.ld.last()
	b.ReportAllocs()
	done := make(chan struct{})
	for b.Loop() {
		rt.post(func() {
			if _, err := rt.toJSArgs(args); err != nil {
				b.Error(err)
			}
			done <- struct{}{}
		})
		<-done
	}
	_ = cl
}
