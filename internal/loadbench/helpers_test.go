package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/tunnel"
)

// Binaries built for the benchmarks, once per test process, into binDir
// (removed by TestMain).
var (
	binMu  sync.Mutex
	binDir string
	bins   = map[string]binResult{}
)

type binResult struct {
	path string
	err  error
}

// goTool finds the go command: $GO, else go on $PATH (make and CI put the
// toolchain that runs these tests there).
func goTool() string {
	if p := os.Getenv("GO"); p != "" {
		return p
	}
	return "go"
}

// binary builds the command cmd/<name> of this module (once per process)
// and returns its path. A failed build fails the benchmark loudly: a load
// tool that does not build must not turn into a skipped measurement.
func binary(tb testing.TB, name string) string {
	tb.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	r, ok := bins[name]
	if !ok {
		if binDir == "" {
			// Not tb.TempDir: the binaries are shared by every benchmark
			// of the process; TestMain removes the directory.
			d, err := os.MkdirTemp("", "loadbench-bin-") //nolint:usetesting // see above

			if err != nil {
				tb.Fatalf("temp dir for binaries: %v", err)
			}
			binDir = d
		}
		r.path = filepath.Join(binDir, name)
		cmd := exec.Command(goTool(), "build", "-o", r.path, "github.com/openfcs/openfcs/cmd/"+name)
		out, err := cmd.CombinedOutput()
		if err != nil {
			r.err = fmt.Errorf("go build cmd/%s: %w\n%s", name, err, out)
		}
		bins[name] = r
	}
	if r.err != nil {
		tb.Fatal(r.err)
	}
	return r.path
}

// lockedBuffer is an io.Writer safe for concurrent use, keeping the last
// 64 KiB written.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 64<<10 {
		l.b = append(l.b[:0], l.b[len(l.b)-32<<10:]...)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// toolProc is a running openfcs-load started with -stdin.
type toolProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte // stdout lines; closed at EOF
	quit   chan struct{}
	stderr *lockedBuffer
	exited chan struct{} // closed once the process has been waited for
	err    error         // Wait's result, after exited
}

// startTool starts the load tool; it is stopped (stdin closed, then
// killed if it lingers) at cleanup.
func startTool(tb testing.TB, bin string, args ...string) *toolProc {
	tb.Helper()
	p := &toolProc{
		cmd:    exec.Command(bin, args...),
		lines:  make(chan []byte, 16),
		quit:   make(chan struct{}),
		stderr: &lockedBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		// Wait only after stdout has been read to EOF (os/exec rule).
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := bytes.Clone(sc.Bytes())
			select {
			case p.lines <- line:
			case <-p.quit:
			}
		}
		close(p.lines)
		p.err = p.cmd.Wait()
	}()
	tb.Cleanup(func() {
		_ = p.stdin.Close()
		close(p.quit)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if tb.Failed() {
			tb.Logf("%s stderr:\n%s", filepath.Base(bin), p.stderr.String())
		}
	})
	return p
}

// next returns the next stdout line whose "event" is event, skipping
// others; it fails if the tool exits or the timeout passes first.
func (p *toolProc) next(tb testing.TB, event string, timeout time.Duration, v any) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.exited
				tb.Fatalf("load tool exited (%v) before printing %q; stderr:\n%s", p.err, event, p.stderr.String())
			}
			var e struct {
				Event string `json:"event"`
			}
			if err := json.Unmarshal(line, &e); err != nil {
				tb.Fatalf("load tool printed %q: %v", line, err)
			}
			if e.Event != event {
				continue
			}
			if err := json.Unmarshal(line, v); err != nil {
				tb.Fatalf("load tool printed %q: %v", line, err)
			}
			return
		case <-deadline.C:
			tb.Fatalf("no %q line from the load tool within %v; stderr:\n%s", event, timeout, p.stderr.String())
		}
	}
}

// snapshot asks the tool for its counters.
func (p *toolProc) snapshot(tb testing.TB) Snapshot {
	tb.Helper()
	if _, err := io.WriteString(p.stdin, "\n"); err != nil {
		tb.Fatalf("load tool stdin: %v", err)
	}
	var s Snapshot
	p.next(tb, "snapshot", 10*time.Second, &s)
	return s
}

// finish ends the tool's run (EOF on stdin) and returns its summary.
func (p *toolProc) finish(tb testing.TB) Summary {
	tb.Helper()
	_ = p.stdin.Close()
	var s Summary
	p.next(tb, "summary", 30*time.Second, &s)
	return s
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(tb testing.TB) (user, sys time.Duration) {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// childCPU returns the user+system CPU time of process pid from
// /proc/PID/stat (fields 14 and 15).
func childCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("child cpu: %v", err)
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain. utime is field 14, i.e. index 11 after the ") ".
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		tb.Fatalf("child cpu: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		tb.Fatalf("child cpu: %v", err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks
}

// procField returns a numeric field of a /proc key: value file
// ("syscw" of /proc/self/io, "VmRSS" of /proc/PID/status, in its unit).
func procField(tb testing.TB, path, key string) uint64 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			tb.Fatalf("%s %s: %v", path, key, err)
		}
		return n
	}
	tb.Fatalf("%s: no %s", path, key)
	return 0
}

