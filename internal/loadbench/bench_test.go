package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/sharedobject"
)

// Environment knobs of the loopback benchmarks.
const (
	envPlayers = "LOADBENCH_PLAYERS"        // players of the fan-out and floor benchmarks (default 150)
	envIdle    = "LOADBENCH_IDLE"           // connections of the idle-memory benchmark (default 1000)
	envWarmup  = "LOADBENCH_WARMUP"         // wait after the players joined, before measuring (default 1s)
	envWindow  = "LOADBENCH_WINDOW"         // measured window per iteration (see benchWindow)
	envRounds  = "LOADBENCH_ROUNDS"         // floor/openfcs alternations of BenchmarkLoopbackVsFloor (default 3)
	envPubs    = "LOADBENCH_PUBLISHERS"     // publishers of BenchmarkIngest (default 200)
	envSOSubs  = "LOADBENCH_SO_SUBSCRIBERS" // subscribers of BenchmarkSharedObjects (default 1000)
	// envSOFloorGroups cuts BenchmarkSharedObjectsFloor's readers into
	// groups written in turn (soFloorLoop); default 1, all at each tick.
	envSOFloorGroups = "LOADBENCH_SO_FLOOR_GROUPS"
	// envSOCoalesce is the delivery tick of both shared-object benchmarks
	// (the server's shared_objects.coalesce and the floor's interval);
	// default sharedobject's.
	envSOCoalesce = "LOADBENCH_SO_COALESCE"
	// envToolProfile names a file BenchmarkSharedObjects' load tool
	// writes its CPU profile to: the tool's own cost, beside the server's.
	envToolProfile = "LOADBENCH_TOOL_CPUPROFILE"
	// envHeapProfile names a file that BenchmarkIdleConnMemory/inprocess
	// writes a heap profile to while the connections are open: where an
	// idle connection's bytes are.
	envHeapProfile = "LOADBENCH_HEAPPROFILE"
)

// writeHeapProfile writes the in-use heap to path.
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// tick is the frame interval of the 25 fps stream and of the floor.
const tick = 40 * time.Millisecond

// sample is what the fan-out and floor benchmarks read at both ends of the
// measured window.
type sample struct {
	at      time.Time
	cpu     time.Duration // this process (the server under test), user+sys
	sys     time.Duration // the system part of cpu
	tool    time.Duration // the load tool process, user+sys
	syscw   uint64        // write syscalls of this process (write, writev)
	mallocs uint64
	snap    Snapshot
}

func takeSample(b *testing.B, p *toolProc) sample {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	user, sys := processCPU(b)
	s := sample{
		at:      time.Now(),
		cpu:     user + sys,
		sys:     sys,
		tool:    childCPU(b, p.cmd.Process.Pid),
		syscw:   procField(b, "/proc/self/io", "syscw"),
		mallocs: ms.Mallocs,
	}
	s.snap = p.snapshot(b)
	return s
}

// measure waits for warmup, then runs b.Loop with one window per
// iteration and returns the samples at both ends.
func measure(b *testing.B, p *toolProc) (s0, s1 sample) {
	b.Helper()
	warm := time.NewTimer(envDuration(b, envWarmup, benchWarmup()))
	select {
	case <-warm.C:
	case <-p.exited:
		b.Fatalf("load tool exited during warm-up: %v\n%s", p.err, p.stderr.String())
	}
	window := benchWindow(b)
	s0 = takeSample(b, p)
	for b.Loop() {
		t := time.NewTimer(window)
		select {
		case <-t.C:
		case <-p.exited:
			b.Fatalf("load tool exited during the window: %v\n%s", p.err, p.stderr.String())
		}
	}
	return s0, takeSample(b, p)
}

// report turns two samples into the metrics shared by the fan-out and the
// floor benchmarks. wantMbps is the rate the players should receive; a
// shortfall is logged, not fatal: it means the machine (shared, 2 cores)
// could not keep up during the window and the figures are suspect.
// It returns the CPU per Gbit.
func report(b *testing.B, s0, s1 sample, players int, wantMbps float64, messages bool) float64 {
	b.Helper()
	sec := s1.at.Sub(s0.at).Seconds()
	bytes := float64(s1.snap.Bytes - s0.snap.Bytes)
	if bytes <= 0 {
		b.Fatalf("players received nothing in %.1fs", sec)
	}
	if got := bytes * 8 / sec / 1e6; got < 0.95*wantMbps {
		b.Logf("WARNING: players received %.1f Mbit/s of the %.1f sent: the machine fell behind, figures are suspect", got, wantMbps)
	}
	if s1.snap.Alive != players {
		b.Fatalf("%d of %d players still connected at the end of the window", s1.snap.Alive, players)
	}
	cpu := (s1.cpu - s0.cpu).Seconds()
	gbit := bytes * 8 / 1e9
	writes := float64(s1.syscw - s0.syscw)
	b.ReportMetric(bytes*8/sec/1e6, "Mbit/s")
	b.ReportMetric(cpu/gbit, "cpu-s/Gbit")
	b.ReportMetric(cpu/sec*100, "%core")
	b.ReportMetric((s1.sys-s0.sys).Seconds()/sec*100, "sys-%core")
	b.ReportMetric((s1.tool-s0.tool).Seconds()/sec*100, "tool-%core")
	b.ReportMetric(writes/(float64(players)*sec/tick.Seconds()), "writes/player-tick")
	if messages {
		msgs := float64(s1.snap.Messages - s0.snap.Messages)
		if msgs <= 0 {
			b.Fatalf("players received no message in %.1fs", sec)
		}
		b.ReportMetric(writes/msgs, "writes/msg")
		// Per delivered message, and per published one (every player
		// gets each): the first tends to 0 with more players exactly
		// when the server allocates nothing per subscriber.
		b.ReportMetric(float64(s1.mallocs-s0.mallocs)/msgs, "allocs/msg")
		b.ReportMetric(float64(s1.mallocs-s0.mallocs)/(msgs/float64(players)), "allocs/pub-msg")
	}
	b.Logf("%d players, %.1fs: %.1f Mbit/s, cpu %.3fs (%.2f%% of a core), %.0f writes",
		players, sec, bytes*8/sec/1e6, cpu, cpu/sec*100, writes)
	return cpu / gbit
}

