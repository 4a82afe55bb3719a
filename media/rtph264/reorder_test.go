package rtph264

import (
	"slices"
	"testing"
	"time"
)

// arrival is one packet reaching the reorderer at a time offset.
type arrival struct {
	seq uint16
	at  time.Duration
}

func TestReorderer(t *testing.T) {
	t.Parallel()
	const wait = 50 * time.Millisecond
	ms := time.Millisecond
	tests := []struct {
		name      string
		max       int
		wait      time.Duration
		in        []arrival
		flushAt   time.Duration // a Flush after the arrivals, when set
		want      []uint16
		held      int
		reordered uint64
		skipped   uint64
		late      uint64
	}{
		{
			name: "in order",
			in:   []arrival{{10, 0}, {11, 1 * ms}, {12, 2 * ms}},
			want: []uint16{10, 11, 12},
		},
		{
			name:      "two swapped",
			in:        []arrival{{10, 0}, {12, 1 * ms}, {11, 2 * ms}, {13, 3 * ms}},
			want:      []uint16{10, 11, 12, 13},
			reordered: 1,
		},
		{
			name: "retransmission within the wait fills the gap",
			in: []arrival{{10, 0}, {12, 1 * ms}, {13, 2 * ms}, {14, 20 * ms},
				{11, 49 * ms}, {15, 60 * ms}},
			want:      []uint16{10, 11, 12, 13, 14, 15},
			reordered: 1,
		},
		{
			name: "a gap given up after the wait, its retransmission then late",
			in: []arrival{{10, 0}, {12, 1 * ms}, {13, 2 * ms}, {14, 40 * ms},
				{15, 51 * ms}, {11, 70 * ms}, {16, 71 * ms}},
			want:    []uint16{10, 12, 13, 14, 15, 16},
			skipped: 1,
			late:    1,
		},
		{
			name:    "packets held behind a gap stay until a flush",
			in:      []arrival{{10, 0}, {12, 1 * ms}, {13, 2 * ms}},
			want:    []uint16{10},
			held:    2,
			flushAt: 50*ms - 1,
		},
		{
			name:    "a flush at the deadline releases them",
			in:      []arrival{{10, 0}, {12, 1 * ms}, {13, 2 * ms}},
			flushAt: 51 * ms,
			want:    []uint16{10, 12, 13},
			skipped: 1,
		},
		{
			name: "two gaps each wait from their own first packet",
			in: []arrival{{10, 0}, {12, 0}, {14, 30 * ms}, {15, 40 * ms},
				{16, 55 * ms}},
			want:    []uint16{10, 12},
			held:    3,
			skipped: 1,
		},
		{
			name:    "the window bounds what is held",
			max:     4,
			in:      []arrival{{10, 0}, {12, 0}, {13, 0}, {15, 0}},
			want:    []uint16{10, 12, 13, 15},
			skipped: 2,
		},
		{
			name:      "duplicates and old packets are late",
			in:        []arrival{{10, 0}, {12, 0}, {12, 0}, {10, 0}, {11, 0}, {11, 0}},
			want:      []uint16{10, 11, 12},
			reordered: 1,
			late:      3,
		},
		{
			name:      "sequence numbers wrap",
			in:        []arrival{{65534, 0}, {0, 0}, {65535, 0}, {2, 0}, {1, 0}},
			want:      []uint16{65534, 65535, 0, 1, 2},
			reordered: 2,
		},
		{
			name:    "a jump far ahead gives up the gap at once",
			in:      []arrival{{10, 0}, {12, 0}, {5000, 0}, {5001, 0}},
			want:    []uint16{10, 12, 5000, 5001},
			skipped: 1 + 5000 - 13,
		},
		{
			name:    "no wait: a gap is given up at once",
			wait:    -1,
			in:      []arrival{{10, 0}, {12, 0}, {11, 0}, {13, 0}},
			want:    []uint16{10, 12, 13},
			skipped: 1,
			late:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := wait
			if tt.wait != 0 {
				w = tt.wait
			}
			r := Reorderer{Wait: w, Max: tt.max}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var got []uint16
			out := func(p Packet) { got = append(got, p.Seq) }
			for _, a := range tt.in {
				r.Push(Packet{Seq: a.seq, Payload: []byte{byte(a.seq)}}, t0.Add(a.at), out)
			}
			if tt.flushAt != 0 {
				r.Flush(t0.Add(tt.flushAt), out)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("released %v, want %v", got, tt.want)
			}
			if r.Held() != tt.held || r.Reordered() != tt.reordered || r.Skipped() != tt.skipped || r.Late() != tt.late {
				t.Errorf("held %d reordered %d skipped %d late %d, want %d %d %d %d",
					r.Held(), r.Reordered(), r.Skipped(), r.Late(), tt.held, tt.reordered, tt.skipped, tt.late)
			}
		})
	}
}

