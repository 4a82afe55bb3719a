package media

import (
	"fmt"
	"testing"
)

// gopCycle is one second of a 25 fps H.264+AAC stream: a keyframe, 24 inter
// frames, an AAC frame after each. Packets are reused across cycles, as a
// steady state that allocates nothing but the publisher's own messages.
func gopCycle() []*Packet {
	var pkts []*Packet
	for i := range 25 {
		ts := uint32(i * 40)
		if i == 0 {
			pkts = append(pkts, key(ts, 4000))
		} else {
			pkts = append(pkts, inter(ts, 1200))
		}
		pkts = append(pkts, aac(ts+1, 200))
	}
	return pkts
}

type fanoutRig struct {
	p    *Publication
	subs []*Subscriber
	pkts []*Packet
	buf  []Event
	next int
}

func newFanoutRig(tb testing.TB, n int) *fanoutRig {
	tb.Helper()
	r := newRegistry(tb, Config{})
	g := &fanoutRig{p: publish(tb, r, "bench"), pkts: gopCycle(), buf: make([]Event, 0, 64)}
	g.p.Write(avcSeq(0))
	g.p.Write(aacSeq(0))
	for range n {
		s := r.Subscribe("bench", SubscribeOptions{})
		tb.Cleanup(s.Close)
		g.subs = append(g.subs, s)
	}
	// Warm up: one full GOP sizes the GOP cache array for good.
	for range 2 * len(g.pkts) {
		g.step()
	}
	return g
}

// step writes the next packet and lets every subscriber's writer take it,
// the way a connection's writer goroutine does on a wake-up.
func (g *fanoutRig) step() {
	g.p.Write(g.pkts[g.next])
	g.next = (g.next + 1) % len(g.pkts)
	for _, s := range g.subs {
		select {
		case <-s.Ready():
		default:
		}
		g.buf = s.Drain(g.buf[:0])
	}
}

func TestFanoutAllocs(t *testing.T) {
	g := newFanoutRig(t, 100)
	n := testing.AllocsPerRun(3*len(g.pkts), g.step)
	if n != 0 {
		t.Errorf("Write to 100 subscribers + Drain: %v allocs per message, want 0", n)
	}
	for _, s := range g.subs {
		if s.Err() != nil || s.Stats().Dropped != 0 {
			t.Fatalf("subscriber %+v err %v", s.Stats(), s.Err())
		}
	}
	if len(g.buf) != 1 {
		t.Errorf("last drain held %d events, want 1", len(g.buf))
	}
}

// BenchmarkRegistryFanout: one published message fanned out to N
// subscribers, each drained after every write (steady state). allocs/op is
// per message for all N subscribers together.
func BenchmarkRegistryFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			g := newFanoutRig(b, n)
			b.ReportAllocs()
			for b.Loop() {
				g.step()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sub")
		})
	}
}

// BenchmarkWriteOnly measures the publisher's side alone: Write into 1000
// rings while the subscribers drain only once per GOP (every 50 messages),
// as connections that flush in batches do.
func BenchmarkWriteOnly(b *testing.B) {
	g := newFanoutRig(b, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g.p.Write(g.pkts[g.next])
		g.next = (g.next + 1) % len(g.pkts)
		if i++; i%len(g.pkts) == 0 {
			for _, s := range g.subs {
				g.buf = s.Drain(g.buf[:0])
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sub")
}
