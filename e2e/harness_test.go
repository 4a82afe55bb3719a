//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// openfcsBin is the server binary under test, built once by TestMain.
var openfcsBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var missing []string
	for _, tool := range []string{"ffmpeg", "ffprobe", "rtmpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: missing %s: run scripts/deps.sh (make test does)\n", strings.Join(missing, ", "))
		return 1
	}
	// Servers get the admin token from startServer only: one inherited
	// from the shell would start admin listeners on the default port.
	_ = os.Unsetenv("OPENFCS_ADMIN_TOKEN")

	if bin := os.Getenv("OPENFCS_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: OPENFCS_BIN: %v\n", err)
			return 1
		}
		openfcsBin = abs
	} else {
		dir, err := os.MkdirTemp("", "openfcs-e2e-bin-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		openfcsBin = filepath.Join(dir, "openfcs")
		start := time.Now()
		// -race: the server runs under the race detector for the whole suite;
		// a report fails the test that was running (see server.stop).
		cmd := exec.Command("go", "build", "-race", "-o", openfcsBin, "github.com/openfcs/openfcs/cmd/openfcs")
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building cmd/openfcs failed: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s with -race in %v\n", openfcsBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// ---------------------------------------------------------------------------
// Processes

// syncBuffer is an io.Writer safe for a process's output goroutines and a
// test reading it at the same time.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a child process that dies with its test: it runs in its own
// process group and the whole group is killed at cleanup.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // set before done is closed
}

type procOpts struct {
	// StdoutLine, when set, receives each stdout line (in the reader
	// goroutine) instead of the stdout buffer.
	StdoutLine func(line string)
	// StderrLine, when set, receives each stderr line in addition to the
	// stderr buffer.
	StderrLine func(line string)
	// Dir is the working directory.
	Dir string
	// Stdin, when set, is the process's standard input.
	Stdin io.Reader
	// Quiet: do not log stderr when the test fails (the caller prints it).
	Quiet bool
	// Env is added to the environment the process inherits.
	Env []string
}

// startProc starts name with args. The process group gets SIGKILL at
// cleanup if it is still running; its output is logged if the test failed.
func startProc(t testing.TB, opts procOpts, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = opts.Dir
	cmd.Stdin = opts.Stdin
	if opts.Env != nil {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Negative pid: the whole group, so children die too.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	p := &proc{name: filepath.Base(name), cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}

	var pipes sync.WaitGroup
	if opts.StdoutLine != nil {
		r, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pipes.Go(func() { scanLines(r, nil, opts.StdoutLine) })
	} else {
		cmd.Stdout = p.stdout
	}
	if opts.StderrLine != nil {
		r, err := cmd.StderrPipe()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pipes.Go(func() { scanLines(r, p.stderr, opts.StderrLine) })
	} else {
		cmd.Stderr = p.stderr
	}

	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		// Pipes must be drained before Wait (os/exec rule).
		pipes.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		if t.Failed() && !opts.Quiet {
			t.Logf("%s %s\n--- stderr ---\n%s", name, strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

func scanLines(r io.Reader, copyTo io.Writer, fn func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if copyTo != nil {
			fmt.Fprintln(copyTo, line)
		}
		fn(line)
	}
	// Keep draining after an over-long line so the child never blocks.
	_, _ = io.Copy(io.Discard, r)
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end and returns its error.
func (p *proc) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v\nstderr:\n%s", p.name, timeout, p.stderr.String())
		return nil
	}
}

// signal sends sig to the process itself (not its group).
func (p *proc) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// interrupt asks the process to finish (ffmpeg and rtmpdump close their
// output files properly on SIGINT) and waits for it. ffmpeg aborts a
// blocking network read only on the second SIGINT (the first one just ends
// its main loop at the next packet), so a second one follows after 2 s.
func (p *proc) interrupt(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.signal(syscall.SIGINT)
	select {
	case <-p.done:
		return
	case <-time.After(2 * time.Second):
	}
	p.signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Errorf("%s ignored SIGINT for %v; killing it", p.name, timeout)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// waitFor polls cond until it is true or timeout passes, then fails the
// test with what.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// poll reports whether cond became true within timeout.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a timing assumption
	}
}

// ---------------------------------------------------------------------------
// The server under test

// serverOpts configures startServer.
type serverOpts struct {
	// Config is YAML written to a temp file and passed with --config.
	Config string
	// Apps are the application folders to create; default {"live"}.
	Apps []string
	// AppsDir, when set, is used as the applications folder instead of a
	// temp one (Apps are still created in it), e.g. to restart a server
	// over the files a previous one wrote.
	AppsDir string
	// FDLimit, when positive, runs the server under `ulimit -n FDLimit`
	// (soft and hard), so that it runs out of file descriptors early.
	FDLimit int
	// Bin, when set, is the server binary instead of the suite's -race one.
	Bin string
	// LogLevel is the server's --log-level; default debug.
	LogLevel string
	// Host is the address the server's ports listen on; default
	// 127.0.0.1.
	Host string
	// NetNS, when set, runs the server in that network namespace
	// (ip netns exec).
	NetNS string
	// HTTP, when set, is the HTTP port's address instead of one the
	// system picks (a server that takes over another's port).
	HTTP string
}

// server is a running openfcs process.
type server struct {
	t        testing.TB
	proc     *proc
	rtmpAddr string
	httpAddr string
	// adminAddr is the admin listener (token adminToken); "" for servers
	// started without one.
	adminAddr string

	// sigkilled: the test killed the process on purpose (SIGKILL), so
	// its exit status is not checked.
	sigkilled atomic.Bool

	mu    sync.Mutex
	lines []string          // every stderr line, raw
	logs  []map[string]any  // lines that parsed as JSON
	addrs map[string]string // proto -> addr of every `listening` line
	ready chan struct{}     // closed at the `started` line
}

// startServer runs openfcs on 127.0.0.1:0 with a temp applications folder,
// waits for its `started` line (logged after every `listening` line, so
// rtmpAddr and httpAddr are set and never change after) and
// stops it with SIGTERM at cleanup (which
// must exit 0 and leave no data race report). The whole log is printed when
// the test fails.
func startServer(t testing.TB, opts serverOpts) *server {
	t.Helper()
	s := launchServer(t, opts)
	s.awaitStarted(t, 30*time.Second)
	return s
}

// launchServer starts openfcs like startServer without waiting for its
// `started` line: servers that wait for each other at start (a cluster
// electing its leader) are launched together, then awaited.
func launchServer(t testing.TB, opts serverOpts) *server {
	t.Helper()
	dir := t.TempDir()
	appsDir := opts.AppsDir
	if appsDir == "" {
		appsDir = filepath.Join(dir, "applications")
	}
	apps := opts.Apps
	if apps == nil {
		apps = []string{"live"}
	}
	for _, app := range apps {
		if err := os.MkdirAll(filepath.Join(appsDir, app), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	host := cmp.Or(opts.Host, "127.0.0.1")
	args := []string{"serve",
		"--rtmp", net.JoinHostPort(host, "0"),
		"--http", cmp.Or(opts.HTTP, net.JoinHostPort(host, "0")),
		"--admin", net.JoinHostPort(host, "0"),
		"--apps", appsDir,
		"--log-format", "json",
		"--log-level", cmp.Or(opts.LogLevel, "debug"),
	}
	if opts.Config != "" {
		cfg := filepath.Join(dir, "openfcs.yaml")
		if err := os.WriteFile(cfg, []byte(opts.Config), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", cfg)
	}

	s := &server{t: t, ready: make(chan struct{}), addrs: map[string]string{}}
	// Registered before startProc's cleanup so that it runs after it: by
	// then the process has exited and the log is complete.
	t.Cleanup(func() {
		if t.Failed() {
			s.mu.Lock()
			t.Logf("openfcs log (%d lines):\n%s", len(s.lines), strings.Join(s.lines, "\n"))
			s.mu.Unlock()
		}
	})
	name := openfcsBin
	if opts.Bin != "" {
		name = opts.Bin
	}
	if opts.NetNS != "" {
		// ip execs the server in place: the pid, and its signals, stay.
		args = append([]string{"netns", "exec", opts.NetNS, name}, args...)
		name = "ip"
	}
	if opts.FDLimit > 0 {
		// exec keeps the pid: signals and /proc/<pid> reach openfcs.
		args = append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, opts.FDLimit), name}, args...)
		name = "sh"
	}
	s.proc = startProc(t, procOpts{StderrLine: s.addLine, StdoutLine: s.addLine, Quiet: true,
		Env: []string{"OPENFCS_ADMIN_TOKEN=" + adminToken}}, name, args...)
	t.Cleanup(s.stop)
	return s
}

// awaitStarted waits up to d for the `started` line.
func (s *server) awaitStarted(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-s.ready:
	case <-s.proc.done:
		t.Fatalf("openfcs exited before listening: %v", s.proc.err)
	case <-time.After(d):
		t.Fatalf("openfcs did not log `started` within %v", d)
	}
	if s.rtmpAddr == "" {
		t.Fatal("openfcs started without logging a `listening` line for rtmp")
	}
}

func (s *server) addLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return
	}
	s.logs = append(s.logs, m)
	switch m["msg"] {
	case "listening":
		proto, _ := m["proto"].(string)
		addr, _ := m["addr"].(string)
		if s.addrs == nil { // servers built by hand (so_test.go)
			s.addrs = map[string]string{}
		}
		if _, dup := s.addrs[proto]; !dup {
			s.addrs[proto] = addr
		}
	case "started":
		select {
		case <-s.ready:
		default:
			// Set once, before ready is closed: tests read these fields
			// without the lock.
			s.rtmpAddr, s.httpAddr, s.adminAddr = s.addrs["rtmp"], s.addrs["http"], s.addrs["admin"]
			close(s.ready)
		}
	}
}

