package tunnel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/rtmptest"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
)

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pacedPublisher writes 25 video frames of videoSize and 43 audio frames
// a second (a 2 Mbit/s class stream) to s until stop is closed.
func pacedPublisher(s *rtmp.ClientStream, videoSize int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	_ = s.WritePacket(media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	_ = s.WritePacket(media.Packet{Kind: media.Audio, Payload: rtmptest.AACConfig})
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ts := uint32(time.Since(start).Milliseconds())
		p := rtmptest.Interframe(byte(i), videoSize)
		if i%50 == 0 {
			p = rtmptest.Keyframe(byte(i), videoSize*4)
		}
		_ = s.WritePacket(media.Packet{Kind: media.Video, Time: ts, Payload: p})
		_ = s.WritePacket(media.Packet{Kind: media.Audio, Time: ts, Payload: make([]byte, 200)})
		if i%2 == 0 {
			_ = s.WritePacket(media.Packet{Kind: media.Audio, Time: ts + 20, Payload: make([]byte, 200)})
		}
	}
}

// benchPlayers connects n players of stream over scheme and counts the
// messages and payload bytes they receive.
type benchPlayers struct {
	msgs, bytes atomic.Int64
	clients     []*rtmp.Client
}

func (bp *benchPlayers) close() {
	for _, c := range bp.clients {
		_ = c.Close()
	}
}