func TestReordererDeadline(t *testing.T) {
	t.Parallel()
	r := Reorderer{Wait: 80 * time.Millisecond}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := func(Packet) {}
	if _, ok := r.Deadline(); ok {
		t.Fatal("deadline with nothing held")
	}
	r.Push(Packet{Seq: 1}, t0, out)
	r.Push(Packet{Seq: 3}, t0.Add(10*time.Millisecond), out)
	r.Push(Packet{Seq: 4}, t0.Add(20*time.Millisecond), out)
	if d, ok := r.Deadline(); !ok || !d.Equal(t0.Add(90*time.Millisecond)) {
		t.Fatalf("deadline %v %v, want 90 ms after the start", d, ok)
	}
	r.Push(Packet{Seq: 2}, t0.Add(30*time.Millisecond), out)
	if _, ok := r.Deadline(); ok {
		t.Fatal("deadline after the gap filled")
	}
}

// TestReorderedUnits feeds a depacketizer through a reorderer: a keyframe
// and a frame whose packets arrive shuffled, one of them a retransmission
// after its successors, make two whole units and no loss.
func TestReorderedUnits(t *testing.T) {
	t.Parallel()
	ps := append(packets(500, 9000, 400, sps, pps, idr), packets(0, 12600, 400, p1)...)
	ps[len(ps)-1].seq = ps[len(ps)-2].seq + 1
	order := []int{0, 1, 3, 2, 5, 6, 7, 4, 8, 10, 9}
	if len(order) != len(ps) {
		t.Fatalf("%d packets, the order has %d", len(ps), len(order))
	}
	var (
		d     Depacketizer
		r     = Reorderer{Wait: 100 * time.Millisecond}
		units []AccessUnit
	)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, k := range order {
		p := ps[k]
		r.Push(Packet{Seq: p.seq, TS: p.ts, Marker: p.marker, Payload: p.payload}, t0.Add(time.Duration(i)*time.Millisecond), func(p Packet) {
			if err := d.Push(p.Payload, p.Seq, p.TS, p.Marker, func(au AccessUnit) {
				au.AVCC = slices.Clone(au.AVCC)
				units = append(units, au)
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(units) != 2 || !units[0].IDR || units[1].IDR || d.Lost() != 0 {
		t.Fatalf("%d units (first IDR %v), %d lost; want a keyframe and a frame, none lost", len(units), len(units) > 0 && units[0].IDR, d.Lost())
	}
	nals, err := SplitAVCC(nil, units[0].AVCC, 4, 10)
	if err != nil || len(nals) != 3 || len(nals[2]) != len(idr) {
		t.Fatalf("keyframe: %d NALs, %v", len(nals), err)
	}
	if r.Reordered() != 3 {
		t.Errorf("reordered %d, want 3", r.Reordered())
	}
}

// FuzzReorder pushes packets whose sequence numbers and arrival times
// come from the input (two bytes each: a sequence step around zero and a
// time step) and checks that packets go out in strictly rising order,
// each once, that what is held stays under the window, and that every
// packet pushed is released, held or counted late.
func FuzzReorder(f *testing.F) {
	f.Add([]byte{1, 1, 2, 1, 0xff, 60, 1, 1})
	f.Add([]byte{1, 0, 0x7f, 0, 0x81, 0, 1, 200, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Reorderer{Wait: 50 * time.Millisecond, Max: 16}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		seq := uint16(65530)
		var (
			last     uint16
			released int
			pushed   int
		)
		out := func(p Packet) {
			// Serial number order: at or after the one following the
			// last released (a jump of exactly half the space is ahead
			// of the next expected number, behind the last one).
			if released > 0 && int16(p.Seq-(last+1)) < 0 {
				t.Fatalf("released %d after %d", p.Seq, last)
			}
			last = p.Seq
			released++
		}
		for len(b) >= 2 {
			seq += uint16(int8(b[0]))
			now = now.Add(time.Duration(b[1]) * time.Millisecond)
			b = b[2:]
			pushed++
			r.Push(Packet{Seq: seq}, now, out)
			if r.Held() >= 16 {
				t.Fatalf("%d packets held with a window of 16", r.Held())
			}
			if released+r.Held()+int(r.Late()) != pushed {
				t.Fatalf("%d pushed: %d released, %d held, %d late", pushed, released, r.Held(), r.Late())
			}
		}
		r.Flush(now.Add(time.Hour), out)
		if r.Held() != 0 {
			t.Fatalf("%d held after a flush past every deadline", r.Held())
		}
	})
}