// stop sends SIGTERM and expects a graceful exit with status 0 within 20s.
func (s *server) stop() {
	t := s.t
	if !s.proc.exited() {
		s.proc.signal(syscall.SIGTERM)
		select {
		case <-s.proc.done:
		case <-time.After(20 * time.Second):
			t.Errorf("openfcs did not exit within 20s of SIGTERM; killing it")
			_ = syscall.Kill(-s.proc.cmd.Process.Pid, syscall.SIGKILL)
			<-s.proc.done
		}
	}
	if err := s.proc.err; err != nil && !s.sigkilled.Load() {
		t.Errorf("openfcs exit: %v (want status 0 after SIGTERM)", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logs {
		// A recovered panic closes only its connection (docs/architecture.md#connection-lifecycle), but
		// it is a bug all the same.
		if l["reason"] == "panic" {
			t.Errorf("openfcs recovered a panic: %v", l)
		}
	}
	for _, l := range s.lines {
		if strings.Contains(l, "WARNING: DATA RACE") {
			t.Errorf("openfcs reported a data race")
			break
		}
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
			t.Errorf("openfcs crashed: %s", l)
			break
		}
	}
}

// RTMPURL is rtmp://127.0.0.1:port/app/stream.
func (s *server) RTMPURL(app, stream string) string {
	return "rtmp://" + s.rtmpAddr + "/" + app + "/" + stream
}

// Logs returns a copy of the JSON log lines so far.
func (s *server) Logs() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logs)
}