// startServer runs an in-process openfcs RTMP server on a loopback port
// with an applications folder holding "live"; it returns the address and
// a stop function (also registered as cleanup, idempotent).
func startServer(tb testing.TB) (addr string, stop func()) {
	tb.Helper()
	addr, _, stop = startServerWith(tb, rtmp.Config{})
	return addr, stop
}

// startServerWith is startServer that also returns the server, for its
// counters.
func startServerWith(tb testing.TB, cfg rtmp.Config) (addr string, srv *rtmp.Server, stop func()) {
	tb.Helper()
	return startServerFull(tb, cfg, instance.Config{})
}

// startServerConfig is startServerWith with the engine's configuration
// (its AppsDir is set here).
func startServerConfig(tb testing.TB, cfg instance.Config) (addr string, srv *rtmp.Server, stop func()) {
	tb.Helper()
	return startServerFull(tb, rtmp.Config{}, cfg)
}

// startServerFull is startServer with the server's and the engine's
// configurations.
func startServerFull(tb testing.TB, rcfg rtmp.Config, cfg instance.Config) (addr string, srv *rtmp.Server, stop func()) {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	cfg.AppsDir = testutil.Apps(tb, "live")
	eng := instance.NewManager(cfg, log)
	tb.Cleanup(eng.Close)
	srv = &rtmp.Server{Config: rcfg, Logger: log, Engine: eng}
	addr, stopServer := testutil.Serve(tb, srv, rtmp.ErrServerClosed)
	return addr, srv, func() {
		stopServer()
		eng.Close()
	}
}

// startBridgeServer runs an in-process server as cmd/openfcs wires one
// port of each kind: RTMP on one loopback port, and a fiber HTTP port
// (with the binary's HTTP server settings) serving RTMPT (package tunnel)
// and RTMP over WebSocket (package bridge) into the same RTMP server.
// It returns both addresses; everything stops at cleanup.
func startBridgeServer(tb testing.TB, rcfg rtmp.Config) (rtmpAddr, httpAddr string, srv *rtmp.Server) {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	eng := instance.NewManager(instance.Config{AppsDir: testutil.Apps(tb, "live")}, log)
	tb.Cleanup(eng.Close)
	srv = &rtmp.Server{Config: rcfg, Logger: log, Engine: eng}
	rtmpAddr, stop := testutil.Serve(tb, srv, rtmp.ErrServerClosed)
	br := &bridge.Server{Logger: log, Sessions: srv}
	tcfg := tunnel.Config{ExemptLoopback: true}
	tun := &tunnel.Server{Config: tcfg, Logger: log, Sessions: srv}
	app := fiber.New(tcfg.FiberConfig())
	app.Server().KeepHijackedConns = true // as cmd/openfcs
	app.Use(tun.Handler())
	app.Use(br.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := br.Close(ctx); err != nil {
			tb.Errorf("bridge close: %v", err)
		}
		if err := tun.Close(ctx); err != nil {
			tb.Errorf("tunnel close: %v", err)
		}
		stop()
		if err := app.ShutdownWithContext(ctx); err != nil {
			tb.Errorf("fiber shutdown: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("fiber: %v", err)
		}
	})
	return rtmpAddr, ln.Addr().String(), srv
}

func envInt(tb testing.TB, key string, def int) int {
	tb.Helper()
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", key, s)
	}
	return n
}

func envDuration(tb testing.TB, key string, def time.Duration) time.Duration {
	tb.Helper()
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		tb.Fatalf("%s=%q: want a duration", key, s)
	}
	return d
}

// once reports whether the benchmarks run with -benchtime=1x: make test
// runs every benchmark once that way, to keep them from rotting, and that
// run must stay quick.
func once() bool {
	f := flag.Lookup("test.benchtime")
	return f != nil && f.Value.String() == "1x"
}

// benchWindow is the measured window per benchmark iteration:
// LOADBENCH_WINDOW, else 1s under -benchtime=1x, else 5s.
func benchWindow(tb testing.TB) time.Duration {
	tb.Helper()
	def := 5 * time.Second
	if once() {
		def = time.Second
	}
	return envDuration(tb, envWindow, def)
}

// benchWarmup is the default wait between the players joining and the
// window: 1s, 300ms under -benchtime=1x.
func benchWarmup() time.Duration {
	if once() {
		return 300 * time.Millisecond
	}
	return time.Second
}