// checkSummary fails the benchmark when players failed or dropped.
func checkSummary(b *testing.B, s Summary, players int) {
	b.Helper()
	if s.Connected != players || s.Dropped != 0 || s.PerConnMinBytes <= 0 {
		b.Fatalf("load tool summary: %d/%d connected, %d dropped, min %d bytes per player; errors %q",
			s.Connected, players, s.Dropped, s.PerConnMinBytes, s.Errors)
	}
}

// BenchmarkLoopbackFanout measures the in-process openfcs server delivering
// a synthetic 1 Mbit/s, 25 fps audio+video stream, published by
// openfcs-load publish, to LOADBENCH_PLAYERS (150) players of openfcs-load
// play, both in other processes, over loopback TCP. CPU is this process's
// getrusage: the server alone, ingest included; Mbit/s counts the bytes
// the players read. Compare with BenchmarkLoopbackFloor. p50-ms and p99-ms
// are the publish-to-delivery latency of the video frames the players
// read during the window (stamped by the publisher, see latency.go).
//
// pacing=timestamp sends audio and video when their timestamps fall due,
// as a live encoder does (two arrivals per 40 ms); pacing=tick sends each
// frame interval's messages together (one arrival per 40 ms).
func BenchmarkLoopbackFanout(b *testing.B) {
	for _, pacing := range []Pacing{PaceTimestamp, PaceTick} {
		b.Run("pacing="+pacing.String(), func(b *testing.B) { runFanout(b, pacing) })
	}
}

// startPublisher runs openfcs-load publish against url until cleanup and
// waits until it publishes.
func startPublisher(b *testing.B, tool, url string, pacing Pacing) {
	b.Helper()
	p := startTool(b, tool, "publish", "-url", url, "-pacing", pacing.String(), "-duration", "0", "-stdin")
	var v struct{}
	p.next(b, "published", time.Minute, &v)
}

// runFanout is BenchmarkLoopbackFanout's body; it returns the CPU per Gbit.
func runFanout(b *testing.B, pacing Pacing) float64 { //nolint:thelper // a benchmark body, not a helper
	b.ReportAllocs()
	players := envInt(b, envPlayers, 150)
	tool := binary(b, "openfcs-load")
	addr, _, _ := startServerWith(b, rtmp.Config{ParkAfter: fanoutParkAfter})
	url := "rtmp://" + addr + "/live/bench"
	startPublisher(b, tool, url, pacing)

	p := startTool(b, tool, "play", "-url", url, "-n", strconv.Itoa(players),
		"-warmup", "0s", "-duration", "0", "-stdin")
	var j Joined
	p.next(b, "joined", 2*time.Minute, &j)
	if j.Connected != players {
		b.Fatalf("%d of %d players joined: %q", j.Connected, players, j.Errors)
	}
	s0, s1 := measure(b, p)
	perGbit := report(b, s0, s1, players, float64(players)*float64(NewSynth(Stream{}).Stream().Bitrate)/1e6, true)
	reportLatency(b, s0, s1)
	checkSummary(b, p.finish(b), players)
	return perGbit
}

// fanoutParkAfter is session.park_after in the fan-out benchmarks. A
// player sends nothing between its acknowledgements, so a server parks
// each one once, park_after (5 s) after it joined, and then again after
// each acknowledgement or ping answer (docs/architecture.md#idle-connections).
// The window must see that steady state, not the first parking of every
// player at once: with this value it happens inside the warm-up.
const fanoutParkAfter = 300 * time.Millisecond