func (bp *benchPlayers) start(b *testing.B, st *stack, scheme, stream string, n int, dc DialConfig) {
	b.Helper()
	for range n {
		c := dialRTMP(b, scheme+"://"+st.addr+"/live", dc)
		bp.clients = append(bp.clients, c)
		ctx := testutil.Context(b, 10*time.Second)
		s, err := c.CreateStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s.OnPacket = func(p media.Packet) {
			bp.msgs.Add(1)
			bp.bytes.Add(int64(len(p.Payload)))
		}
		if err := s.Play(ctx, stream, -1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCPUPerGbit measures CPU seconds per delivered Gbit of media
// to 20 players over RTMP, then over RTMPT polling 12 times a second
// (PollEvery 83 ms, the "ffmpeg rate"), then over RTMPT polling as
// ffmpeg really does (again at once after a response with data, 50 ms
// after an empty one), in the same run and process (server and clients
// both counted). It reports RTMP messages per response body and polls per
// second of each RTMPT phase. Target: RTMPT ≤ 2× RTMP.
func BenchmarkCPUPerGbit(b *testing.B) {
	b.ReportAllocs()
	const players = 20
	const window = 2 * time.Second
	st := startStack(b, Config{}, stackOpts{quiet: true})
	pc := dialRTMP(b, "rtmp://"+st.addr+"/live", DialConfig{})
	phases := []struct {
		name, scheme string
		dc           DialConfig
	}{
		{"rtmp", "rtmp", DialConfig{}},
		{"rtmpt-12/s", "rtmpt", DialConfig{PollEvery: 83 * time.Millisecond}},
		{"rtmpt-ffmpeg", "rtmpt", DialConfig{IdleInterval: 50 * time.Millisecond}},
	}
	type result struct {
		cpu             time.Duration
		bits, msgs      int64
		polls, dataResp uint64
	}
	res := make([]result, len(phases))
	round := 0
	for b.Loop() {
		round++
		for k, ph := range phases {
			stream := fmt.Sprintf("%s-%d", ph.name, round)
			ps := rtmptest.Publish(b, pc, stream)
			bp := &benchPlayers{}
			bp.start(b, st, ph.scheme, stream, players, ph.dc)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go pacedPublisher(ps, 8000, stop, &wg)
			time.Sleep(300 * time.Millisecond) // settle: GOP, first polls; not synchronization
			before := st.tun.Stats()
			m0, b0, c0 := bp.msgs.Load(), bp.bytes.Load(), cpuTime()
			time.Sleep(window)
			m1, b1, c1 := bp.msgs.Load(), bp.bytes.Load(), cpuTime()
			after := st.tun.Stats()
			close(stop)
			wg.Wait()
			_ = ps.Close()
			bp.close()
			r := &res[k]
			r.cpu += c1 - c0
			r.bits += 8 * (b1 - b0)
			r.msgs += m1 - m0
			r.polls += after.Polls - before.Polls
			r.dataResp += after.DataResponses - before.DataResponses
		}
	}
	perGbit := func(r result) float64 { return r.cpu.Seconds() / (float64(r.bits) / 1e9) }
	base := perGbit(res[0])
	b.ReportMetric(base, "rtmp-cpu-s/Gbit")
	for k, ph := range phases[1:] {
		r := res[k+1]
		b.ReportMetric(perGbit(r), ph.name+"-cpu-s/Gbit")
		b.ReportMetric(perGbit(r)/base, ph.name+"/rtmp")
		if r.dataResp > 0 {
			b.ReportMetric(float64(r.msgs)/float64(r.dataResp), ph.name+"-msgs/body")
		}
		b.ReportMetric(float64(r.polls)/players/(float64(round)*window.Seconds()), ph.name+"-polls/s")
	}
}

// readerServer is a ConnServer standing for an idle session layer: one
// goroutine blocked in Read until the conn ends.
type readerServer struct{}

func (readerServer) ServeConn(_ context.Context, nc net.Conn, _ string) {
	var b [1]byte
	for {
		if _, err := nc.Read(b[:]); err != nil {
			return
		}
	}
}

// memNow returns the live heap and the goroutine stacks after two GCs
// (the second lets stacks shrink).
func memNow() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// connectAndAbandon connects an RTMP client over a new tunnel session,
// waits until it idles, then stops the client side entirely (polling, reader, its HTTP
// connection), keeping no reference, as a crashed client would: the
// server's session stays, idle, until its timeout.
func connectAndAbandon(b *testing.B, rawURL string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := Dial(ctx, mustURL(b, rawURL), DialConfig{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := rtmp.NewClient(ctx, cc, rtmp.ClientConfig{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Connect(ctx, "live", rawURL); err != nil {
		b.Fatal(err)
	}
	// Idle: an empty poll has come back (the server has then released the
	// session's buffers, as for any idle session that is polled).
	testutil.WaitFor(b, 5*time.Second, "an empty poll", func() bool { return cc.EmptyPolls() >= 2 })
	cc.Abandon() // also closes its HTTP connection
	<-c.Done()
}

// BenchmarkIdleSessionMemory measures the server-side memory of an idle
// RTMPT session, heap and goroutine stacks: "rtmpt" is the whole session
// (tunnel session, RTMP session with its reader and writer goroutines,
// engine client; the clients stop polling once connected so that only the
// server's part stays), "tunnel" the tunnel's own part (the session layer
// replaced by one goroutine blocked in Read). Target ≤ 8 KB per RTMPT
// session.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 200
	b.Run("rtmpt", func(b *testing.B) {
		b.ReportAllocs()
		st := startStack(b, Config{SessionTimeout: time.Hour}, stackOpts{quiet: true})
		var heap, stack float64
		for b.Loop() {
			h0, s0 := memNow()
			for range n {
				connectAndAbandon(b, "rtmpt://"+st.addr+"/live")
			}
			// The server notices the closed HTTP connections.
			testutil.WaitFor(b, 5*time.Second, "idle HTTP connections to close", func() bool {
				return runtime.NumGoroutine() <= 2*n+20
			})
			h1, s1 := memNow()
			heap, stack = float64(int64(h1)-int64(h0))/n, float64(int64(s1)-int64(s0))/n
		}
		b.ReportMetric(heap, "heap-B/session")
		b.ReportMetric(stack, "stack-B/session")
		b.ReportMetric(heap+stack, "B/session")
	})
	b.Run("tunnel", func(b *testing.B) {
		b.ReportAllocs()
		srv := &Server{Config: Config{SessionTimeout: time.Hour}, Sessions: readerServer{}}
		srv.init()
		b.Cleanup(func() { _ = srv.Close(context.Background()) })
		var heap, stack float64
		for b.Loop() {
			h0, s0 := memNow()
			for range n {
				var out sliceBody
				if code := srv.serve(Request{Kind: KindOpen}, []byte{0}, "rtmpt", nil, nil, &out); code != 200 {
					b.Fatal(code)
				}
				id := string(out.b[:len(out.b)-1])
				out.b = out.b[:0]
				srv.serve(Request{Kind: KindSend, ID: id}, make([]byte, 1537), "rtmpt", nil, nil, &out)
				out.b = out.b[:0]
				srv.serve(Request{Kind: KindIdle, ID: id, Seq: 1}, []byte{0}, "rtmpt", nil, nil, &out)
			}
			h1, s1 := memNow()
			heap, stack = float64(int64(h1)-int64(h0))/n, float64(int64(s1)-int64(s0))/n
		}
		b.ReportMetric(heap, "heap-B/session")
		b.ReportMetric(stack, "stack-B/session")
		b.ReportMetric(heap+stack, "B/session")
	})
}

// BenchmarkLatency measures publish-to-delivery latency of live video to
// an RTMPT player polling like ffmpeg (50 ms pause after an empty
// response), with and without the held-idle mode.
func BenchmarkLatency(b *testing.B) {
	for _, hold := range []time.Duration{0, 250 * time.Millisecond} {
		b.Run(fmt.Sprintf("hold=%v", hold), func(b *testing.B) {
			b.ReportAllocs()
			st := startStack(b, Config{HoldIdle: hold}, stackOpts{})
			pc := dialRTMP(b, "rtmp://"+st.addr+"/live", DialConfig{})
			ps := rtmptest.Publish(b, pc, "lat")
			var mu sync.Mutex
			var lat []time.Duration
			vc := dialRTMP(b, "rtmpt://"+st.addr+"/live", DialConfig{IdleInterval: 50 * time.Millisecond})
			ctx := testutil.Context(b, 10*time.Second)
			s, err := vc.CreateStream(ctx)
			if err != nil {
				b.Fatal(err)
			}
			s.OnPacket = func(p media.Packet) {
				// Steady state: the first frames of a stream wait for the
				// next one in the engine (startup, not the transport).
				if p.Kind != media.Video || len(p.Payload) < 14 || p.Payload[1] != 1 || p.Time < 200 {
					return
				}
				sent := int64(binary.BigEndian.Uint64(p.Payload[6:]))
				mu.Lock()
				lat = append(lat, time.Since(time.Unix(0, sent)))
				mu.Unlock()
			}
			if err := s.Play(ctx, "lat", -1000); err != nil {
				b.Fatal(err)
			}
			_ = ps.WritePacket(media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
			i := 0
			for b.Loop() {
				// One frame every 40 ms for a second.
				for range 25 {
					p := rtmptest.Interframe(byte(i), 2000)
					if i == 0 {
						p = rtmptest.Keyframe(0, 2000)
					}
					binary.BigEndian.PutUint64(p[6:], uint64(time.Now().UnixNano()))
					if err := ps.WritePacket(media.Packet{Kind: media.Video, Time: uint32(40 * i), Payload: p}); err != nil {
						b.Fatal(err)
					}
					i++
					time.Sleep(40 * time.Millisecond) // the stream's frame rate
				}
			}
			testutil.WaitFor(b, 5*time.Second, "the last frames", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(lat) >= i-7
			})
			mu.Lock()
			slices.Sort(lat)
			p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
			mu.Unlock()
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(st.tun.Stats().Polls)/float64(b.Elapsed().Seconds()), "polls/s")
		})
	}
}
