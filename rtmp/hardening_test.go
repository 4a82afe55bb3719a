package rtmp

import (
	"bytes"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject"
)

// engineSO returns the live app's shared object name, as a script would
// hold it, once a client has created the instance.
func engineSO(t testing.TB, ts *testServer, name string) *sharedobject.SharedObject {
	t.Helper()
	var so *sharedobject.SharedObject
	testutil.WaitFor(t, 5*time.Second, "the instance", func() bool {
		for _, in := range ts.eng.Instances() {
			so, _ = in.SharedObjects().Get(name, false)
			return so != nil
		}
		return false
	})
	t.Cleanup(so.Close)
	return so
}

// TestSharedObjectTickOver16MB: a script that sends 17 MB to a shared
// object in one tick (under lock(), so it is one tick whatever the
// machine's speed) reaches a subscriber whole. Before, the tick was one
// 17 MB body, and the subscriber's writer panicked on it (the chunk length
// field holds 16 MiB - 1).
func TestSharedObjectTickOver16MB(t *testing.T) {
	ts := startServerWith(t, Config{MaxQueuedBytes: 64 << 20}, instance.Config{})
	ctx := testutil.Context(t, 5*time.Second)
	c := dial(t, ts, "live", ClientConfig{})
	var got atomic.Int64
	var order atomic.Bool
	order.Store(true)
	cso := NewSharedObject("big", false)
	cso.OnMessage = func(handler string, args []amf.Value) {
		if handler != "h" {
			return
		}
		if len(args) != 2 || args[0].Num() != float64(got.Load()) {
			order.Store(false)
		}
		got.Add(1)
	}
	if err := cso.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	so := engineSO(t, ts, "big")

	const sends = 280 // × 60,000 bytes: 16.8 MB
	arg := amf.String(strings.Repeat("x", 60000))
	so.Lock()
	for i := range sends {
		if err := so.Send("h", amf.Number(float64(i)), arg); err != nil {
			t.Fatal(err)
		}
	}
	so.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < sends {
		select {
		case <-c.Done():
			t.Fatalf("subscriber disconnected after %d sends: %v", got.Load(), c.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber got %d of %d sends", got.Load(), sends)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !order.Load() {
		t.Fatal("sends arrived out of order")
	}
	if strings.Contains(ts.logs.String(), "panic") {
		t.Fatal("the server logged a panic")
	}
}

// TestCommandQueueBytesBound: a client that stops reading while large
// shared-object messages are queued for it is cut off once the queue holds
// more than MaxQueuedBytes, long before MaxQueuedCommands messages. Before,
// only the count was bounded: 1024 messages of up to 16 MiB each.
func TestCommandQueueBytesBound(t *testing.T) {
	ts := startServerWith(t, Config{MaxQueuedBytes: 4 << 20, MaxQueuedCommands: 4096, WriteTimeout: time.Minute}, instance.Config{})
	ctx := testutil.Context(t, 5*time.Second)

	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)
	sc := &stallConn{Conn: nc, closed: make(chan struct{})}
	c, err := NewClient(ctx, sc, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Connect(ctx, "live", ts.url("live")); err != nil {
		t.Fatal(err)
	}
	cso := NewSharedObject("q", false)
	if err := cso.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	so := engineSO(t, ts, "q")
	sc.stall()

	// 1 MB a tick: 4 ticks fill the queue (the socket buffers hold some).
	arg := amf.String(strings.Repeat("x", 1<<20))
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; !strings.Contains(ts.logs.String(), "outgoing command queue full"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("not cut off after %d MB queued", i)
		}
		if i > 64 {
			t.Fatalf("%d MB queued and still connected; the bound is 4 MiB", i)
		}
		if err := so.Send("h", arg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // one tick each (coalesce 10 ms)
	}
	testutil.WaitFor(t, 5*time.Second, "the closed line", func() bool { return strings.Contains(ts.logs.String(), "reason=slow_consumer") })
}

// TestDeclaredSizesDoNotAllocate: 150 connections each set a 16 MiB chunk
// size, declare a 16 MiB message and send one byte of it. The server holds
// what arrived (a first step of 64 KiB each), not what was declared: before,
// each connection allocated 16 MiB at once, 2.4 GB for 150 × 29 bytes.
func TestDeclaredSizesDoNotAllocate(t *testing.T) {
	ts := startServerWith(t, Config{HandshakeTimeout: time.Minute}, instance.Config{})
	const conns = 150
	attack := must(chunk.NewWriter().AppendBytes(nil, chunk.Header{CSID: 2, Type: chunk.TypeSetChunkSize}, []byte{0x01, 0, 0, 0}))
	attack = append(attack, 6, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0, 0x17)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for range conns {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(attack); err != nil {
			t.Fatal(err)
		}
	}
	// Every connection has read its byte once each holds a first step.
	testutil.WaitFor(t, 5*time.Second, "every attack read", func() bool { return ts.srv.PendingBytes() >= conns*64<<10 })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d connections, %d bytes declared each: heap +%.1f MB, reassembly %.1f MB",
		conns, 1<<24-1, float64(grew)/1e6, float64(ts.srv.PendingBytes())/1e6)
	if limit := int64(conns * 256 << 10); grew > limit {
		t.Fatalf("heap grew by %d bytes, want under %d", grew, limit)
	}
	if n := ts.srv.PendingBytes(); n > conns*64<<10 {
		t.Fatalf("reassembly holds %d bytes, want at most 64 KiB per connection", n)
	}
}

// TestPendingTotalBound: connections that together would hold more than
// MaxPendingTotal for messages in progress are closed (reason limit) while
// others keep connecting and working; what they held is given back.
func TestPendingTotalBound(t *testing.T) {
	ts := startServerWith(t, Config{HandshakeTimeout: time.Minute, MaxPendingTotal: 4 << 20}, instance.Config{})
	attack := must(chunk.NewWriter().AppendBytes(nil, chunk.Header{CSID: 2, Type: chunk.TypeSetChunkSize}, []byte{0x01, 0, 0, 0}))
	attack = append(attack, 6, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0)
	attack = append(attack, make([]byte, 1<<20)...) // 1 MiB of 16: holds 1 MiB
	var ncs []net.Conn
	for range 8 {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		ncs = append(ncs, nc)
		if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write(attack) // the server may close it meanwhile
	}
	testutil.WaitFor(t, 5*time.Second, "connections over the budget closed", func() bool {
		return strings.Count(ts.logs.String(), "reassembly budget exhausted") >= 4
	})
	if n := ts.srv.PendingBytes(); n > 4<<20 {
		t.Fatalf("reassembly holds %d bytes, limit %d", n, 4<<20)
	}
	if !strings.Contains(ts.logs.String(), "reason=limit") {
		t.Fatal("no connection closed with reason limit")
	}
	for _, nc := range ncs {
		_ = nc.Close()
	}
	testutil.WaitFor(t, 5*time.Second, "the budget given back", func() bool { return ts.srv.PendingBytes() == 0 })
	// An honest client works.
	c := dial(t, ts, "live", ClientConfig{})
	if _, err := c.CreateStream(testutil.Context(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestAggregatePublish: an aggregate message (type 22) from a publisher
// reaches a player as its sub-messages, rebased onto the message's clock
// (tags at 5000 and 5040 in a message at 1000: 1000 and 1040); a malformed
// one closes the publisher and delivers none of its parts.
func TestAggregatePublish(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	pub := publishStream(ctx, t, ts, "live", "agg")
	rec := &packetRecorder{}
	playLive(ctx, t, ts, "live", "agg", rec)
	agg := must(message.AppendAggregate(nil, []message.AggregatePart{
		{Type: message.TypeAudio, Timestamp: 5000, Body: aacConfig},
		{Type: message.TypeVideo, Timestamp: 5040, Body: keyframe(1)},
	}))
	send := func(p []byte) error {
		return pub.c.writeMsg(chunk.Header{CSID: message.CSIDVideo, Timestamp: 1000, Type: message.TypeAggregate, StreamID: pub.ID}, p)
	}
	if err := send(agg); err != nil {
		t.Fatal(err)
	}
	av := func() []media.Packet {
		var out []media.Packet
		for _, p := range rec.snapshot() {
			if p.Kind != media.Data {
				out = append(out, p)
			}
		}
		return out
	}
	testutil.WaitFor(t, 5*time.Second, "both parts played", func() bool { return len(av()) >= 2 })
	got := av()
	if got[0].Kind != media.Audio || got[0].Time != 1000 || got[1].Kind != media.Video || got[1].Time != 1040 ||
		!bytes.Equal(got[1].Payload, keyframe(1)) {
		t.Fatalf("played %+v", got)
	}
	// A whole first part, then a truncated one: nothing of it is played.
	if err := send(append(agg, 9, 0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pub.c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a malformed aggregate did not close the publisher")
	}
	if n := len(av()); n != 2 {
		t.Fatalf("%d packets played, want the first 2 only", n)
	}
}