// reportLatency reports the window's publish-to-delivery latency.
func reportLatency(b *testing.B, s0, s1 sample) {
	b.Helper()
	p50 := LatencyQuantile(s0.snap.Latency, s1.snap.Latency, 0.50)
	p99 := LatencyQuantile(s0.snap.Latency, s1.snap.Latency, 0.99)
	if p99 == 0 {
		b.Fatal("players read no stamped video frame during the window")
	}
	b.ReportMetric(float64(p50)/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
}

// Floor payload per connection per tick: 1 Mbit/s at 25 ticks a second is
// 5000 bytes, as a chunk header, a video frame and two audio frames.
const (
	floorHeader = 12
	floorAudio  = 400
	floorVideo  = 5000 - floorHeader - floorAudio
)

// floorConn is one connection of the floor writer.
type floorConn struct {
	c   *net.TCPConn
	iov [3][]byte
	// net.Buffers.WriteTo consumes its slice and clears the entries it
	// has written, so each write works on a copy of iov in buf; both are
	// fields so that the write allocates nothing.
	buf  [3][]byte
	vec  net.Buffers
	wake chan struct{}
}

// write sends one tick in one vectored write (writev).
func (f *floorConn) write() error {
	f.buf = f.iov
	f.vec = f.buf[:]
	_, err := f.vec.WriteTo(f.c)
	return err
}

// BenchmarkLoopbackFloor measures what the same delivery costs without
// openfcs: a bare Go loop writing one net.Buffers (header, video, audio:
// 5000 bytes) per connection per 40 ms tick to LOADBENCH_PLAYERS plain TCP
// readers (openfcs-load sink) in another process, measured like
// BenchmarkLoopbackFanout: the cost every server pays for the same bytes,
// against which the server's own CPU per Gbit is judged.
//
// loop writes every connection from one goroutine; goroutines gives each
// connection its own writer goroutine woken per tick through a channel, as
// openfcs's per-connection writer is, so the difference between the two is
// the cost of that wake-up.
func BenchmarkLoopbackFloor(b *testing.B) {
	b.Run("loop", func(b *testing.B) { runFloor(b, false) })
	b.Run("goroutines", func(b *testing.B) { runFloor(b, true) })
}

// runFloor is BenchmarkLoopbackFloor's body; it returns the CPU per Gbit.
func runFloor(b *testing.B, perConn bool) float64 { //nolint:thelper // a benchmark body, not a helper
	b.ReportAllocs()
	players := envInt(b, envPlayers, 150)
	tool := binary(b, "openfcs-load")
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	p := startTool(b, tool, "sink", "-addr", ln.Addr().String(), "-n", strconv.Itoa(players),
		"-warmup", "0s", "-duration", "0", "-stdin")

	hdr, video, audio := make([]byte, floorHeader), make([]byte, floorVideo), make([]byte, floorAudio)
	conns := make([]*floorConn, 0, players)
	defer func() {
		for _, fc := range conns {
			_ = fc.c.Close()
		}
	}()
	if err := ln.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		b.Fatal(err)
	}
	for range players {
		c, err := ln.AcceptTCP()
		if err != nil {
			b.Fatalf("accept (%d of %d): %v", len(conns), players, err)
		}
		conns = append(conns, &floorConn{c: c, iov: [3][]byte{hdr, video, audio}, wake: make(chan struct{}, 1)})
	}
	var j Joined
	p.next(b, "joined", time.Minute, &j)
	if j.Connected != players {
		b.Fatalf("%d of %d sinks connected: %q", j.Connected, players, j.Errors)
	}

	quit := make(chan struct{})
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var writeErr error
	fail := func(err error) {
		errMu.Lock()
		writeErr = errors.Join(writeErr, err)
		errMu.Unlock()
	}
	wg.Go(func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			for _, fc := range conns {
				if perConn {
					select {
					case fc.wake <- struct{}{}:
					default:
					}
				} else if err := fc.write(); err != nil {
					fail(err)
					return
				}
			}
		}
	})
	if perConn {
		for _, fc := range conns {
			wg.Go(func() {
				for {
					select {
					case <-quit:
						return
					case <-fc.wake:
						if err := fc.write(); err != nil {
							fail(err)
							return
						}
					}
				}
			})
		}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(quit)
			wg.Wait()
		}
	}
	defer stop()

	s0, s1 := measure(b, p)
	stop()
	if writeErr != nil {
		b.Fatalf("floor writer: %v", writeErr)
	}
	perGbit := report(b, s0, s1, players, float64(players)*5000*8/tick.Seconds()/1e6, false)
	checkSummary(b, p.finish(b), players)
	return perGbit
}

