package rtmp

import (
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/sharedobject/wire"
	"github.com/openfcs/openfcs/status"
)

func soUnhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSharedObjectDocChunks: the full chunks of docs/shared-objects.md#byte-examples (a),
// (b) and (c) as type 16, byte for byte, from the client encoder, the
// engine and the chunk writer.
func TestSharedObjectDocChunks(t *testing.T) {
	var e amf.Encoder
	w := chunk.NewWriter()
	use := wire.Message{Name: "chat", Events: []wire.Event{{Type: wire.EventUse}}}
	p, _ := use.Append(nil, false, &e)
	got := must(w.AppendBytes(nil, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeSharedObject}, p))
	want := soUnhex(t, `03 00 00 00 00 00 17 13 00 00 00 00
		00 04 63 68 61 74  00 00 00 00  00 00 00 00  00 00 00 00  01 00 00 00 00`)
	if string(got) != string(want) {
		t.Fatalf("(a)\n got % x\nwant % x", got, want)
	}

	// (b): the engine's full sync for a client without a copy, after one
	// batch set topic and count (version 1 -> 2).
	reg := sharedobject.NewRegistry(sharedobject.Config{}, nil, nil)
	defer reg.Close()
	setter := reg.NewSession(discard{})
	m := wire.Message{Name: "chat", Version: 1, Events: []wire.Event{{Type: wire.EventUse},
		{Type: wire.EventRequestChange, Key: "topic", Value: amf.String("Go")},
		{Type: wire.EventRequestChange, Key: "count", Value: amf.Number(3)}}}
	if err := setter.Handle(&m); err != nil {
		t.Fatal(err)
	}
	var out capture
	joiner := reg.NewSession(&out)
	m = wire.Message{Name: "chat", Events: []wire.Event{{Type: wire.EventUse}}}
	if err := joiner.Handle(&m); err != nil {
		t.Fatal(err)
	}
	w2 := chunk.NewWriter()
	got = must(w2.AppendBytes(nil, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeSharedObject}, out.msgs[0].AMF0()))
	want = soUnhex(t, `03 00 00 00 00 00 42 13 00 00 00 00
		00 04 63 68 61 74  00 00 00 02  00 00 00 00  00 00 00 00
		0b 00 00 00 00  08 00 00 00 00
		04 00 00 00 0c  00 05 74 6f 70 69 63  02 00 02 47 6f
		04 00 00 00 10  00 05 63 6f 75 6e 74  00 40 08 00 00 00 00 00 00`)
	if string(got) != string(want) {
		t.Fatalf("(b)\n got % x\nwant % x", got, want)
	}
	setter.Close()
	joiner.Close()

	// (c) as type 16.
	rc := wire.Message{Name: "chat", Version: 2, Events: []wire.Event{{Type: wire.EventRequestChange, Key: "msg", Value: amf.String("hi")}}}
	p, _ = rc.Append(nil, true, &e)
	w3 := chunk.NewWriter()
	got = must(w3.AppendBytes(nil, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeSharedObjectAMF3}, p))
	want = soUnhex(t, `03 00 00 00 00 00 22 10 00 00 00 00
		00 00 04 63 68 61 74  00 00 00 02  00 00 00 00  00 00 00 00  03 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69`)
	if string(got) != string(want) {
		t.Fatalf("(c)\n got % x\nwant % x", got, want)
	}
}

type discard struct{}

func (discard) Deliver(sharedobject.Outgoing) {}

type capture struct{ msgs []sharedobject.Outgoing }

func (c *capture) Deliver(o sharedobject.Outgoing) { c.msgs = append(c.msgs, o) }

// syncLog records a client object's onSync lists.
type syncLog struct {
	mu    sync.Mutex
	items []SyncItem
	sends [][]amf.Value
}

func watch(so *SharedObject) *syncLog {
	l := &syncLog{}
	so.OnSync = func(items []SyncItem) {
		l.mu.Lock()
		l.items = append(l.items, items...)
		l.mu.Unlock()
	}
	so.OnMessage = func(h string, args []amf.Value) {
		l.mu.Lock()
		l.sends = append(l.sends, append([]amf.Value{amf.String(h)}, args...))
		l.mu.Unlock()
	}
	return l
}

func (l *syncLog) has(code, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, it := range l.items {
		if it.Code == code && it.Name == name {
			return true
		}
	}
	return false
}

func (l *syncLog) nsends() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sends)
}

