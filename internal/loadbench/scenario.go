package loadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
)

// A scenario is what `openfcs bench` runs against a server: publishers of
// synthetic streams, players spread over them, shared-object users that
// change a slot in turn and wait for the server's acknowledgement, and
// RPC callers that call a method and wait for the answer. It reports the
// throughput the players received, latency percentiles of media (publish
// to delivery), shared-object changes and calls, errors, and the server's
// CPU time over the window (from its Prometheus metrics or /proc).

// Scenario configures RunScenario. A zero field means its documented
// default.
type Scenario struct {
	// URL is rtmp://host[:port]/app[/instance] (or rtmpt://, rtmpws://):
	// where every client connects; streams are named bench-0, bench-1, ...
	URL string
	// Publishers of synthetic streams. Default 1.
	Publishers int
	// Players, spread round-robin over the publishers' streams.
	Players int
	// SOUsers connect to the temporary shared object "bench" and each
	// changes its own slot every SOInterval (default 200ms).
	SOUsers    int
	SOInterval time.Duration
	// RPCCallers call RPCMethod (default "benchEcho") with one argument
	// every RPCInterval (default 100ms); an _error answer counts as an
	// answer (an application without that method still answers).
	RPCCallers  int
	RPCMethod   string
	RPCInterval time.Duration
	// Stream is the synthetic stream each publisher sends.
	Stream Stream
	// Warmup before and Duration of the measured window. Defaults 3s and
	// 10s.
	Warmup, Duration time.Duration
	// CPU reads the server's CPU seconds so far; nil: not measured.
	CPU CPUSource
}

func (s Scenario) withDefaults() Scenario {
	if s.Publishers <= 0 {
		s.Publishers = 1
	}
	if s.SOInterval <= 0 {
		s.SOInterval = 200 * time.Millisecond
	}
	if s.RPCMethod == "" {
		s.RPCMethod = "benchEcho"
	}
	if s.RPCInterval <= 0 {
		s.RPCInterval = 100 * time.Millisecond
	}
	if s.Warmup <= 0 {
		s.Warmup = 3 * time.Second
	}
	if s.Duration <= 0 {
		s.Duration = 10 * time.Second
	}
	return s
}

// Report is what RunScenario measured over the window.
type Report struct {
	URL     string  `json:"url"`
	Seconds float64 `json:"seconds"`
	// Publishers and players that opened, and those asked for.
	Publishers    int `json:"publishers"`
	PublishersAsk int `json:"publishers_requested"`
	Players       int `json:"players"`
	PlayersAsk    int `json:"players_requested"`
	SOUsers       int `json:"so_users"`
	RPCCallers    int `json:"rpc_callers"`
	// What the players received: wire bytes, media messages.
	Bytes      int64   `json:"bytes"`
	Messages   int64   `json:"messages"`
	Mbps       float64 `json:"mbit_per_s"`
	MediaP50MS float64 `json:"media_latency_p50_ms"`
	MediaP95MS float64 `json:"media_latency_p95_ms"`
	MediaP99MS float64 `json:"media_latency_p99_ms"`
	// Shared-object changes acknowledged and their latency.
	SOChanges int64   `json:"so_changes"`
	SOP50MS   float64 `json:"so_latency_p50_ms"`
	SOP99MS   float64 `json:"so_latency_p99_ms"`
	// Calls answered (_result or _error) and their latency.
	RPCCalls  int64   `json:"rpc_calls"`
	RPCErrors int64   `json:"rpc_error_answers"`
	RPCP50MS  float64 `json:"rpc_latency_p50_ms"`
	RPCP99MS  float64 `json:"rpc_latency_p99_ms"`
	// The server's CPU seconds during the window, and per delivered
	// gigabit (10^9 bits the players received); 0 when not measured.
	CPUSeconds float64  `json:"cpu_seconds,omitempty"`
	CPUPercent float64  `json:"cpu_percent,omitempty"`
	CPUPerGbit float64  `json:"cpu_seconds_per_gbit,omitempty"`
	Dropped    int      `json:"dropped"` // players that ended during the window
	Errors     []string `json:"errors,omitempty"`
}