// BenchmarkLoopbackVsFloor alternates LOADBENCH_ROUNDS (3) times the
// floor (BenchmarkLoopbackFloor/loop) and openfcs
// (BenchmarkLoopbackFanout/pacing=timestamp), each set up afresh, and logs
// the median CPU per Gbit of each, their ranges and the median of the
// rounds' openfcs/floor ratios. On a machine shared with other work a
// single pair says little; rounds that alternate let the load fall on
// both alike.
func BenchmarkLoopbackVsFloor(b *testing.B) {
	rounds := envInt(b, envRounds, 3)
	var floor, ofcs, ratio []float64
	for r := range rounds {
		var f, o float64
		b.Run(fmt.Sprintf("floor/round=%d", r+1), func(b *testing.B) { f = runFloor(b, false) })
		b.Run(fmt.Sprintf("openfcs/round=%d", r+1), func(b *testing.B) { o = runFanout(b, PaceTimestamp) })
		if f <= 0 || o <= 0 {
			b.Fatalf("round %d measured nothing (floor %v, openfcs %v)", r+1, f, o)
		}
		floor, ofcs, ratio = append(floor, f), append(ofcs, o), append(ratio, o/f)
	}
	med := func(v []float64) (m, lo, hi float64) {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2], v[0], v[len(v)-1]
	}
	fm, fl, fh := med(floor)
	om, ol, oh := med(ofcs)
	rm, rl, rh := med(ratio)
	b.Logf("%d players, %d rounds: floor %.4f cpu-s/Gbit (%.4f-%.4f), openfcs %.4f (%.4f-%.4f); openfcs/floor %.2f (rounds %.2f-%.2f)",
		envInt(b, envPlayers, 150), rounds, fm, fl, fh, om, ol, oh, rm, rl, rh)
}

// BenchmarkIdleConnMemory measures the memory of LOADBENCH_IDLE (1000)
// idle RTMP connections (handshake and connect done, nothing else), held
// by openfcs-load idle in another process; an idle connection should stay
// under 8 KB, so that tens of thousands of mostly idle clients fit in memory.
//
// process: the real openfcs binary (openfcs serve), resident set size
// (VmRSS) before and right after the connections, per connection; this
// includes garbage not yet collected, as a server really carries it.
// inprocess: the server in this process, runtime.MemStats after a forced
// GC before and after (heap in use, goroutine stacks), per connection:
// what the connections retain.
//
// Both run RTMP's server with session.park_after at idleParkAfter and
// measure once the connections have parked: an idle connection's reader
// goroutine ends (docs/architecture.md#idle-connections). Parking soon
// after connect lets the next connections reuse the stacks of the parked
// ones, as a server whose clients arrive over minutes would; with the
// default (5s) all 10,000 of a two-second burst hold a stack at once, and
// the runtime returns freed stacks to the system only over minutes.
// joined-KB/conn is the resident set right when the last one connected.
func BenchmarkIdleConnMemory(b *testing.B) {
	b.Run("process", benchIdleProcess("rtmp"))
	b.Run("inprocess", benchIdleInProcess("rtmp"))
	b.Run("inprocess-rtmpws", benchIdleInProcess("rtmpws"))
	b.Run("inprocess-rtmpt-sessions", benchIdleInProcess("rtmpt", "-http-conns", "32"))
	// The same over RTMP over WebSocket, on the same port (every port
	// serves HTTP too): what the WebSocket layer adds per idle client.
	b.Run("process-rtmpws", benchIdleProcess("rtmpws"))
	// And over RTMPT: a session between polls, which the client keeps
	// polling (every poll is a request on a kept-alive connection).
	b.Run("process-rtmpt", benchIdleProcess("rtmpt"))
	// The sessions alone: their requests share 32 HTTP connections.
	b.Run("process-rtmpt-sessions", benchIdleProcess("rtmpt", "-http-conns", "32"))
}

// openIdle starts openfcs-load idle against url and waits until all n
// connections are up.
func openIdle(b *testing.B, tool, url string, n int, args ...string) *toolProc {
	b.Helper()
	p := startTool(b, tool, append([]string{"idle", "-url", url, "-n", strconv.Itoa(n),
		"-warmup", "0s", "-duration", "0", "-stdin"}, args...)...)
	var j Joined
	p.next(b, "joined", 2*time.Minute, &j)
	if j.Connected != n {
		b.Fatalf("%d of %d idle connections opened: %q", j.Connected, n, j.Errors)
	}
	return p
}

// benchIdleProcess measures idle connections over scheme; args go to
// openfcs-load idle.
func benchIdleProcess(scheme string, args ...string) func(b *testing.B) {
	return func(b *testing.B) { runIdleProcess(b, scheme, args...) }
}

func runIdleProcess(b *testing.B, scheme string, args ...string) { //nolint:thelper // a benchmark body, not a helper
	n := envInt(b, envIdle, 1000)
	tool := binary(b, "openfcs-load")
	server := binary(b, "openfcs")
	var rssDelta, rssBefore, rssJoined uint64
	iters := 0
	for b.Loop() {
		srv := startServerProcess(b, server, "session:\n  park_after: "+idleParkAfter.String()+"\n")
		before := procField(b, "/proc/"+strconv.Itoa(srv.pid)+"/status", "VmRSS")
		p := openIdle(b, tool, scheme+"://"+srv.addr+"/live", n, args...)
		joined := procField(b, "/proc/"+strconv.Itoa(srv.pid)+"/status", "VmRSS")
		if idleParks(scheme) {
			// The connections opened last park after idleParkAfter.
			time.Sleep(idleParkAfter + time.Second)
		}
		after := procField(b, "/proc/"+strconv.Itoa(srv.pid)+"/status", "VmRSS")
		if s := p.finish(b); s.Dropped != 0 {
			b.Fatalf("%d idle connections were dropped by the server", s.Dropped)
		}
		srv.stop(b)
		rssBefore += before
		rssDelta += after - min(after, before)
		rssJoined += joined - min(joined, before)
		iters++
	}
	b.ReportMetric(float64(rssDelta)/float64(iters)/float64(n), "KB/conn")
	b.ReportMetric(float64(rssJoined)/float64(iters)/float64(n), "joined-KB/conn")
	b.ReportMetric(float64(rssBefore)/float64(iters), "KB-base")
}