// TestSharedObjectLoopback: AMF0 and AMF3 clients over the real server.
func TestSharedObjectLoopback(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	clients := []*Client{dial(t, ts, "live", ClientConfig{}), dial(t, ts, "live", ClientConfig{}), dial(t, ts, "live", ClientConfig{ObjectEncoding: 3})}
	sos := make([]*SharedObject, len(clients))
	logs := make([]*syncLog, len(clients))
	for i, c := range clients {
		sos[i] = NewSharedObject("chat", false)
		logs[i] = watch(sos[i])
		if err := sos[i].Connect(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	value := amf.Object(amf.Prop{Key: "n", Value: amf.Number(1.5)}, amf.Prop{Key: "list",
		Value: amf.StrictArray(amf.String("x"), amf.Null(), amf.Undefined(), amf.Bool(true), amf.Date(1e12),
			amf.ECMAArray(amf.Prop{Key: "k", Value: amf.XMLDocument("<a/>")}), amf.TypedObject("Pt", amf.Prop{Key: "y", Value: amf.Number(2)}))})
	if err := sos[0].SetProperty("msg", value); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "A success", func() bool { return logs[0].has("success", "msg") })
	for i := 1; i < 3; i++ {
		testutil.WaitFor(t, 5*time.Second, "change", func() bool { return logs[i].has("change", "msg") })
		if !amf.Equal(sos[i].Get("msg"), value) {
			t.Fatalf("client %d got %v", i, sos[i].Get("msg"))
		}
	}
	// The AMF3 client writes an AMF3-only value; the AMF0 client sees it.
	ba := amf.ByteArray([]byte{1, 2, 3})
	if err := sos[2].SetProperty("bin", ba); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "AMF0 sees AMF3 change", func() bool { return amf.Equal(sos[0].Get("bin"), ba) })

	if err := sos[1].Send("newLine", amf.String("hi"), amf.Number(3)); err != nil {
		t.Fatal(err)
	}
	for i := range sos {
		testutil.WaitFor(t, 5*time.Second, "send", func() bool { return logs[i].nsends() == 1 })
	}
	if err := sos[0].SetProperty("msg", amf.Null()); err != nil {
		t.Fatal(err)
	}
	for i := range sos {
		testutil.WaitFor(t, 5*time.Second, "delete", func() bool { return logs[i].has("delete", "msg") })
	}
	v := sos[0].Version()
	testutil.WaitFor(t, 5*time.Second, "same version", func() bool { return sos[1].Version() == v && sos[2].Version() == v })

	// Reconnect with the local copy: only what was missed.
	if err := sos[1].Close(); err != nil {
		t.Fatal(err)
	}
	_ = sos[0].SetProperty("later", amf.Number(7))
	testutil.WaitFor(t, 5*time.Second, "success", func() bool { return logs[0].has("success", "later") })
	before := sos[1].Messages()
	c4 := dial(t, ts, "live", ClientConfig{ObjectEncoding: 3})
	*logs[1] = syncLog{}
	if err := sos[1].Connect(ctx, c4); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "delta", func() bool { return logs[1].has("change", "later") })
	if logs[1].has("clear", "") || sos[1].Messages() != before+1 {
		t.Fatalf("reconnect was a full resync: %+v", logs[1].items)
	}

	// Bad names are refused with a status; the connection stays.
	bad := NewSharedObject("../escape", true)
	err := bad.Connect(ctx, clients[0])
	if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.ObjectCreationFailed {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := clients[0].Call(ctx, "noSuchMethod"); err == nil {
		t.Fatal("expected _error")
	}
}

// TestSharedObjectBadInputClosesOnlyThatConn: an event length past the end
// and an unknown event type each close their connection with a log line.
func TestSharedObjectBadInputClosesOnlyThatConn(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	good := dial(t, ts, "live", ClientConfig{})
	so := NewSharedObject("chat", false)
	if err := so.Connect(ctx, good); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		"00 04 63 68 61 74 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 10 00 00 01 61",
		"00 04 63 68 61 74 00 00 00 00 00 00 00 00 00 00 00 00 0d 00 00 00 00",
	} {
		c := dial(t, ts, "live", ClientConfig{})
		if err := c.writeMsg(chunk.Header{CSID: 3, Type: message.TypeSharedObject}, soUnhex(t, body)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("connection not closed")
		}
	}
	testutil.WaitFor(t, 5*time.Second, "log", func() bool {
		l := ts.logs.String()
		return strings.Contains(l, "bad shared object message") && strings.Contains(l, "unknown event type")
	})
	if err := so.SetProperty("still", amf.Bool(true)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "good conn works", func() bool { return so.Pending() == 0 })
}

// TestSharedObjectBeforeConnect: SO messages before connect are a protocol
// error like any other message (docs/shared-objects.md#client-pitfalls).
func TestSharedObjectBeforeConnect(t *testing.T) {
	ts := startServer(t, Config{})
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	w := chunk.NewWriter()
	_, _ = nc.Write(must(w.AppendBytes(nil, chunk.Header{CSID: 3, Type: message.TypeSharedObject},
		soUnhex(t, "00 04 63 68 61 74 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00"))))
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := nc.Read(b[:]); err == nil {
		t.Fatal("server answered an SO message before connect")
	}
}

// TestSharedObjectDeliverAllocs: queueing an engine delivery on a
// connection allocates nothing (the payload bytes are shared, only the
// queue entry is written), so a tick's fan-out costs no allocation per
// subscriber.
func TestSharedObjectDeliverAllocs(t *testing.T) {
	// wGoroutine: as if a writer were draining, so none is started.
	c := &conn{cfg: &Config{MaxQueuedCommands: 1 << 20, MaxQueuedBytes: 1 << 30}, wake: make(chan struct{}, 1), out: make([]outMsg, 0, 4096), ws: wGoroutine}
	s := &soConn{c: c}
	var out capture
	reg := sharedobject.NewRegistry(sharedobject.Config{}, nil, nil)
	defer reg.Close()
	sess := reg.NewSession(&out)
	m := wire.Message{Name: "a", Events: []wire.Event{{Type: wire.EventUse}}}
	_ = sess.Handle(&m)
	o := out.msgs[0]
	for _, amf3 := range []bool{false, true} {
		s.amf3.Store(amf3)
		c.out = c.out[:0]
		if n := testing.AllocsPerRun(1000, func() { s.Deliver(o) }); n != 0 {
			t.Fatalf("amf3=%v: %v allocs per delivery", amf3, n)
		}
		if want := o.Body(amf3); &c.out[0].p[0] != &want[0] {
			t.Fatal("payload was copied")
		}
	}
	sess.Close()
}