// RunScenario runs s and returns its report. Clients that fail to open are
// counted, not fatal.
func RunScenario(ctx context.Context, s Scenario) (Report, error) {
	s = s.withDefaults()
	base, err := url.Parse(s.URL)
	if err != nil || !knownScheme(base.Scheme) || base.Host == "" {
		return Report{}, fmt.Errorf("url %q: want rtmp://host[:port]/app (or rtmpt://, rtmpws://)", s.URL)
	}
	rep := Report{URL: s.URL, PublishersAsk: s.Publishers, PlayersAsk: s.Players}
	var errs errorSet
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// Publishers first: players join published streams.
	stream := func(i int) string { return strings.TrimSuffix(s.URL, "/") + "/bench-" + strconv.Itoa(i%s.Publishers) }
	for i := range s.Publishers {
		p, err := Publish(ctx, PublishOptions{URL: stream(i), Stream: s.Stream})
		if err != nil {
			errs.add(err)
			continue
		}
		rep.Publishers++
		wg.Go(func() {
			defer p.Close()
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				errs.add(err)
			}
		})
	}

	// Players, in one fleet per stream (a fleet plays one name).
	type fleetRun struct {
		ctrl *io.PipeWriter
		out  *syncLines
		done chan Summary
	}
	var fleets []fleetRun
	for i := range min(s.Players, s.Publishers) {
		n := s.Players / s.Publishers
		if i < s.Players%s.Publishers {
			n++
		}
		r, w := io.Pipe()
		fr := fleetRun{ctrl: w, out: &syncLines{}, done: make(chan Summary, 1)}
		fleets = append(fleets, fr)
		wg.Go(func() {
			sum, err := RunFleet(ctx, FleetOptions{Mode: ModePlay, Target: stream(i), N: n, Control: r}, fr.out)
			if err != nil {
				errs.add(err)
			}
			fr.done <- sum
			_ = r.Close()
		})
	}

	// Shared-object users and RPC callers.
	so := &opStats{}
	rpc := &opStats{}
	measuring := &atomic.Bool{}
	for i := range s.SOUsers {
		c, err := dial(ctx, s.URL)
		if err != nil {
			errs.add(fmt.Errorf("so user: %w", err))
			continue
		}
		rep.SOUsers++
		wg.Go(func() {
			defer c.Close()
			if err := soUser(ctx, c, i, s.SOInterval, so, measuring); err != nil && ctx.Err() == nil {
				errs.add(fmt.Errorf("so user: %w", err))
			}
		})
	}
	for i := range s.RPCCallers {
		c, err := dial(ctx, s.URL)
		if err != nil {
			errs.add(fmt.Errorf("rpc caller: %w", err))
			continue
		}
		rep.RPCCallers++
		wg.Go(func() {
			defer c.Close()
			if err := rpcCaller(ctx, c, i, s.RPCMethod, s.RPCInterval, rpc, measuring); err != nil && ctx.Err() == nil {
				errs.add(fmt.Errorf("rpc caller: %w", err))
			}
		})
	}

	// The window: after Warmup (which also covers the fleets' opening),
	// for Duration.
	if !sleepCtx(ctx, s.Warmup) {
		return rep, ctx.Err()
	}
	var cpu0 float64
	var cpuErr error
	if s.CPU != nil {
		cpu0, cpuErr = s.CPU()
	}
	for _, f := range fleets {
		_, _ = io.WriteString(f.ctrl, "\n") // a snapshot marks the start
	}
	measuring.Store(true)
	start := time.Now()
	if !sleepCtx(ctx, s.Duration) {
		return rep, ctx.Err()
	}
	measuring.Store(false)
	rep.Seconds = time.Since(start).Seconds()
	if s.CPU != nil && cpuErr == nil {
		cpu1, err := s.CPU()
		if err == nil {
			rep.CPUSeconds = cpu1 - cpu0
			rep.CPUPercent = 100 * rep.CPUSeconds / rep.Seconds
		} else {
			cpuErr = err
		}
	}
	if cpuErr != nil {
		errs.add(fmt.Errorf("server cpu: %w", cpuErr))
	}
	var lat0, lat1 []int64
	for _, f := range fleets {
		_, _ = io.WriteString(f.ctrl, "\n") // and its end
		_ = f.ctrl.Close()
		sum := <-f.done
		first, last := f.out.snapshots()
		rep.Players += sum.Connected
		rep.Dropped += sum.Dropped
		rep.Bytes += last.Bytes - first.Bytes
		rep.Messages += last.Messages - first.Messages
		lat0, lat1 = addHist(lat0, first.Latency), addHist(lat1, last.Latency)
		for _, e := range sum.Errors {
			errs.add(errors.New(e))
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rep.MediaP50MS = ms(LatencyQuantile(lat0, lat1, 0.50))
	rep.MediaP95MS = ms(LatencyQuantile(lat0, lat1, 0.95))
	rep.MediaP99MS = ms(LatencyQuantile(lat0, lat1, 0.99))
	if rep.Seconds > 0 {
		rep.Mbps = float64(rep.Bytes) * 8 / rep.Seconds / 1e6
	}
	if rep.CPUSeconds > 0 && rep.Bytes > 0 {
		rep.CPUPerGbit = rep.CPUSeconds / (float64(rep.Bytes) * 8 / 1e9)
	}
	rep.SOChanges, rep.SOP50MS, rep.SOP99MS = so.summary()
	rep.RPCCalls, rep.RPCP50MS, rep.RPCP99MS = rpc.summary()
	rep.RPCErrors = rpc.errors.Load()
	cancel()
	wg.Wait()
	rep.Errors = errs.list()
	return rep, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func addHist(a, b []int64) []int64 {
	if len(b) > len(a) {
		a = append(a, make([]int64, len(b)-len(a))...)
	}
	for i, v := range b {
		a[i] += v
	}
	return a
}

// syncLines keeps a fleet's JSON lines (its stdout) and parses its
// snapshots.
type syncLines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// snapshots returns the first and the last snapshot lines.
func (l *syncLines) snapshots() (first, last Snapshot) {
	l.mu.Lock()
	text := l.buf.String()
	l.mu.Unlock()
	var snaps []Snapshot
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var s Snapshot
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Event == "snapshot" {
			snaps = append(snaps, s)
		}
	}
	if len(snaps) == 0 {
		return Snapshot{}, Snapshot{}
	}
	return snaps[0], snaps[len(snaps)-1]
}

func dial(ctx context.Context, raw string) (*rtmp.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var cc rtmp.ClientConfig
	switch {
	case strings.HasPrefix(raw, "rtmpws:"):
		cc.Dial = dialWS
	case strings.HasPrefix(raw, "rtmpt:"):
		cc.Dial = dialRTMPT
	}
	return rtmp.Dial(cctx, raw, cc)
}

// opStats collects the latencies of acknowledged operations during the
// window.
type opStats struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors atomic.Int64
}

