package loadbench

import (
	"slices"
	"testing"

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