func benchIdleInProcess(scheme string, args ...string) func(b *testing.B) {
	return func(b *testing.B) { runIdleInProcess(b, scheme, args...) }
}

func runIdleInProcess(b *testing.B, scheme string, args ...string) { //nolint:thelper // a benchmark body, not a helper
	n := envInt(b, envIdle, 1000)
	if os.Getenv(envHeapProfile) != "" {
		// Every allocation sampled: an idle connection's few small
		// objects fall between the default 512 KB samples.
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	tool := binary(b, "openfcs-load")
	var heap, stack, total, goroutines float64
	iters := 0
	for b.Loop() {
		var addr string
		var srv *rtmp.Server
		stop := func() {}
		if scheme != "rtmp" {
			// The HTTP server stops at the benchmark's end.
			_, addr, srv = startBridgeServer(b, rtmp.Config{ParkAfter: idleParkAfter})
			if !idleParks(scheme) {
				srv = nil
			}
		} else {
			addr, srv, stop = startServerWith(b, rtmp.Config{ParkAfter: idleParkAfter})
		}
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		g0 := runtime.NumGoroutine()
		p := openIdle(b, tool, scheme+"://"+addr+"/live", n, args...)
		if srv != nil {
			waitParked(b, srv, n)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		g1 := runtime.NumGoroutine()
		if path := os.Getenv(envHeapProfile); path != "" {
			writeHeapProfile(b, path)
		}
		if s := p.finish(b); s.Dropped != 0 {
			b.Fatalf("%d idle connections were dropped by the server", s.Dropped)
		}
		stop()
		heap += float64(int64(m1.HeapInuse) - int64(m0.HeapInuse))
		stack += float64(int64(m1.StackInuse) - int64(m0.StackInuse))
		total += float64(int64(m1.HeapInuse+m1.StackInuse+m1.MSpanInuse) - int64(m0.HeapInuse+m0.StackInuse+m0.MSpanInuse))
		goroutines += float64(g1 - g0)
		iters++
	}
	per := float64(iters) * float64(n)
	b.ReportMetric(total/per/1024, "KB/conn")
	b.ReportMetric(heap/per/1024, "heap-KB/conn")
	b.ReportMetric(stack/per/1024, "stack-KB/conn")
	b.ReportMetric(goroutines/per, "goroutines/conn")
}

// idleParkAfter is session.park_after in BenchmarkIdleConnMemory.
const idleParkAfter = 100 * time.Millisecond

// idleParks reports whether idle sessions over scheme park: RTMP over
// TCP, RTMPT and RTMP over WebSocket (on a plain TCP port) sessions do.
func idleParks(scheme string) bool {
	switch scheme {
	case "rtmp", "rtmpt", "rtmpws":
		return true
	}
	return false
}

// waitParked waits until n connections of srv are parked.
func waitParked(b *testing.B, srv *rtmp.Server, n int) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for srv.ParkedConns() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d idle connections parked", srv.ParkedConns(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverProcess is an openfcs serve child process.
type serverProcess struct {
	cmd    *exec.Cmd
	pid    int
	addr   string
	logs   *lockedBuffer
	exited chan struct{}
}

// startServerProcess runs `openfcs serve` on a loopback port without HTTP,
// over an applications folder holding "live", with extra configuration
// YAML appended to its file, and waits for its listening line.
func startServerProcess(b *testing.B, bin string, extra ...string) *serverProcess {
	b.Helper()
	apps := b.TempDir()
	if err := os.Mkdir(filepath.Join(apps, "live"), 0o755); err != nil {
		b.Fatal(err)
	}
	// The load tool is a load generator on this host, the case
	// listen.exempt_loopback is for: thousands of connections from
	// 127.0.0.1 must not meet the per-address limits.
	cfg := filepath.Join(b.TempDir(), "openfcs.yaml")
	if err := os.WriteFile(cfg, []byte("listen:\n  exempt_loopback: true\n"+strings.Join(extra, "")), 0o644); err != nil {
		b.Fatal(err)
	}
	s := &serverProcess{logs: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--rtmp", "127.0.0.1:0", "--http", "", "--apps", apps, "--log-format", "json", "--config", cfg)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		b.Fatalf("start openfcs: %v", err)
	}
	s.pid = s.cmd.Process.Pid
	addrc := make(chan string, 1)
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = s.logs.Write(append(line, '\n'))
			var l struct{ Msg, Proto, Addr string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" && l.Proto == "rtmp" {
				select {
				case addrc <- l.Addr:
				default:
				}
			}
		}
		_ = s.cmd.Wait()
	}()
	b.Cleanup(func() { s.stop(b) })
	select {
	case s.addr = <-addrc:
	case <-s.exited:
		b.Fatalf("openfcs exited before listening:\n%s", s.logs.String())
	case <-time.After(30 * time.Second):
		b.Fatalf("openfcs did not log its rtmp listening address:\n%s", s.logs.String())
	}
	return s
}