// findLogs returns the log lines for which match is true.
func (s *server) findLogs(match func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, l := range s.Logs() {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// closedLine returns the `closed` line for the connection whose remote
// address (as the server saw it) is remote, or nil.
func (s *server) closedLine(remote string) map[string]any {
	for _, l := range s.Logs() {
		if l["msg"] == "closed" && l["remote"] == remote {
			return l
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// ffmpeg, rtmpdump and ffprobe

// requireEncoders fails the test when the installed ffmpeg lacks an encoder.
func requireEncoders(t testing.TB, names ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
	if err != nil {
		t.Fatalf("ffmpeg -encoders: %v", err)
	}
	have := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 2 && len(f[0]) == 6 {
			have[f[1]] = true
		}
	}
	for _, n := range names {
		if !have[n] {
			t.Fatalf("the installed ffmpeg has no %q encoder; install Debian's ffmpeg (scripts/deps.sh), which has it", n)
		}
	}
}

// videoCodec and audioCodec are ffmpeg encoder arguments for a publisher.
type codecArgs struct {
	Video []string
	Audio []string
	// Source filters; defaults are testsrc 320x240@25 and a 440 Hz sine.
	VideoSrc string
	AudioSrc string
}

var (
	// x264 with two B-frames: composition time offsets on the wire.
	h264BFrames = []string{"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50", "-pix_fmt", "yuv420p", "-b:v", "300k"}
	// x264 with fixed 4 s GOPs and no B-frames: every packet is one frame.
	h264NoB = []string{"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "100", "-keyint_min", "100",
		"-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "300k"}
	// 3 Mbit/s constant bitrate (x264 pads with filler): a reader that stops
	// reading fills the kernel's socket buffers (up to 4 MiB on loopback) in
	// seconds rather than minutes.
	h264CBR3M = []string{"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "100", "-pix_fmt", "yuv420p",
		"-b:v", "3M", "-minrate", "3M", "-maxrate", "3M", "-bufsize", "1M", "-x264-params", "nal-hrd=cbr"}
	// x264 baseline (no B-frames: WebRTC carries it as it is) with 2 s GOPs.
	h264Baseline = []string{"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "50", "-pix_fmt", "yuv420p", "-b:v", "500k"}
	sorenson   = []string{"-c:v", "flv", "-q:v", "6", "-g", "50"}
	aacAudio   = []string{"-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-ac", "1"}
	nellyAudio = []string{"-c:a", "nellymoser", "-ar", "22050", "-ac", "1"}
	speexAudio = []string{"-c:a", "libspeex", "-ar", "16000", "-ac", "1"}
)

// flashCodecStreams are the streams the Flash codec tests publish with
// ffmpeg, the Flash Player 6 to 10 codecs: Sorenson H.263 with each audio
// codec; from is the audio codec's name on the converter's log line.
var flashCodecStreams = []struct {
	stream string
	audio  []string
	from   string
}{
	{"nelly", nellyAudio, "nellymoser"},
	{"speex", speexAudio, "speex"},
}

const (
	fps = 25
)

// publisher is an ffmpeg process publishing lavfi test sources in real time
// (-re) to an RTMP URL, keeping a local copy of exactly what it sent.
type publisher struct {
	*proc
	copyPath string // FLV file holding what was published

	mu       sync.Mutex
	progress []progressPoint
}

// progressPoint is one -progress block of the publisher, stamped with the
// wall time we read it.
type progressPoint struct {
	at    time.Time
	frame int
}

// startPublisher publishes for duration (0: until interrupted).
func startPublisher(t testing.TB, url string, codecs codecArgs, duration time.Duration) *publisher {
	t.Helper()
	vsrc := codecs.VideoSrc
	if vsrc == "" {
		vsrc = fmt.Sprintf("testsrc=size=320x240:rate=%d", fps)
	}
	asrc := codecs.AudioSrc
	if asrc == "" {
		asrc = "sine=frequency=440:sample_rate=44100"
	}
	p := &publisher{copyPath: filepath.Join(t.TempDir(), "published.flv")}
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", vsrc,
		"-re", "-f", "lavfi", "-i", asrc,
	}
	if duration > 0 {
		args = append(args, "-t", fmt.Sprintf("%.3f", duration.Seconds()))
	}
	args = append(args, "-map", "0:v", "-map", "1:a")
	args = append(args, codecs.Video...)
	args = append(args, codecs.Audio...)
	args = append(args,
		// The tee muxer does not ask encoders for global headers as the flv
		// muxer does, so x264 would send an empty AVC sequence header and
		// in-band start codes: ffmpeg and rtmpdump cope, browsers and Flash
		// do not. Publish what a real encoder sends.
		"-flags", "+global_header",
		"-progress", "pipe:1",
		// tee: one encode, sent to the server and kept as the reference of
		// what was published.
		"-f", "tee", "[f=flv:flvflags=no_duration_filesize]"+url+"|[f=flv]"+p.copyPath,
	)
	p.proc = startProc(t, procOpts{StdoutLine: p.onProgress}, "ffmpeg", args...)
	return p
}

func (p *publisher) onProgress(line string) {
	v, ok := strings.CutPrefix(line, "frame=")
	if !ok {
		return
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err != nil {
		return
	}
	p.mu.Lock()
	p.progress = append(p.progress, progressPoint{at: time.Now(), frame: n})
	p.mu.Unlock()
}

// frames is the last frame count the publisher reported.
func (p *publisher) frames() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.progress) == 0 {
		return 0
	}
	return p.progress[len(p.progress)-1].frame
}

// rate is the publisher's frame rate (frames per wall-clock second) between
// the progress reports nearest to from and to.
func (p *publisher) rate(from, to time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	nearest := func(at time.Time) progressPoint {
		best := p.progress[0]
		for _, pt := range p.progress {
			if pt.at.Sub(at).Abs() < best.at.Sub(at).Abs() {
				best = pt
			}
		}
		return best
	}
	a, b := nearest(from), nearest(to)
	if !b.at.After(a.at) {
		return 0
	}
	return float64(b.frame-a.frame) / b.at.Sub(a.at).Seconds()
}

// finish waits for a timed publisher to end (or interrupts an endless one)
// and checks that it exited cleanly.
func (p *publisher) finish(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := p.wait(t, timeout); err != nil {
		t.Fatalf("publisher ffmpeg failed: %v\n%s", err, p.stderr.String())
	}
}

// stop interrupts an endless publisher; ffmpeg exits 255 on SIGINT, which is
// fine as long as it wrote no error.
func (p *publisher) stop(t testing.TB) {
	t.Helper()
	p.interrupt(t, 15*time.Second)
	if strings.Contains(strings.ToLower(p.stderr.String()), "error") {
		t.Errorf("publisher ffmpeg reported errors:\n%s", p.stderr.String())
	}
}

// player is an RTMP player process writing what it receives to an FLV file.
type player struct {
	*proc
	out string
}

// startFFmpegPlayer plays url with ffmpeg, copying the streams to an FLV
// file untouched (-copyinkf keeps leading non-key frames, so the file shows
// exactly what the server sent).
func startFFmpegPlayer(t testing.TB, url string) *player {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ffmpeg-player.flv")
	p := startProc(t, procOpts{}, "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-i", url, "-map", "0", "-c", "copy", "-copyinkf",
		// Flush every packet: a player stopped by a signal keeps all it got.
		"-flush_packets", "1", "-f", "flv", out)
	return &player{proc: p, out: out}
}

// startRtmpdumpPlayer plays url live with rtmpdump -v.
func startRtmpdumpPlayer(t testing.TB, url string) *player {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rtmpdump-player.flv")
	p := startProc(t, procOpts{}, "rtmpdump", "-q", "-v", "-r", url, "-o", out)
	return &player{proc: p, out: out}
}

// size is the current size of the player's output file.
func (p *player) size() int64 {
	fi, err := os.Stat(p.out)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// end waits for the player to stop by itself (the server ends the stream
// when the publisher leaves), interrupting it after timeout.
func (p *player) end(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.interrupt(t, 10*time.Second)
	}
}

// streamInfo is one stream of a media file as ffprobe decodes it.
type streamInfo struct {
	Index     int    `json:"index"`
	CodecType string `json:"codec_type"`
	CodecName string `json:"codec_name"`
	// Frames is how many frames ffprobe decoded (-count_frames).
	Frames int `json:"nb_read_frames,string"`
}

// packetInfo is one packet of a media file.
type packetInfo struct {
	Stream    int    `json:"stream_index"`
	CodecType string `json:"codec_type"`
	PTS       *int64 `json:"pts"`
	DTS       *int64 `json:"dts"`
	DTSTime   string `json:"dts_time"`
	Flags     string `json:"flags"`
	Size      int    `json:"size,string"`
}

// mediaInfo is what ffprobe and a decode pass found in a file.
type mediaInfo struct {
	path    string
	streams []streamInfo
	packets []packetInfo
	// decodeErrors is what `ffmpeg -v error` printed decoding the whole file.
	decodeErrors string
}

func (mi *mediaInfo) stream(kind string) *streamInfo {
	for i := range mi.streams {
		if mi.streams[i].CodecType == kind {
			return &mi.streams[i]
		}
	}
	return nil
}

// frames is the decoded frame count of the first stream of kind (0 if none).
func (mi *mediaInfo) frames(kind string) int {
	if s := mi.stream(kind); s != nil {
		return s.Frames
	}
	return 0
}

// packetsOf returns the packets of the first stream of kind.
func (mi *mediaInfo) packetsOf(kind string) []packetInfo {
	s := mi.stream(kind)
	if s == nil {
		return nil
	}
	var out []packetInfo
	for _, p := range mi.packets {
		if p.Stream == s.Index {
			out = append(out, p)
		}
	}
	return out
}

// probe runs ffprobe (streams with decoded frame counts, packets) and a full
// decode with ffmpeg on path.
func probe(t testing.TB, path string) *mediaInfo {
	t.Helper()
	return probeFile(t, path, true)
}

// probePackets is probe without frame counting: ffprobe 5.1 with
// -count_frames crashes on an onMetaData in the middle of a stream (a
// script playlist's recording), which plain decoding handles.
func probePackets(t testing.TB, path string) *mediaInfo {
	t.Helper()
	return probeFile(t, path, false)
}

func probeFile(t testing.TB, path string, countFrames bool) *mediaInfo {
	t.Helper()
	mi := &mediaInfo{path: path}
	var out struct {
		Streams []streamInfo `json:"streams"`
		Packets []packetInfo `json:"packets"`
	}
	args := []string{"-v", "error", "-show_entries",
		"stream=index,codec_type,codec_name:packet=stream_index,codec_type,pts,dts,dts_time,flags,size",
		"-of", "json", path}
	if countFrames {
		args = []string{"-v", "error", "-count_frames", "-show_entries",
			"stream=index,codec_type,codec_name,nb_read_frames:packet=stream_index,codec_type,pts,dts,dts_time,flags,size",
			"-of", "json", path}
	}
	raw, err := exec.Command("ffprobe", args...).Output()
	if err != nil {
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			t.Fatalf("ffprobe %s: %v\n%s", path, err, ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	mi.streams, mi.packets = out.Streams, out.Packets

	var stderr bytes.Buffer
	dec := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-")
	dec.Stderr = &stderr
	if err := dec.Run(); err != nil {
		t.Errorf("decoding %s: %v\n%s", path, err, stderr.String())
	}
	mi.decodeErrors = stderr.String()
	return mi
}

// bFrames counts the B pictures ffprobe decodes in the video stream.
func bFrames(t testing.TB, path string) int {
	t.Helper()
	raw, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "frame=pict_type", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe frames %s: %v", path, err)
	}
	return strings.Count(string(raw), "B")
}

// checkMonotonic fails the test when a stream's DTS ever goes backwards.
func checkMonotonic(t testing.TB, mi *mediaInfo, kind string) {
	t.Helper()
	var last int64
	seen := false
	for i, p := range mi.packetsOf(kind) {
		if p.DTS == nil {
			t.Errorf("%s: %s packet %d has no dts", filepath.Base(mi.path), kind, i)
			return
		}
		if seen && *p.DTS < last {
			t.Errorf("%s: %s dts goes backwards at packet %d: %d after %d", filepath.Base(mi.path), kind, i, *p.DTS, last)
			return
		}
		last, seen = *p.DTS, true
	}
}

// checkReceived compares what a player received with what was published:
// codec names, ≥ 90% of the published frames decoded for each kind, no
// decoder errors, monotonic DTS.
func checkReceived(t testing.TB, who string, got, published *mediaInfo, vcodec, acodec string) {
	t.Helper()
	if got.decodeErrors != "" {
		t.Errorf("%s: decoder errors:\n%s", who, got.decodeErrors)
	}
	for _, k := range []struct{ kind, codec string }{{"video", vcodec}, {"audio", acodec}} {
		s := got.stream(k.kind)
		if s == nil {
			t.Errorf("%s: no %s stream in %s", who, k.kind, got.path)
			continue
		}
		if s.CodecName != k.codec {
			t.Errorf("%s: %s codec %q, want %q", who, k.kind, s.CodecName, k.codec)
		}
		want := published.frames(k.kind)
		if want == 0 {
			t.Fatalf("published copy has no decodable %s frames", k.kind)
		}
		t.Logf("%s: %s %s: decoded %d of %d published frames (%.1f%%)", who, k.kind, s.CodecName, s.Frames, want,
			100*float64(s.Frames)/float64(want))
		if float64(s.Frames) < 0.9*float64(want) {
			t.Errorf("%s: decoded %d %s frames, want >= 90%% of %d", who, s.Frames, k.kind, want)
		}
		checkMonotonic(t, got, k.kind)
	}
}

// parseSeconds parses ffprobe's "12.345000" times.
func parseSeconds(s string) (float64, error) {
	return strconv.ParseFloat(s, 64)
}
