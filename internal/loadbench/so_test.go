package loadbench

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

// soBody encodes a type-19 message of bench with events.
func soBody(tb testing.TB, events ...wire.Event) []byte {
	tb.Helper()
	var e amf.Encoder
	m := wire.Message{Name: soName, Version: 7, Events: events}
	b, err := m.Append(nil, false, &e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSOChangesReadsEveryChange: every numeric Change of a tick counts,
// in order, and nothing else does: a Success (the writer's own answer),
// a Change to a value that is not a number, a Clear.
func TestSOChangesReadsEveryChange(t *testing.T) {
	p := soBody(t,
		wire.Event{Type: wire.EventSuccess, Key: "k1"},
		wire.Event{Type: wire.EventChange, Key: "k2", Value: amf.Number(2)},
		wire.Event{Type: wire.EventChange, Key: "name", Value: amf.String("12345678")},
		wire.Event{Type: wire.EventClear},
		wire.Event{Type: wire.EventChange, Key: "k3", Value: amf.Number(3)},
		wire.Event{Type: wire.EventChange, Key: "k40", Value: amf.Number(140)},
	)
	var got []int
	soChanges(p, func(id int) { got = append(got, id) })
	if want := []int{2, 3, 140}; !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	// A message cut short reports the whole events before the cut only.
	got = got[:0]
	soChanges(p[:len(p)-3], func(id int) { got = append(got, id) })
	if want := []int{2, 3}; !slices.Equal(got, want) {
		t.Fatalf("changes of a truncated message %v, want %v", got, want)
	}
}

// TestSOSeenCountsReplacedNotMissing: past the last change counted, a
// message delivers the changes it carries and those a later change of the
// same slot in it replaced; a change that is neither (refused, lost) is
// not counted, and nothing is counted twice.
func TestSOSeenCountsReplacedNotMissing(t *testing.T) {
	v := soSeen{last: 100}
	var got []int
	count := func(id int) { got = append(got, id) }
	// 101 was replaced by 201 (slot 1); 102..149 and 151..200 are missing.
	v.message(soBody(t,
		wire.Event{Type: wire.EventChange, Key: "k50", Value: amf.Number(150)},
		wire.Event{Type: wire.EventChange, Key: "k1", Value: amf.Number(201)},
	), count)
	if want := []int{101, 150, 201}; !slices.Equal(got, want) {
		t.Fatalf("counted %v, want %v", got, want)
	}
	got = got[:0]
	// A resync repeating 150 and 201, then 202.
	v.message(soBody(t,
		wire.Event{Type: wire.EventChange, Key: "k50", Value: amf.Number(150)},
		wire.Event{Type: wire.EventChange, Key: "k1", Value: amf.Number(201)},
		wire.Event{Type: wire.EventChange, Key: "k2", Value: amf.Number(202)},
	), count)
	if want := []int{202}; !slices.Equal(got, want) {
		t.Fatalf("counted %v after a resync, want %v", got, want)
	}
}

// TestSOTrackerCountsOnlyWhatEveryoneRead: a change is delivered once the
// last subscriber reads it, and only then; the first read is timed apart.
func TestSOTrackerCountsOnlyWhatEveryoneRead(t *testing.T) {
	var tr soTracker
	tr.n.Store(2)
	tr.wrote(1)
	tr.wrote(2)
	tr.read(1, 0)
	tr.read(2, 0)
	tr.read(2, 0)
	if d := tr.done.Load(); d != 1 {
		t.Fatalf("%d changes delivered, want 1 (change 1 reached one subscriber of two)", d)
	}
	var first, last int64
	for i := range LatencyBuckets {
		first += tr.first.b[i].Load()
		last += tr.lat.b[i].Load()
	}
	if first != 2 || last != 1 {
		t.Fatalf("first-read latencies %d, last-read %d; want 2 and 1", first, last)
	}
}

// FuzzSOChanges: whatever the server sends, the subscriber's scan of it
// neither panics nor reads past the message.
func FuzzSOChanges(f *testing.F) {
	f.Add(soBody(f, wire.Event{Type: wire.EventChange, Key: "k1", Value: amf.Number(1)}))
	f.Add([]byte{0, 5, 'b', 'e', 'n', 'c', 'h'})
	f.Fuzz(func(t *testing.T, p []byte) {
		soChanges(p, func(int) {})
	})
}

// TestSOFloorRecordRoundTrip: a floor record reads back as written, and
// what is not one is refused.
func TestSOFloorRecordRoundTrip(t *testing.T) {
	start := time.Unix(1700000000, 42)
	rec := appendSOFloorRecord(nil, start, time.Millisecond, 11, 20)
	if len(rec) != soFloorRecord {
		t.Fatalf("record of %d bytes, want %d", len(rec), soFloorRecord)
	}
	s, period, from, to, ok := parseSOFloorRecord(rec)
	if !ok || !s.Equal(start) || period != time.Millisecond || from != 11 || to != 20 {
		t.Fatalf("read back %v %v %d..%d %v", s, period, from, to, ok)
	}
	for _, bad := range [][]byte{rec[:20], make([]byte, soFloorRecord), appendSOFloorRecord(nil, start, time.Millisecond, 5, 4)} {
		if _, _, _, _, ok := parseSOFloorRecord(bad); ok {
			t.Errorf("% x read as a record", bad[:min(len(bad), 36)])
		}
	}
}

// TestFleetSOFloor: sinks reading the floor's records count each change
// once every one of them has read it.
func TestFleetSOFloor(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	const n = 3
	accepted := make(chan []*net.TCPConn, 1)
	go func() {
		var conns []*net.TCPConn
		for range n {
			c, err := ln.AcceptTCP()
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		accepted <- conns
	}()
	r := startFleet(t, FleetOptions{Mode: ModeSink, SOFloor: true, Target: ln.Addr().String(), N: n})
	var j Joined
	r.expect(t, "joined", &j)
	conns := <-accepted
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if j.Connected != n || len(conns) != n {
		t.Fatalf("joined %+v, %d accepted", j, len(conns))
	}
	quit := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- soFloorLoop(conns, 10*time.Millisecond, time.Millisecond, 1, quit) }()
	// A snapshot reads the latencies before the count: one taken while
	// a late first record delivers every change so far holds the count
	// but none of their latencies. Such a snapshot is not the one to check.
	s := r.snapshotUntil(t, func(s Snapshot) bool { return s.Changes >= 50 && slices.Max(append(s.Latency, 0)) > 0 })
	close(quit)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var last int64
	for _, c := range s.Latency {
		last += c
	}
	if s.Alive != n || s.Changes > s.Written || last < 1 || last > s.Changes {
		t.Errorf("snapshot: %d alive, %d changes of %d, %d latencies", s.Alive, s.Changes, s.Written, last)
	}
	if sum := r.finish(t); sum.Connected != n || sum.Dropped != 0 {
		t.Errorf("summary %+v", sum)
	}
}