// stop sends SIGTERM and waits (then kills); idempotent.
func (s *serverProcess) stop(b *testing.B) {
	b.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		b.Errorf("openfcs did not stop on SIGTERM:\n%s", s.logs.String())
	}
}

// BenchmarkLoopbackTransports compares the server's cost of one 1 Mbit/s
// stream (pacing=timestamp) played by LOADBENCH_PLAYERS players of
// openfcs-load over RTMP over TCP and over RTMP over WebSocket (package
// bridge on a fiber port), on one in-process server that serves both.
// players/core is how many such players one core could serve at this
// cost; the ratio of the two is the WebSocket path's efficiency.
func BenchmarkLoopbackTransports(b *testing.B) {
	for _, scheme := range []string{"rtmp", "rtmpws"} {
		b.Run("transport="+scheme, func(b *testing.B) {
			b.ReportAllocs()
			players := envInt(b, envPlayers, 150)
			tool := binary(b, "openfcs-load")
			rtmpAddr, httpAddr, _ := startBridgeServer(b, rtmp.Config{})
			ctx, cancel := context.WithCancel(context.Background())
			pub, err := Publish(ctx, PublishOptions{URL: "rtmp://" + rtmpAddr + "/live/bench"})
			if err != nil {
				cancel()
				b.Fatal(err)
			}
			pubDone := make(chan error, 1)
			go func() { pubDone <- pub.Run(ctx) }()
			b.Cleanup(func() {
				cancel()
				if err := <-pubDone; err != nil {
					b.Errorf("publisher: %v", err)
				}
				_ = pub.Close()
			})
			addr := rtmpAddr
			if scheme == "rtmpws" {
				addr = httpAddr
			}
			p := startTool(b, tool, "play", "-url", scheme+"://"+addr+"/live/bench", "-n", strconv.Itoa(players),
				"-warmup", "0s", "-duration", "0", "-stdin")
			var j Joined
			p.next(b, "joined", 2*time.Minute, &j)
			if j.Connected != players {
				b.Fatalf("%d of %d players joined: %q", j.Connected, players, j.Errors)
			}
			s0, s1 := measure(b, p)
			report(b, s0, s1, players, float64(players)*float64(pub.Synth().Stream().Bitrate)/1e6, true)
			if cores := (s1.cpu - s0.cpu).Seconds() / s1.at.Sub(s0.at).Seconds(); cores > 0 {
				b.ReportMetric(float64(players)/cores, "players/core")
			}
			checkSummary(b, p.finish(b), players)
		})
	}
}

// BenchmarkIngest measures what publishers cost the server:
// LOADBENCH_PUBLISHERS (200) publishers of openfcs-load ingest, in another
// process, each sending the synthetic 1 Mbit/s, 25 fps stream (audio and
// video at their timestamps, as an encoder does) on a stream of its own,
// with nobody playing. publishers/core is how many such publishers one
// core of this machine could take at the measured cost (ingest only:
// reading, reassembling chunks, the GOP cache).
func BenchmarkIngest(b *testing.B) {
	b.ReportAllocs()
	n := envInt(b, envPubs, 200)
	tool := binary(b, "openfcs-load")
	addr, srv, _ := startServerWith(b, rtmp.Config{})
	p := startTool(b, tool, "ingest", "-url", "rtmp://"+addr+"/live/in", "-n", strconv.Itoa(n),
		"-warmup", "0s", "-duration", "0", "-stdin")
	var j Joined
	p.next(b, "joined", 2*time.Minute, &j)
	if j.Connected != n {
		b.Fatalf("%d of %d publishers joined: %q", j.Connected, n, j.Errors)
	}
	in0 := srv.Stats().Protos["rtmp"].BytesIn
	// read system calls of this process (the server's: the publishers are
	// in the tool's), per message received
	rd0 := procField(b, "/proc/self/io", "syscr")
	g0 := srv.IngestStats()
	s0, s1 := measure(b, p)
	rd1 := procField(b, "/proc/self/io", "syscr")
	g1 := srv.IngestStats()
	in1 := srv.Stats().Protos["rtmp"].BytesIn
	sec := s1.at.Sub(s0.at).Seconds()
	sent := float64(s1.snap.Bytes - s0.snap.Bytes)
	got := float64(in1 - in0)
	if sent <= 0 || got < 0.9*sent {
		b.Fatalf("publishers sent %.0f bytes, the server read %.0f", sent, got)
	}
	if s1.snap.Alive != n {
		b.Fatalf("%d of %d publishers still connected at the end of the window", s1.snap.Alive, n)
	}
	if mbps := got * 8 / sec / 1e6; mbps < 0.95*float64(n) {
		b.Logf("WARNING: the server read %.1f Mbit/s of the %d sent: the machine fell behind, figures are suspect", mbps, n)
	}
	cpu := (s1.cpu - s0.cpu).Seconds()
	b.ReportMetric(got*8/sec/1e6, "Mbit/s")
	b.ReportMetric(cpu/sec*100, "%core")
	b.ReportMetric((s1.tool-s0.tool).Seconds()/sec*100, "tool-%core")
	b.ReportMetric(cpu/sec/float64(n)*1000, "cpu-ms/s/publisher")
	b.ReportMetric(float64(n)/(cpu/sec), "publishers/core")
	msgs := float64(s1.snap.Messages - s0.snap.Messages)
	b.ReportMetric(float64(s1.mallocs-s0.mallocs)/msgs, "allocs/msg")
	b.ReportMetric(float64(rd1-rd0)/msgs, "reads/msg")
	// The share of publishers' ticks the ingest clock read itself, no
	// reader goroutine woken (rtmp.IngestStats).
	if ticks := (g1.ClockReads - g0.ClockReads) + (g1.Wakes - g0.Wakes); ticks > 0 {
		b.ReportMetric(float64(g1.ClockReads-g0.ClockReads)/float64(ticks), "clock-read-share")
	}
	if s := p.finish(b); s.Connected != n || s.Dropped != 0 {
		b.Fatalf("load tool summary: %d/%d connected, %d dropped; errors %q", s.Connected, n, s.Dropped, s.Errors)
	}
}

