package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
)

func TestSplitStreamURL(t *testing.T) {
	tests := []struct {
		in, conn, stream string
		ok               bool
	}{
		{"rtmp://127.0.0.1:1935/live/s1", "rtmp://127.0.0.1:1935/live", "s1", true},
		{"rtmp://h/live/room1/s1", "rtmp://h/live/room1", "s1", true},
		{"rtmp://h/live/s1/", "rtmp://h/live", "s1", true},
		{"rtmp://h/live", "", "", false},
		{"rtmp://h/", "", "", false},
		{"http://h/live/s", "", "", false},
		{"rtmp:///live/s", "", "", false},
		{"::", "", "", false},
	}
	for _, tt := range tests {
		conn, stream, err := SplitStreamURL(tt.in)
		if (err == nil) != tt.ok || conn != tt.conn || stream != tt.stream {
			t.Errorf("SplitStreamURL(%q) = %q, %q, %v; want %q, %q, ok=%v", tt.in, conn, stream, err, tt.conn, tt.stream, tt.ok)
		}
	}
}

func TestSynth(t *testing.T) {
	tests := []struct {
		name       string
		s          Stream
		frameBytes int
	}{
		{"defaults: 1 Mbit/s, 25 fps", Stream{}, 1_000_000/8/25 - 400},
		{"2 Mbit/s, 30 fps", Stream{Bitrate: 2_000_000, FPS: 30}, 8333 - 333}, // 200 B per 20 ms over 33.3 ms
		{"tiny bitrate keeps a minimal frame", Stream{Bitrate: 8000}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.VideoFrameBytes(); got != tt.frameBytes {
				t.Fatalf("VideoFrameBytes = %d, want %d", got, tt.frameBytes)
			}
			g := NewSynth(tt.s)
			s := g.Stream()
			h := g.Headers()
			if len(h) != 2 || h[0].Kind != media.Video || h[0].Payload[1] != 0 || h[1].Kind != media.Audio || h[1].Payload[1] != 0 {
				t.Fatalf("headers are not AVC and AAC sequence headers: %+v", h)
			}
			// Ten seconds of stream: timestamps never go back, video first
			// at equal times, keyframes exactly every KeyframeInterval,
			// payload bytes add up to the bitrate.
			var last uint32
			var bytes, frames, keys int
			lastKind := media.Video
			for {
				p := g.Next()
				if p.Time >= 10_000 {
					break
				}
				if p.Time < last || (p.Time == last && p.Kind == media.Video && lastKind == media.Audio) {
					t.Fatalf("packet %v at %d after %v at %d", p.Kind, p.Time, lastKind, last)
				}
				last, lastKind = p.Time, p.Kind
				bytes += len(p.Payload)
				if p.Kind == media.Video {
					if len(p.Payload) != tt.frameBytes {
						t.Fatalf("video message of %d bytes, want %d", len(p.Payload), tt.frameBytes)
					}
					isKey := p.Payload[0]>>4 == 1
					if want := frames%(s.FPS*2) == 0; isKey != want {
						t.Fatalf("frame %d keyframe=%v, want %v", frames, isKey, want)
					}
					if isKey {
						keys++
					}
					frames++
				} else if len(p.Payload) != s.AudioBytes || p.Payload[0] != 0xaf || p.Payload[1] != 1 {
					t.Fatalf("audio message %x...", p.Payload[:2])
				}
			}
			if keys != 5 {
				t.Errorf("%d keyframes in 10 s, want 5", keys)
			}
			if tt.frameBytes > 16 {
				rate := float64(bytes) * 8 / 10
				if rate < 0.95*float64(s.Bitrate) || rate > 1.05*float64(s.Bitrate) {
					t.Errorf("payload rate %.0f bit/s, want about %d", rate, s.Bitrate)
				}
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name      string
		ok        []bool
		base, end []int64
		window    time.Duration
		want      Summary
	}{
		{"three players, one failed", []bool{true, false, true, true}, []int64{10, 0, 0, 5}, []int64{1010, 0, 3000, 2005}, 2 * time.Second,
			Summary{Connected: 3, Failed: 1, Bytes: 6000, Mbps: 6000 * 8 / 2.0 / 1e6, PerConnMinBytes: 1000, PerConnMedianBytes: 2000}},
		{"none connected", []bool{false, false}, []int64{0, 0}, []int64{0, 0}, time.Second,
			Summary{Connected: 0, Failed: 2}},
		{"empty window", []bool{true}, []int64{7}, []int64{7}, 0,
			Summary{Connected: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(ModePlay, "rtmp://h/live/s", len(tt.ok), tt.ok, tt.base, tt.end, tt.window)
			tt.want.Event, tt.want.Mode, tt.want.Target, tt.want.Requested = "summary", "play", "rtmp://h/live/s", len(tt.ok)
			tt.want.Seconds = tt.window.Seconds()
			if got.Mbps-tt.want.Mbps > 1e-9 || tt.want.Mbps-got.Mbps > 1e-9 {
				t.Errorf("Mbps = %v, want %v", got.Mbps, tt.want.Mbps)
			}
			got.Mbps = tt.want.Mbps
			if !equalSummary(got, tt.want) {
				t.Errorf("summarize\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalSummary(a, b Summary) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// fleetRun is a RunFleet driven through a Control pipe, its output read
// line by line.
type fleetRun struct {
	ctl   *io.PipeWriter
	lines chan string
	done  chan error
	sum   Summary
}

func startFleet(t *testing.T, o FleetOptions) *fleetRun {
	t.Helper()
	cr, cw := io.Pipe()
	or, ow := io.Pipe()
	o.Control = cr
	r := &fleetRun{ctl: cw, lines: make(chan string, 64), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(or)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	go func() {
		var err error
		r.sum, err = RunFleet(context.Background(), o, ow)
		_ = ow.Close()
		_ = cr.Close()
		r.done <- err
	}()
	t.Cleanup(func() {
		_ = cw.Close()
		for range r.lines {
		}
	})
	return r
}

// expect reads lines until one with event, failing after a deadline.
func (r *fleetRun) expect(t *testing.T, event string, v any) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("output ended before %q", event)
			}
			if !strings.Contains(line, `"event":"`+event+`"`) {
				continue
			}
			if err := json.Unmarshal([]byte(line), v); err != nil {
				t.Fatal(err)
			}
			return
		case <-deadline:
			t.Fatalf("no %q line", event)
		}
	}
}

// snapshotUntil asks for snapshots until cond holds.
func (r *fleetRun) snapshotUntil(t *testing.T, cond func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := io.WriteString(r.ctl, "\n"); err != nil {
			t.Fatal(err)
		}
		var s Snapshot
		r.expect(t, "snapshot", &s)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot condition not met; last %+v", s)
		}
	}
}

func (r *fleetRun) finish(t *testing.T) Summary {
	t.Helper()
	_ = r.ctl.Close()
	var s Summary
	r.expect(t, "summary", &s)
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	if !equalSummary(s, r.sum) {
		t.Errorf("printed summary %+v, returned %+v", s, r.sum)
	}
	return s
}

// TestFleetPlay plays the synthetic stream from the in-process server with
// three players and checks what the lines say.
func TestFleetPlay(t *testing.T) {
	addr, _ := startServer(t)
	url := "rtmp://" + addr + "/live/t"
	ctx, cancel := context.WithCancel(context.Background())
	pub, err := Publish(ctx, PublishOptions{URL: url, Pacing: PaceTick})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-pubDone; err != nil {
			t.Errorf("publisher: %v", err)
		}
		_ = pub.Close()
	}()

	r := startFleet(t, FleetOptions{Mode: ModePlay, Target: url, N: 3, Ramp: 2})
	var j Joined
	r.expect(t, "joined", &j)
	if j.Connected != 3 || j.Failed != 0 {
		t.Fatalf("joined %+v", j)
	}
	// Frames arrive: wait for more than the config plus one frame each.
	frame := int64(NewSynth(Stream{}).Stream().VideoFrameBytes())
	s := r.snapshotUntil(t, func(s Snapshot) bool { return s.PayloadBytes > 3*3*frame })
	if s.Alive != 3 || s.Bytes < s.PayloadBytes || s.Messages == 0 {
		t.Errorf("snapshot %+v", s)
	}
	sum := r.finish(t)
	// Wire bytes are counted as read and payloads as parsed, so over a
	// window (unlike since the start) either may lead.
	if sum.Mode != "play" || sum.Connected != 3 || sum.Failed != 0 || sum.Dropped != 0 ||
		sum.PerConnMinBytes > sum.PerConnMedianBytes {
		t.Errorf("summary %+v", sum)
	}
	if st := pub.Stats(); st.Messages < 3 {
		t.Errorf("publisher stats %+v", st)
	}
}

// TestFleetSO: the shared-object fleet's subscribers read the writer's
// changes, each counted once every subscriber has read it, with both
// latencies recorded.
func TestFleetSO(t *testing.T) {
	var cfg instance.Config
	cfg.SharedObjects.ChangeRate = 1000 // the default 200 would refuse some of a burst after a stall
	addr, _, _ := startServerConfig(t, cfg)
	r := startFleet(t, FleetOptions{Mode: ModeSO, Target: "rtmp://" + addr + "/live", N: 3, Rate: 100})
	var j Joined
	r.expect(t, "joined", &j)
	if j.Connected != 3 || j.Failed != 0 {
		t.Fatalf("joined %+v", j)
	}
	s := r.snapshotUntil(t, func(s Snapshot) bool { return s.Changes >= 50 })
	var last, first int64
	for i := range s.Latency {
		last += s.Latency[i]
	}
	for i := range s.FirstLatency {
		first += s.FirstLatency[i]
	}
	// A change is counted delivered before its latency, and the
	// snapshot reads the latencies first: last <= Changes.
	if s.Alive != 3 || s.Changes > s.Written || last < 1 || last > s.Changes || first < 1 {
		t.Errorf("snapshot: %d alive, %d changes delivered of %d written, %d last-read and %d first-read latencies",
			s.Alive, s.Changes, s.Written, last, first)
	}
	if sum := r.finish(t); sum.Mode != "so" || sum.Connected != 3 || sum.Dropped != 0 {
		t.Errorf("summary %+v", sum)
	}
}

// TestFleetIdleAndBadApp: idle connections to an existing app open and stay
// up; to an unknown app they fail with the server's InvalidApp, counted.
func TestFleetIdleAndBadApp(t *testing.T) {
	addr, _ := startServer(t)
	tests := []struct {
		app       string
		connected int
		err       string
	}{
		{"live", 4, ""},
		{"nosuchapp", 0, "NetConnection.Connect.InvalidApp"},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			r := startFleet(t, FleetOptions{Mode: ModeIdle, Target: "rtmp://" + addr + "/" + tt.app, N: 4})
			var j Joined
			r.expect(t, "joined", &j)
			if j.Connected != tt.connected || (tt.err != "" && !strings.Contains(strings.Join(j.Errors, " "), tt.err)) {
				t.Fatalf("joined %+v, want %d connected and error %q", j, tt.connected, tt.err)
			}
			sum := r.finish(t)
			if sum.Connected != tt.connected || sum.Dropped != 0 {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

// TestFleetSink counts the bytes a local writer sends to each sink.
func TestFleetSink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	const n, per = 3, 10_000
	served := make(chan error, 1)
	release := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for range n {
			c, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			conns = append(conns, c)
			if _, err := c.Write(make([]byte, per)); err != nil {
				served <- err
				return
			}
		}
		served <- nil
		<-release // hold the connections until the test has its snapshot
	}()
	r := startFleet(t, FleetOptions{Mode: ModeSink, Target: ln.Addr().String(), N: n})
	var j Joined
	r.expect(t, "joined", &j)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	r.snapshotUntil(t, func(s Snapshot) bool { return s.Bytes == n*per && s.Alive == n })
	close(release)
	sum := r.finish(t)
	if sum.Connected != n {
		t.Errorf("summary %+v", sum)
	}
}

func TestFleetBadTarget(t *testing.T) {
	tests := []FleetOptions{
		{Mode: ModePlay, Target: "rtmp://h/live"},
		{Mode: ModeIdle, Target: "http://h/live"},
		{Mode: ModeSink, Target: "nohostport"},
		{Mode: Mode(9), Target: "h:1"},
	}
	for _, o := range tests {
		if _, err := RunFleet(context.Background(), o, io.Discard); err == nil {
			t.Errorf("RunFleet(%v, %q) succeeded", o.Mode, o.Target)
		}
	}
}

func TestSynthFrameStart(t *testing.T) {
	tests := []struct {
		fps     int
		t, want uint32
	}{
		{25, 0, 0}, {25, 39, 0}, {25, 40, 40}, {25, 60, 40}, {25, 1000, 1000},
		{30, 32, 0}, {30, 33, 33}, {30, 34, 33}, {30, 66, 66}, {30, 99, 66}, {30, 100, 100}, {30, 120, 100},
	}
	for _, tt := range tests {
		g := NewSynth(Stream{FPS: tt.fps})
		if got := g.FrameStart(tt.t); got != tt.want {
			t.Errorf("fps %d: FrameStart(%d) = %d, want %d", tt.fps, tt.t, got, tt.want)
		}
	}
	// Every video timestamp starts its own interval.
	g := NewSynth(Stream{FPS: 30})
	for range 200 {
		if p := g.Next(); p.Kind == media.Video && g.FrameStart(p.Time) != p.Time {
			t.Fatalf("FrameStart(%d) = %d for a video frame", p.Time, g.FrameStart(p.Time))
		}
	}
}

// TestCountConnReadAhead: the read-ahead hands out exactly the bytes
// written, in any read sizes, counts them once, and reports EOF after them.
func TestCountConnReadAhead(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, bufSize := range []int{0, 1, 7, 4096, 16 << 10} {
		a, b := net.Pipe()
		go func() {
			for off := 0; off < len(data); off += 3000 {
				_, _ = a.Write(data[off:min(off+3000, len(data))])
			}
			_ = a.Close()
		}()
		m := &member{}
		c := &countConn{Conn: b, m: m}
		if bufSize > 0 {
			c.buf = make([]byte, bufSize)
		}
		var got []byte
		p := make([]byte, 5000)
		for i := 0; ; i++ {
			n, err := c.Read(p[:1+i%len(p)])
			got = append(got, p[:n]...)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("buf %d: %v", bufSize, err)
				}
				break
			}
		}
		_ = b.Close()
		if string(got) != string(data) || m.bytes.Load() != int64(len(data)) {
			t.Errorf("buf %d: read %d bytes (equal=%v), counted %d; want %d", bufSize, len(got), string(got) == string(data), m.bytes.Load(), len(data))
		}
	}
}