const maxOpSamples = 1 << 20

func (o *opStats) add(d time.Duration) {
	o.mu.Lock()
	if len(o.lat) < maxOpSamples {
		o.lat = append(o.lat, d)
	}
	o.mu.Unlock()
}

func (o *opStats) summary() (n int64, p50, p99 float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.lat) == 0 {
		return 0, 0, 0
	}
	l := slices.Clone(o.lat)
	slices.Sort(l)
	q := func(f float64) float64 {
		return float64(l[min(len(l)-1, int(f*float64(len(l))))]) / float64(time.Millisecond)
	}
	return int64(len(l)), q(0.50), q(0.99)
}

// soUser changes its own slot of the shared object "bench" and waits for
// the server's acknowledgement of each change.
func soUser(ctx context.Context, c *rtmp.Client, i int, every time.Duration, st *opStats, measuring *atomic.Bool) error {
	acked := make(chan struct{}, 1)
	key := "u" + strconv.Itoa(i)
	so := rtmp.NewSharedObject("bench", false)
	so.OnSync = func(items []rtmp.SyncItem) {
		for _, it := range items {
			if it.Name == key && it.Code == "success" {
				select {
				case acked <- struct{}{}:
				default:
				}
			}
		}
	}
	if err := so.Connect(ctx, c); err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case <-t.C:
		}
		start := time.Now()
		if err := so.SetProperty(key, amf.Number(float64(n))); err != nil {
			return err
		}
		select {
		case <-acked:
			if measuring.Load() {
				st.add(time.Since(start))
			}
		case <-time.After(10 * time.Second):
			return errors.New("a change was not acknowledged within 10 s")
		case <-ctx.Done():
			return nil
		}
	}
}

// rpcCaller calls method and waits for each answer.
func rpcCaller(ctx context.Context, c *rtmp.Client, i int, method string, every time.Duration, st *opStats, measuring *atomic.Bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case <-t.C:
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.Call(cctx, method, amf.Number(float64(i*1_000_000+n)))
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		switch _, isAnswer := errors.AsType[*status.Error](err); {
		case isAnswer: // an _error answer: the round trip happened
			if measuring.Load() {
				st.errors.Add(1)
			}
		case err != nil:
			return err
		}
		if measuring.Load() {
			st.add(time.Since(start))
		}
	}
}

// CPUSource returns a server's CPU seconds (user and system) so far.
type CPUSource func() (float64, error)

// MetricsCPU reads process_cpu_seconds_total from a Prometheus endpoint
// (openfcs's /metrics on its admin listener, with its token).
func MetricsCPU(metricsURL, token string) CPUSource {
	client := &http.Client{Timeout: 5 * time.Second}
	return func() (float64, error) {
		req, err := http.NewRequest(http.MethodGet, metricsURL, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s: %s", metricsURL, resp.Status)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
				return strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
		return 0, fmt.Errorf("%s: no process_cpu_seconds_total", metricsURL)
	}
}

// userHZ is the kernel's USER_HZ, the unit of /proc/<pid>/stat times:
// 100 on every Linux architecture Go supports.
const userHZ = 100

// ProcCPU sums the CPU time of processes (a server's master and workers)
// from /proc/<pid>/stat.
func ProcCPU(pids []int) CPUSource {
	return func() (float64, error) {
		var total float64
		for _, pid := range pids {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err != nil {
				return 0, err
			}
			// The command name may hold spaces: fields count from the
			// last ')'.
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 {
				return 0, fmt.Errorf("/proc/%d/stat: unreadable", pid)
			}
			f := strings.Fields(s[i+1:])
			if len(f) < 13 {
				return 0, fmt.Errorf("/proc/%d/stat: short", pid)
			}
			ut, err1 := strconv.ParseFloat(f[11], 64) // utime, field 14
			st, err2 := strconv.ParseFloat(f[12], 64) // stime, field 15
			if err1 != nil || err2 != nil {
				return 0, fmt.Errorf("/proc/%d/stat: unreadable times", pid)
			}
			total += (ut + st) / userHZ
		}
		return total, nil
	}
}
