package rtmp

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

// soBenchRig is the issue-5 benchmark through the real server: n raw
// subscribers on loopback TCP (handshake, connect, Use, then a chunk
// reader that takes the change id from the last 8 bytes of each shared
// object message) and one writer on the project's client.
type soBenchRig struct {
	done   []atomic.Int32
	doneAt []atomic.Int64
	sent   []int64
	start  time.Time
	n      int
	seen   []atomic.Int64
	wg     sync.WaitGroup
	conns  []net.Conn
}

func (r *soBenchRig) subscribe(tb testing.TB, addr string, idx int) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	r.conns = append(r.conns, nc)
	if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
		tb.Fatal(err)
	}
	var e amf.Encoder
	w := chunk.NewWriter()
	cmd := message.Command{Name: "connect", Txn: 1, Object: amf.Object(amf.Prop{Key: "app", Value: amf.String("live")})}
	p, _ := cmd.Append(nil, &e)
	b := must(w.AppendBytes(nil, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeCommand}, p))
	use := wire.Message{Name: "bench", Events: []wire.Event{{Type: wire.EventUse}}}
	p, _ = use.Append(nil, false, &e)
	b = must(w.AppendBytes(b, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeSharedObject}, p))
	if _, err := nc.Write(b); err != nil {
		tb.Fatal(err)
	}
	r.wg.Go(func() {
		rd := chunk.NewReader(nc, chunk.Limits{})
		for {
			h, p, err := rd.ReadMessage()
			if err != nil {
				return
			}
			if h.Type != message.TypeSharedObject || len(p) < 8+wire.HeaderSize(5) || binary.BigEndian.Uint32(p[7:]) < 2 {
				continue // not a change message (the initial sync is at version 1)
			}
			now := time.Since(r.start).Nanoseconds()
			id := int(math.Float64frombits(binary.BigEndian.Uint64(p[len(p)-8:])))
			seen := int(r.seen[idx].Load())
			for j := seen + 1; j <= id && j < len(r.done); j++ {
				if r.done[j].Add(1) == int32(r.n) {
					r.doneAt[j].Store(now)
				}
			}
			r.seen[idx].Store(int64(max(seen, id)))
		}
	})
}

// BenchmarkSharedObjectFanoutConns: one shared object, 1,000 subscriber
// connections, a writer at 1,000 changes/s to 100 slots, for one second
// per iteration. Reports delivered change events per CPU-second of the
// whole process (server, writer and the subscribers' reading), and p50/p99
// latency from the writer's request to the last subscriber's read.
func BenchmarkSharedObjectFanoutConns(b *testing.B) {
	for _, coalesce := range []time.Duration{10 * time.Millisecond, 25 * time.Millisecond} {
		b.Run("coalesce="+coalesce.String(), func(b *testing.B) { benchSOConns(b, coalesce) })
	}
}

// soBenchServer is a loopback server whose instances use the given
// delivery tick.
func soBenchServer(b *testing.B, coalesce time.Duration) *testServer {
	b.Helper()
	apps := b.TempDir()
	if err := os.Mkdir(filepath.Join(apps, "live"), 0o755); err != nil {
		b.Fatal(err)
	}
	// The writer's 1,000 changes a second need a change_rate above them:
	// at the default 200 most are refused, and the subscribers, which
	// count every number up to the last one they read, would count them.
	eng := instance.NewManager(instance.Config{AppsDir: apps, SharedObjects: sharedobject.Config{Coalesce: coalesce, ChangeRate: 2000}},
		slog.New(slog.DiscardHandler))
	srv := &Server{Config: Config{MaxQueuedCommands: 4096}, Engine: eng, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		eng.Close()
	})
	return &testServer{srv: srv, eng: eng, addr: ln.Addr().String()}
}

func benchSOConns(b *testing.B, coalesce time.Duration) {
	b.Helper()
	const subs, rate = 1000, 1000
	ts := soBenchServer(b, coalesce)
	var (
		lat    []time.Duration
		cpu    time.Duration
		events float64
	)
	for b.Loop() {
		r := &soBenchRig{n: subs, done: make([]atomic.Int32, rate+1), doneAt: make([]atomic.Int64, rate+1),
			sent: make([]int64, rate+1), seen: make([]atomic.Int64, subs), start: time.Now()}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		wc, err := Dial(ctx, ts.url("live"), ClientConfig{})
		if err != nil {
			b.Fatal(err)
		}
		so := NewSharedObject("bench", false)
		if err := so.Connect(ctx, wc); err != nil {
			b.Fatal(err)
		}
		for i := range subs {
			r.subscribe(b, ts.addr, i)
		}
		testutil.WaitFor(b, 5*time.Second, "subscribers", func() bool {
			in := ts.eng.Instances()
			return len(in) == 1 && in[0].SharedObjects().Lookup("bench", false) != nil &&
				in[0].SharedObjects().Lookup("bench", false).Subscribers() == subs+1
		})
		c0 := cpuTime()
		tick := time.NewTicker(time.Second / rate)
		for i := 1; i <= rate; i++ {
			<-tick.C
			r.sent[i] = time.Since(r.start).Nanoseconds()
			if err := so.SetProperty("k"+strconv.Itoa(i%100), amf.Number(float64(i))); err != nil {
				b.Fatal(err)
			}
		}
		tick.Stop()
		testutil.WaitFor(b, 5*time.Second, "last change everywhere", func() bool { return r.done[rate].Load() == subs })
		cpu += cpuTime() - c0
		events += subs * rate
		for i := 1; i <= rate; i++ {
			lat = append(lat, time.Duration(r.doneAt[i].Load()-r.sent[i]))
		}
		for _, c := range r.conns {
			_ = c.Close()
		}
		r.wg.Wait()
		_ = wc.Close()
		cancel()
	}
	slices.Sort(lat)
	b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