// BenchmarkSharedObjects measures remote shared objects through real
// sockets: LOADBENCH_SO_SUBSCRIBERS (1000) subscribers of one shared object
// and a writer changing it 1,000 times a second, all in openfcs-load so
// (another process), against the in-process server. p50-ms and p99-ms are
// the time from a change to its read by the last subscriber, first-p50-ms
// and first-p99-ms to its read by the first; events/cpu-s counts
// delivered change events (changes × subscribers) per CPU-second of the
// server. The server's per-connection change rate is raised to twice the
// writer's: at the default (200 a second) it would refuse most of the
// writer's changes, and the benchmark would measure fewer than it says.
// LOADBENCH_TOOL_CPUPROFILE names a file the tool writes its CPU profile
// to (the server's is -cpuprofile's).
func BenchmarkSharedObjects(b *testing.B) {
	b.ReportAllocs()
	n := envInt(b, envSOSubs, 1000)
	const rate = 1000
	tool := binary(b, "openfcs-load")
	var cfg instance.Config
	cfg.SharedObjects.ChangeRate = 2 * rate
	cfg.SharedObjects.Coalesce = envDuration(b, envSOCoalesce, sharedobject.Config{}.WithDefaults().Coalesce)
	addr, _, _ := startServerConfig(b, cfg)
	args := []string{"so", "-url", "rtmp://" + addr + "/live", "-n", strconv.Itoa(n), "-rate", strconv.Itoa(rate),
		"-warmup", "0s", "-duration", "0", "-stdin"}
	if prof := os.Getenv(envToolProfile); prof != "" {
		args = append(args, "-cpuprofile", prof)
	}
	p := startTool(b, tool, args...)
	var j Joined
	p.next(b, "joined", 2*time.Minute, &j)
	if j.Connected != n {
		b.Fatalf("%d of %d subscribers joined: %q", j.Connected, n, j.Errors)
	}
	s0, s1 := measure(b, p)
	sec := s1.at.Sub(s0.at).Seconds()
	changes := float64(s1.snap.Changes - s0.snap.Changes)
	written := float64(s1.snap.Written - s0.snap.Written)
	if changes < 0.9*rate*sec || changes < 0.9*written {
		shortfall(b, "%.0f changes of %.0f written reached every subscriber in %.1fs, want about %d/s", changes, written, sec, rate)
	}
	if s1.snap.Alive != n {
		b.Fatalf("%d of %d subscribers still connected at the end of the window", s1.snap.Alive, n)
	}
	cpu := (s1.cpu - s0.cpu).Seconds()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(changes/sec, "changes/s")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.Latency, s1.snap.Latency, 0.50)), "p50-ms")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.Latency, s1.snap.Latency, 0.99)), "p99-ms")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.FirstLatency, s1.snap.FirstLatency, 0.50)), "first-p50-ms")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.FirstLatency, s1.snap.FirstLatency, 0.99)), "first-p99-ms")
	b.ReportMetric(changes*float64(n)/cpu, "events/cpu-s")
	b.ReportMetric(cpu/sec*100, "%core")
	b.ReportMetric((s1.tool-s0.tool).Seconds()/sec*100, "tool-%core")
	if s := p.finish(b); s.Connected != n || s.Dropped != 0 {
		b.Fatalf("load tool summary: %d/%d connected, %d dropped; errors %q", s.Connected, n, s.Dropped, s.Errors)
	}
}

