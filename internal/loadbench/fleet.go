package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/tunnel"
)

// Mode is what each connection of a fleet does.
type Mode uint8

// Fleet modes.
const (
	// ModePlay: RTMP connect, createStream, play; count what arrives.
	ModePlay Mode = iota
	// ModeIdle: RTMP handshake and connect, then nothing: the memory
	// benchmark's idle connection.
	ModeIdle
	// ModeSink: a plain TCP connection that only reads: the floor
	// benchmark's player.
	ModeSink
	// ModeIngest: each connection publishes the synthetic stream on a
	// stream of its own (<stream>-<i>): the ingest benchmark's publishers.
	ModeIngest
	// ModeSO: each connection subscribes to the remote shared object
	// "bench", and one more changes it Rate times a second (so.go).
	ModeSO
)

// String names the mode as the tool's sub-command spells it.
func (m Mode) String() string {
	switch m {
	case ModePlay:
		return "play"
	case ModeIdle:
		return "idle"
	case ModeSink:
		return "sink"
	case ModeIngest:
		return "ingest"
	case ModeSO:
		return "so"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// FleetOptions configures RunFleet. A zero field means its documented
// default.
type FleetOptions struct {
	Mode Mode
	// Target is rtmp://host[:port]/app[/instance]/stream for ModePlay and
	// ModeIngest (which publishes <stream>-0, <stream>-1, ...),
	// rtmp://host[:port]/app[/instance] for ModeIdle and host:port for
	// ModeSink.
	Target string
	// N is the number of connections. Default 1.
	N int
	// Ramp is how many connections are opened at once; the next batch
	// starts when the previous one has finished. Default 200.
	Ramp int
	// ConnectTimeout bounds opening one connection (for play: handshake,
	// connect, createStream and Play.Start). Default 10s.
	ConnectTimeout time.Duration
	// Warmup is the time between the last connection opening and the
	// start of the measured window.
	Warmup time.Duration
	// Duration is the length of the measured window; zero means until ctx
	// ends or Control reaches EOF.
	Duration time.Duration
	// Stream and Pacing describe what ModeIngest publishers send.
	Stream Stream
	Pacing Pacing
	// Rate is the ModeSO writer's changes per second. Default 1000.
	Rate int
	// SOFloor makes ModeSink connections read the shared-object floor's
	// records (soFloorRecord) and time the changes they name as ModeSO
	// times a shared object's: the bare cost of the same fan-out.
	SOFloor bool
	// HTTPConns, when positive, makes rtmpt:// sessions share at most
	// that many HTTP connections for their requests, as clients behind
	// one proxy do; zero gives each session a kept-alive connection of
	// its own while it polls. It separates what a session costs the
	// server from what its HTTP connection does.
	HTTPConns int
	// Control, when set, is read line by line: each line makes RunFleet
	// print a Snapshot; EOF ends the window. A benchmark drives the tool
	// through its stdin this way. RunFleet does not wait for the reading
	// goroutine: it ends when Control reaches EOF or fails.
	Control io.Reader
}

func (o FleetOptions) withDefaults() FleetOptions {
	if o.N <= 0 {
		o.N = 1
	}
	if o.Ramp <= 0 {
		o.Ramp = 200
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Rate <= 0 {
		o.Rate = 1000
	}
	return o
}

// Joined is the line printed once every connection has been tried.
type Joined struct {
	Event     string   `json:"event"` // "joined"
	Connected int      `json:"connected"`
	Failed    int      `json:"failed"`
	Seconds   float64  `json:"seconds"` // time taken to open them
	Errors    []string `json:"errors,omitempty"`
}

// Snapshot is the line printed for each line read from Control. Counters
// are cumulative since the fleet started, so a reader subtracts two.
type Snapshot struct {
	Event        string  `json:"event"`   // "snapshot"
	Seconds      float64 `json:"seconds"` // since the fleet started
	Alive        int     `json:"alive"`
	Bytes        int64   `json:"bytes"`         // wire bytes read, all connections
	PayloadBytes int64   `json:"payload_bytes"` // media and data payload bytes (play)
	Messages     int64   `json:"messages"`      // media and data messages (play)
	// Latency counts the publish-to-delivery latency of stamped video
	// frames (play, from a loadbench publisher), or the time from a
	// shared-object change to its read by the last subscriber (so), in
	// buckets of LatencyBucket, cumulative; LatencyQuantile reads a window
	// of it.
	Latency []int64 `json:"latency,omitempty"`
	// FirstLatency counts, as Latency, the time from a shared-object
	// change to its read by the first subscriber (so): what the fan-out
	// to every other subscriber adds is the difference.
	FirstLatency []int64 `json:"first_latency,omitempty"`
	// Changes counts the shared-object changes every subscriber has read
	// (so).
	Changes int64 `json:"changes,omitempty"`
	// Written counts the changes the so writer has made.
	Written int64 `json:"written,omitempty"`
}

// Summary is the last line: what the fleet received during the measured
// window (from the window_start line to the end).
type Summary struct {
	Event        string  `json:"event"` // "summary"
	Mode         string  `json:"mode"`
	Target       string  `json:"target"`
	Requested    int     `json:"requested"`
	Connected    int     `json:"connected"`
	Failed       int     `json:"failed"`
	Dropped      int     `json:"dropped"` // connected, then ended before the end of the window
	Seconds      float64 `json:"seconds"` // window length
	Bytes        int64   `json:"bytes"`   // wire bytes read during the window
	PayloadBytes int64   `json:"payload_bytes"`
	Messages     int64   `json:"messages"`
	Mbps         float64 `json:"mbit_per_s"` // Bytes in Mbit/s (10^6 bits)
	// Publish-to-delivery latency of stamped video frames during the
	// window, in milliseconds (0 without any).
	LatencyP50 float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99 float64 `json:"latency_p99_ms,omitempty"`
	// Per-connection wire bytes over the window, connected ones only.
	PerConnMinBytes    int64    `json:"per_conn_min_bytes"`
	PerConnMedianBytes int64    `json:"per_conn_median_bytes"`
	Errors             []string `json:"errors,omitempty"`
}

// member is one connection of the fleet. The counters are written by the
// connection's reader goroutine and read by snapshots.
type member struct {
	idx      int          // place in the fleet
	bytes    atomic.Int64 // wire bytes read (ingest: written)
	payload  atomic.Int64
	messages atomic.Int64
	writes   bool       // count written bytes, not read ones (ingest)
	pub      *Publisher // ingest

	readAhead int // read-ahead buffer size for RTMP connections, 0 for none
	// tunnel dials rtmpt:// (nil: dialRTMPT).
	tunnel func(ctx context.Context, u *url.URL) (net.Conn, error)

	ok    bool            // opened; set before the ramp batch is waited for
	done  <-chan struct{} // closed when the connection has ended
	close func()
}

func (m *member) alive() bool {
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// countConn counts the bytes read from a connection. With buf set it also
// reads ahead: the RTMP client's chunk reader asks for a byte, then a
// header, then a body, about three read calls per burst the server wrote;
// serving those from one larger read keeps the tool's CPU (which shares
// the machine with the server it measures) down. Reader goroutine only.
type countConn struct {
	net.Conn
	m    *member
	buf  []byte
	r, w int
	err  error // a read error to return once buf is drained
}

// Write counts what an ingest publisher writes.
func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.m.writes {
		c.m.bytes.Add(int64(n))
	}
	return n, err
}

func (c *countConn) Read(p []byte) (int, error) {
	if c.m.writes {
		return c.Conn.Read(p)
	}
	if c.buf == nil || (c.r == c.w && len(p) >= len(c.buf)) {
		n, err := c.Conn.Read(p)
		c.m.bytes.Add(int64(n))
		return n, err
	}
	if c.r == c.w {
		if c.err != nil {
			return 0, c.err
		}
		n, err := c.Conn.Read(c.buf)
		c.m.bytes.Add(int64(n))
		c.r, c.w, c.err = 0, n, err
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

func (m *member) dialRTMP(ctx context.Context, u *url.URL) (net.Conn, error) {
	var nc net.Conn
	var err error
	switch u.Scheme {
	case "rtmpws":
		nc, err = dialWS(ctx, u)
	case "rtmpt":
		dial := m.tunnel
		if dial == nil {
			dial = dialRTMPT
		}
		nc, err = dial(ctx, u)
	default:
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "1935")
		}
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return nil, err
	}
	cc := &countConn{Conn: nc, m: m}
	if m.readAhead > 0 {
		cc.buf = make([]byte, m.readAhead)
	}
	return cc, nil
}

// dialWS opens RTMP over WebSocket; the counted bytes are then the RTMP
// bytes inside the messages, as over TCP.
var dialWS = bridge.DialFunc(bridge.DialConfig{})

// dialRTMPT opens RTMP tunneled over HTTP (RTMPT); the counted bytes are
// the RTMP bytes the polls carried.
var dialRTMPT = tunnel.DialFunc(tunnel.DialConfig{})

// errorSet keeps distinct error texts with their counts.
type errorSet struct {
	mu sync.Mutex
	m  map[string]int
}

func (e *errorSet) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	e.m[err.Error()]++
}

// list returns at most 5 texts, most frequent first, with their counts.
func (e *errorSet) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	keys := make([]string, 0, len(e.m))
	for k := range e.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if e.m[keys[i]] != e.m[keys[j]] {
			return e.m[keys[i]] > e.m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > 5 {
		keys = keys[:5]
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s (x%d)", k, e.m[k])
	}
	return out
}

// fleet is the set of connections of one RunFleet.
type fleet struct {
	o       FleetOptions
	connURL string // play, idle
	stream  string // play
	members []*member
	errs    errorSet
	lat     latencyHist // play: every player's stamped video frames
	so      *soTracker  // ModeSO
	// polls reads the shared-object subscribers and the floor's readers
	// (ModeSO, SOFloor).
	polls pollGroup
}

func (f *fleet) open(ctx context.Context, m *member) error {
	ctx, cancel := context.WithTimeout(ctx, f.o.ConnectTimeout)
	defer cancel()
	switch f.o.Mode {
	case ModeSink:
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", f.o.Target)
		if err != nil {
			return err
		}
		if f.o.SOFloor {
			r := &soFloorReader{f: f, m: m}
			if err := f.polls.watch(nc, m, r.ready); err != nil {
				_ = nc.Close()
				return err
			}
			return nil
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 16<<10)
			for {
				n, err := nc.Read(buf)
				m.bytes.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		m.done = done
		m.close = func() { _ = nc.Close(); <-done }
		return nil
	case ModePlay, ModeIdle:
		c, err := rtmp.Dial(ctx, f.connURL, rtmp.ClientConfig{Dial: m.dialRTMP})
		if err != nil {
			return err
		}
		if f.o.Mode == ModePlay {
			s, err := c.CreateStream(ctx)
			if err == nil {
				s.OnPacket = func(p media.Packet) {
					m.messages.Add(1)
					m.payload.Add(int64(len(p.Payload)))
					if sent, ok := videoStamp(&p); ok {
						f.lat.add(time.Since(sent))
					}
				}
				err = s.Play(ctx, f.stream, -2000)
			}
			if err != nil {
				_ = c.Close()
				return err
			}
		}
		m.done = c.Done()
		m.close = func() { _ = c.Close() }
		return nil
	case ModeSO:
		return f.openSOSubscriber(ctx, m)
	case ModeIngest:
		pub, err := Publish(ctx, PublishOptions{URL: fmt.Sprintf("%s/%s-%d", f.connURL, f.stream, m.idx),
			Stream: f.o.Stream, Pacing: f.o.Pacing, Dial: m.dialRTMP})
		if err != nil {
			return err
		}
		m.pub = pub
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Encoders do not start in step: spread the publishers over a
			// frame interval, as their clocks would be.
			phase := time.Duration(m.idx*7919%1000) * time.Second / time.Duration(f.o.Stream.withDefaults().FPS) / 1000
			select {
			case <-time.After(phase):
			case <-runCtx.Done():
				return
			}
			_ = pub.Run(runCtx)
		}()
		m.done = done
		m.close = func() {
			cancel()
			<-done
			_ = pub.Close()
		}
		return nil
	}
	return fmt.Errorf("unknown mode %v", f.o.Mode)
}

// openAll opens the connections in batches of Ramp and returns how many
// succeeded.
func (f *fleet) openAll(ctx context.Context) int {
	ok := 0
	for start := 0; start < len(f.members) && ctx.Err() == nil; start += f.o.Ramp {
		batch := f.members[start:min(start+f.o.Ramp, len(f.members))]
		var wg sync.WaitGroup
		for _, m := range batch {
			wg.Go(func() {
				if err := f.open(ctx, m); err != nil {
					f.errs.add(err)
					return
				}
				m.ok = true
			})
		}
		wg.Wait()
		for _, m := range batch {
			if m.ok {
				ok++
			}
		}
	}
	return ok
}

func (f *fleet) closeAll() {
	var wg sync.WaitGroup
	for _, m := range f.members {
		if m.ok {
			wg.Go(m.close)
		}
	}
	wg.Wait()
}

// totals sums the counters; per, when non-nil, receives each member's wire
// bytes.
func (f *fleet) totals(per []int64) (s Snapshot) {
	for i, m := range f.members {
		b := m.bytes.Load()
		if per != nil {
			per[i] = b
		}
		s.Bytes += b
		s.PayloadBytes += m.payload.Load()
		s.Messages += m.messages.Load()
		if m.ok && m.pub != nil {
			st := m.pub.Stats()
			s.PayloadBytes += st.Bytes
			s.Messages += st.Messages
		}
		if m.ok && m.alive() {
			s.Alive++
		}
	}
	switch {
	case f.o.Mode == ModePlay:
		s.Latency = f.lat.snapshot()
	case f.so != nil:
		s.Latency = f.so.lat.snapshot()
		s.FirstLatency = f.so.first.snapshot()
		s.Changes = f.so.done.Load()
		s.Written = f.so.last.Load()
	}
	return s
}

// emitter writes JSON lines.
type emitter struct {
	w   io.Writer
	err error
}

func (e *emitter) emit(v any) {
	if e.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = e.w.Write(append(b, '\n'))
	}
	e.err = err
}

// RunFleet opens o.N connections, waits o.Warmup, measures for o.Duration
// (or until ctx ends or Control reaches EOF), closes them and returns what
// they received during the window. It prints one JSON object per line to
// out: Joined, then {"event":"window_start"}, a Snapshot per Control line,
// and the Summary last. Connections that fail to open are counted, not
// fatal: the error is for bad options and for failing to write out.
func RunFleet(ctx context.Context, o FleetOptions, out io.Writer) (Summary, error) {
	o = o.withDefaults()
	f := &fleet{o: o, members: make([]*member, o.N)}
	var tunnelDial func(ctx context.Context, u *url.URL) (net.Conn, error)
	if o.HTTPConns > 0 {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = o.HTTPConns, o.HTTPConns
		tr.DisableCompression = true
		cl := &http.Client{Transport: tr}
		defer cl.CloseIdleConnections()
		tunnelDial = tunnel.DialFunc(tunnel.DialConfig{Client: cl})
	}
	for i := range f.members {
		f.members[i] = &member{idx: i, writes: o.Mode == ModeIngest, tunnel: tunnelDial}
		if o.Mode == ModePlay {
			// Idle connections read nothing and should cost the tool
			// little memory; players read a burst per wake-up.
			f.members[i].readAhead = 16 << 10
		}
	}
	switch o.Mode {
	case ModePlay, ModeIngest:
		var err error
		if f.connURL, f.stream, err = SplitStreamURL(o.Target); err != nil {
			return Summary{}, err
		}
	case ModeIdle, ModeSO:
		u, err := url.Parse(o.Target)
		if err != nil || !knownScheme(u.Scheme) || u.Host == "" {
			return Summary{}, fmt.Errorf("url %q: want rtmp://host[:port]/app (or rtmpt://, rtmpws://)", o.Target)
		}
		f.connURL = o.Target
	case ModeSink:
		if _, _, err := net.SplitHostPort(o.Target); err != nil {
			return Summary{}, fmt.Errorf("address %q: %w", o.Target, err)
		}
	default:
		return Summary{}, fmt.Errorf("unknown mode %v", o.Mode)
	}
	em := &emitter{w: out}
	start := time.Now()
	if o.Mode == ModeSO || o.SOFloor {
		f.so = &soTracker{start: start}
	}
	connected := f.openAll(ctx)
	defer f.polls.close()
	defer f.closeAll()
	if f.so != nil {
		// Changes are counted once every subscriber reads them: the
		// tracker waits for the ones that connected.
		f.so.n.Store(int32(connected))
	}
	if o.Mode == ModeSO {
		wctx, cancel := context.WithCancel(ctx)
		werr := make(chan error, 1)
		go func() { werr <- f.runSOWriter(wctx) }()
		defer func() {
			cancel()
			if err := <-werr; err != nil {
				f.errs.add(err)
			}
		}()
	}
	em.emit(Joined{Event: "joined", Connected: connected, Failed: o.N - connected,
		Seconds: time.Since(start).Seconds(), Errors: f.errs.list()})

	ctrl := make(chan struct{})
	ctrlEOF := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	if o.Control != nil {
		go func() {
			defer close(ctrlEOF)
			sc := bufio.NewScanner(o.Control)
			for sc.Scan() {
				select {
				case ctrl <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
	}

	base := make([]int64, o.N)
	var baseTotals Snapshot
	var winStart time.Time
	inWindow := false
	timer := time.NewTimer(o.Warmup)
	defer timer.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ctrlEOF:
			break loop
		case <-ctrl:
			s := f.totals(nil)
			s.Event, s.Seconds = "snapshot", time.Since(start).Seconds()
			em.emit(s)
		case <-timer.C:
			if inWindow {
				break loop
			}
			inWindow = true
			winStart = time.Now()
			baseTotals = f.totals(base)
			em.emit(struct {
				Event string `json:"event"`
			}{"window_start"})
			if o.Duration > 0 {
				timer.Reset(o.Duration)
			}
		}
	}
	end := make([]int64, o.N)
	endTotals := f.totals(end)
	window := time.Duration(0)
	if inWindow {
		window = time.Since(winStart)
	} else {
		// Ended before the window opened: an empty window.
		copy(base, end)
		baseTotals = endTotals
	}
	ok := make([]bool, o.N)
	for i, m := range f.members {
		ok[i] = m.ok
	}
	sum := summarize(o.Mode, o.Target, o.N, ok, base, end, window)
	sum.PayloadBytes = endTotals.PayloadBytes - baseTotals.PayloadBytes
	sum.Messages = endTotals.Messages - baseTotals.Messages
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	sum.LatencyP50 = ms(LatencyQuantile(baseTotals.Latency, endTotals.Latency, 0.50))
	sum.LatencyP99 = ms(LatencyQuantile(baseTotals.Latency, endTotals.Latency, 0.99))
	sum.Dropped = connected - endTotals.Alive
	sum.Errors = f.errs.list()
	em.emit(sum)
	return sum, em.err
}

// summarize computes a Summary's byte figures from the per-connection wire
// byte counters at the start and end of the window; ok marks the
// connections that opened.
func summarize(mode Mode, target string, requested int, ok []bool, base, end []int64, window time.Duration) Summary {
	s := Summary{Event: "summary", Mode: mode.String(), Target: target, Requested: requested, Seconds: window.Seconds()}
	per := make([]int64, 0, len(ok))
	for i := range ok {
		if !ok[i] {
			continue
		}
		d := end[i] - base[i]
		per = append(per, d)
		s.Bytes += d
	}
	s.Connected = len(per)
	s.Failed = requested - s.Connected
	if len(per) > 0 {
		slices.Sort(per)
		s.PerConnMinBytes = per[0]
		s.PerConnMedianBytes = per[len(per)/2]
	}
	if window > 0 {
		s.Mbps = float64(s.Bytes) * 8 / window.Seconds() / 1e6
	}
	return s
}
