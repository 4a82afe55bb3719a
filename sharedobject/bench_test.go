package sharedobject

import (
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

// connSub models what the rtmp connection does with a delivery: append to
// a mutex-guarded queue and wake the writer goroutine, which drains it.
// The consumer reads the change id from the last 8 bytes of each body (the
// last event is a Change whose value is the id as a number).
type connSub struct {
	mu   sync.Mutex
	q    []Outgoing
	wake chan struct{}
	seen atomic.Int64 // highest change id seen
}

func (s *connSub) Deliver(o Outgoing) {
	s.mu.Lock()
	s.q = append(s.q, o)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// fanout is one object with n modeled subscribers and a writer session.
type fanout struct {
	r      *Registry
	w      *Session
	subs   []*connSub
	stop   chan struct{}
	wg     sync.WaitGroup
	sent   []int64 // request time of change i (ns since start)
	done   []atomic.Int32
	doneAt []atomic.Int64
	start  time.Time
	evs    []wire.Event
	msg    wire.Message
}

func newFanout(tb testing.TB, n, changes int, coalesce time.Duration) *fanout {
	tb.Helper()
	f := &fanout{r: NewRegistry(Config{Coalesce: coalesce, ChangeRate: 1e9, ChangeBurst: 1 << 30}, nil, nil),
		stop: make(chan struct{}), sent: make([]int64, changes+1), done: make([]atomic.Int32, changes+1),
		doneAt: make([]atomic.Int64, changes+1), start: time.Now()}
	f.w = f.r.NewSession(discard{})
	f.msg = wire.Message{Name: "bench", Events: []wire.Event{{Type: wire.EventUse}}}
	if err := f.w.Handle(&f.msg); err != nil {
		tb.Fatal(err)
	}
	for range n {
		s := &connSub{wake: make(chan struct{}, 1)}
		f.subs = append(f.subs, s)
		sess := f.r.NewSession(s)
		m := wire.Message{Name: "bench", Events: []wire.Event{{Type: wire.EventUse}}}
		if err := sess.Handle(&m); err != nil {
			tb.Fatal(err)
		}
		f.wg.Go(func() { f.consume(s, n) })
	}
	f.evs = make([]wire.Event, 1)
	return f
}

type discard struct{}

func (discard) Deliver(Outgoing) {}

func (f *fanout) consume(s *connSub, n int) {
	var spare []Outgoing
	for {
		select {
		case <-s.wake:
		case <-f.stop:
			return
		}
		s.mu.Lock()
		q := s.q
		s.q = spare[:0]
		s.mu.Unlock()
		now := time.Since(f.start).Nanoseconds()
		for _, o := range q {
			b := o.AMF0()
			id := int(math.Float64frombits(binary.BigEndian.Uint64(b[len(b)-8:])))
			seen := int(s.seen.Load())
			for j := seen + 1; j <= id && j < len(f.done); j++ {
				if f.done[j].Add(1) == int32(n) {
					f.doneAt[j].Store(now)
				}
			}
			s.seen.Store(int64(max(seen, id)))
		}
		clear(q)
		spare = q
	}
}

// change sends RequestChange k<i%100> = i from the writer session.
func (f *fanout) change(i int) {
	if i < len(f.sent) {
		f.sent[i] = time.Since(f.start).Nanoseconds()
	}
	f.evs[0] = wire.Event{Type: wire.EventRequestChange, Key: keys[i%len(keys)], Value: amf.Number(float64(i))}
	f.msg = wire.Message{Name: "bench", Version: math.MaxUint32, Events: f.evs}
	if err := f.w.Handle(&f.msg); err != nil {
		panic(err)
	}
}

var keys = func() []string {
	k := make([]string, 100)
	for i := range k {
		k[i] = "k" + strconv.Itoa(i)
	}
	return k
}()

// wait waits until every subscriber saw change last.
func (f *fanout) wait(last int) {
	for _, s := range f.subs {
		for s.seen.Load() < int64(last) {
			time.Sleep(time.Millisecond)
		}
	}
}

func (f *fanout) close() {
	close(f.stop)
	f.wg.Wait()
	_ = f.r.Close()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanout1000Paced is the benchmark: one object, 1,000
// subscribers, a writer at 1,000 changes/s (to 100 slots, so coalescing
// merges nothing). One iteration is one second of writing. Reported:
// delivered change events per CPU-second, p99 latency from the request to
// the last subscriber's Change, and allocations per delivered event per
// subscriber (per change; nothing is allocated per subscriber).
func BenchmarkFanout1000Paced(b *testing.B) {
	const subs, rate = 1000, 1000
	var (
		events   float64
		cpu      time.Duration
		lat      []time.Duration
		allocs   uint64
		total    int
		memStats = func() uint64 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.Mallocs
		}
	)
	b.ReportAllocs()
	for b.Loop() {
		f := newFanout(b, subs, rate, 10*time.Millisecond)
		c0, a0 := cpuTime(), memStats()
		tick := time.NewTicker(time.Second / rate)
		for i := 1; i <= rate; i++ {
			<-tick.C
			f.change(i)
		}
		tick.Stop()
		f.wait(rate)
		cpu += cpuTime() - c0
		allocs += memStats() - a0
		events += float64(subs * rate)
		total += rate
		for i := 1; i <= rate; i++ {
			lat = append(lat, time.Duration(f.doneAt[i].Load()-f.sent[i]))
		}
		f.close()
	}
	slices.Sort(lat)
	b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	// Per change, whatever the number of subscribers (see
	// TestDeliveryAllocsIndependentOfSubscribers): the accepted change's
	// event, the tick's shared body, the writer's own body.
	b.ReportMetric(float64(allocs)/float64(total), "allocs/change")
}

// BenchmarkFanout1000 measures the delivery cost: every iteration is one
// change delivered at once (leading edge) to 1,000 subscribers.
func BenchmarkFanout1000(b *testing.B) {
	const subs = 1000
	f := newFanout(b, subs, 0, time.Nanosecond) // no latency bookkeeping
	defer f.close()
	c0 := cpuTime()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		f.change(i)
	}
	f.wait(i)
	b.ReportMetric(float64(subs*i)/(cpuTime()-c0).Seconds(), "events/cpu-s")
}

// TestDeliveryAllocsIndependentOfSubscribers: a tick allocates the same for
// 1 and for 1,000 subscribers (its one shared body): 0 allocations per
// delivered event per subscriber.
func TestDeliveryAllocsIndependentOfSubscribers(t *testing.T) {
	per := map[int]float64{}
	for _, n := range []int{1, 1000} {
		r := NewRegistry(Config{Coalesce: time.Nanosecond, ChangeRate: 1e9, ChangeBurst: 1 << 30}, nil, nil)
		w := r.NewSession(discard{})
		m := wire.Message{Name: "a", Events: []wire.Event{{Type: wire.EventUse}}}
		_ = w.Handle(&m)
		for range n {
			s := r.NewSession(&sink{})
			m := wire.Message{Name: "a", Events: []wire.Event{{Type: wire.EventUse}}}
			_ = s.Handle(&m)
		}
		evs := []wire.Event{{Type: wire.EventRequestChange, Key: "k", Value: amf.Number(1)}}
		i := 0
		per[n] = testing.AllocsPerRun(200, func() {
			i++
			evs[0].Value = amf.Number(float64(i))
			m := wire.Message{Name: "a", Version: math.MaxUint32, Events: evs}
			_ = w.Handle(&m)
		})
		_ = r.Close()
	}
	if per[1000] != per[1] {
		t.Fatalf("allocations per change: %v with 1 subscriber, %v with 1000", per[1], per[1000])
	}
	t.Logf("allocations per accepted change (any number of subscribers): %v", per[1])
}

// sink keeps a bounded ring of deliveries without allocating.
type sink struct {
	ring [4]Outgoing
	n    int
}

func (s *sink) Deliver(o Outgoing) { s.ring[s.n%len(s.ring)] = o; s.n++ }