// shortfall reports that the shared-object fan-out fell behind during the
// window: an error in a measured run, whose figures it would make wrong;
// logged under -benchtime=1x (make test's smoke run of every benchmark,
// one second beside whatever else the machine runs), as report logs a
// fan-out's, since a machine falling behind for a second says nothing
// about the code.
func shortfall(b *testing.B, format string, args ...any) {
	b.Helper()
	if once() {
		b.Logf("figures suspect: "+format, args...)
		return
	}
	b.Errorf(format, args...)
}

// BenchmarkSharedObjectsFloor is BenchmarkSharedObjects' floor: a bare Go
// loop that ticks every delivery interval (sharedobject's default
// coalescing, 10 ms) and writes one 256-byte record naming the changes of
// the tick to each of LOADBENCH_SO_SUBSCRIBERS (1000) plain TCP readers
// (openfcs-load sink -so-floor, another process, whose readers are the
// subscribers' readers: pollGroup), from one goroutine per core. The
// changes are made at 1,000 a second on paper (change i at
// start + i ms), so the latencies are those of the same fan-out with
// nothing of a server around it: what any server pays on this machine.
// Run it in the same invocation as BenchmarkSharedObjects
// (-bench SharedObjects) to compare the two.
func BenchmarkSharedObjectsFloor(b *testing.B) {
	b.ReportAllocs()
	n := envInt(b, envSOSubs, 1000)
	const rate = 1000
	interval := envDuration(b, envSOCoalesce, sharedobject.Config{}.WithDefaults().Coalesce)
	tool := binary(b, "openfcs-load")
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	p := startTool(b, tool, "sink", "-so-floor", "-addr", ln.Addr().String(), "-n", strconv.Itoa(n),
		"-warmup", "0s", "-duration", "0", "-stdin")
	conns := make([]*net.TCPConn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if err := ln.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		b.Fatal(err)
	}
	for range n {
		c, err := ln.AcceptTCP()
		if err != nil {
			b.Fatalf("accept (%d of %d): %v", len(conns), n, err)
		}
		conns = append(conns, c)
	}
	var j Joined
	p.next(b, "joined", time.Minute, &j)
	if j.Connected != n {
		b.Fatalf("%d of %d sinks connected: %q", j.Connected, n, j.Errors)
	}

	quit := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- soFloorLoop(conns, interval, time.Second/rate, envInt(b, envSOFloorGroups, 1), quit)
	}()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		close(quit)
		return <-done
	}
	defer func() { _ = stop() }()

	s0, s1 := measure(b, p)
	if err := stop(); err != nil {
		b.Fatalf("floor writer: %v", err)
	}
	sec := s1.at.Sub(s0.at).Seconds()
	changes := float64(s1.snap.Changes - s0.snap.Changes)
	if changes < 0.9*rate*sec {
		shortfall(b, "%.0f changes reached every reader in %.1fs, want about %d/s", changes, sec, rate)
	}
	cpu := (s1.cpu - s0.cpu).Seconds()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(changes/sec, "changes/s")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.Latency, s1.snap.Latency, 0.50)), "p50-ms")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.Latency, s1.snap.Latency, 0.99)), "p99-ms")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.FirstLatency, s1.snap.FirstLatency, 0.50)), "first-p50-ms")
	b.ReportMetric(ms(LatencyQuantile(s0.snap.FirstLatency, s1.snap.FirstLatency, 0.99)), "first-p99-ms")
	b.ReportMetric(changes*float64(n)/cpu, "events/cpu-s")
	b.ReportMetric(cpu/sec*100, "%core")
	b.ReportMetric((s1.tool-s0.tool).Seconds()/sec*100, "tool-%core")
	checkSummary(b, p.finish(b), n)
}

// soFloorLoop is the floor's writer: at every interval it writes the
// record of the changes made since the last tick (one every period) to
// every connection, split between one goroutine per core, until quit.
// With groups > 1 the connections are cut into that many groups written
// in turn, one every interval/groups, so that each connection still gets
// a record per interval but the writes of an interval are spread over it.
func soFloorLoop(conns []*net.TCPConn, interval, period time.Duration, groups int, quit <-chan struct{}) error {
	start := time.Now()
	groups = min(max(groups, 1), len(conns))
	per := (len(conns) + groups - 1) / groups
	from := make([]int, groups)
	for g := range from {
		from[g] = 1
	}
	parts := min(runtime.GOMAXPROCS(0), per)
	recs := make([][]byte, parts)
	t := time.NewTicker(interval / time.Duration(groups))
	defer t.Stop()
	for k := 0; ; k++ {
		select {
		case <-quit:
			return nil
		case <-t.C:
		}
		g := k % groups
		to := int(time.Since(start) / period)
		if to < from[g] {
			continue
		}
		group := conns[min(g*per, len(conns)):min((g+1)*per, len(conns))]
		pper := (len(group) + parts - 1) / parts
		var wg sync.WaitGroup
		errs := make([]error, parts)
		for i := range parts {
			part := group[min(i*pper, len(group)):min((i+1)*pper, len(group))]
			wg.Go(func() {
				recs[i] = appendSOFloorRecord(recs[i][:0], start, period, from[g], to)
				for _, c := range part {
					if _, err := c.Write(recs[i]); err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		from[g] = to + 1
	}
}
