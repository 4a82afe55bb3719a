package ssas

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
)

// regexp2's clock goroutine runs while a match timeout is pending and then
// ends by itself (ssas sets the timeout, host.go).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/dlclark/regexp2/v2.runClock"))
}

// env is an engine with one application "app" whose files the test
// writes, and a Host that records traces.
type env struct {
	t    testing.TB
	dir  string
	m    *instance.Manager
	host *Host
	ld   *captureLoader

	mu  sync.Mutex
	log []string // traces and driver events, in order

	// captureLog adds the server's log records at info and above (but
	// those in uncaptured) to log, as "! LEVEL msg key=value ...".
	captureLog atomic.Bool
}

// captureLoader remembers the runtimes it loads, for barriers.
type captureLoader struct {
	h  *Host
	mu sync.Mutex
	rt []*Runtime
}

func (l *captureLoader) Load(in *instance.Instance) (instance.Script, error) {
	s, err := l.h.Load(in)
	if rt, ok := s.(*Runtime); ok {
		l.mu.Lock()
		l.rt = append(l.rt, rt)
		l.mu.Unlock()
	}
	return s, err
}

func (l *captureLoader) last() *Runtime {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.rt) == 0 {
		return nil
	}
	return l.rt[len(l.rt)-1]
}

func newEnv(t testing.TB, cfg Config, files map[string]string) *env {
	t.Helper()
	return newEnvEngine(t, cfg, instance.Config{IdleUnload: time.Minute, PendingTimeout: 5 * time.Second}, files)
}

// newEnvEngine is newEnv with the engine's configuration (AppsDir is set
// here).
func newEnvEngine(t testing.TB, cfg Config, icfg instance.Config, files map[string]string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	for name, src := range files {
		e.write(name, src)
	}
	if len(files) == 0 {
		if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := slog.DiscardHandler
	if testing.Verbose() {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	log := slog.New(&captureHandler{next: h, e: e})
	e.host = &Host{Config: cfg, Logger: log, Version: "test", OnTrace: func(_, _, msg string) { e.add(msg) }}
	e.ld = &captureLoader{h: e.host}
	icfg.AppsDir = dir
	e.m = instance.NewManager(icfg, log)
	e.m.SetScriptLoader(e.ld)
	t.Cleanup(e.m.Close)
	return e
}

// captureHandler copies records to env.log while env.captureLog is set.
// Attributes added with With (app, instance) are left out: they are the
// same on every line.
type captureHandler struct {
	next slog.Handler
	e    *env
}

var uncaptured = map[string]bool{"trace": true, "instance loaded": true, "instance unloaded": true}

func (h *captureHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *captureHandler) Handle(ctx context.Context, rec slog.Record) error {
	// Traces are in the log already; an instance's load and unload are
	// logged by the engine while the script runs on its own goroutine, so
	// their lines have no fixed place.
	if h.e.captureLog.Load() && rec.Level >= slog.LevelInfo && !uncaptured[rec.Message] {
		var sb strings.Builder
		fmt.Fprintf(&sb, "! %s %s", rec.Level, rec.Message)
		rec.Attrs(func(a slog.Attr) bool {
			v := a.Value.Resolve().String()
			if strings.ContainsAny(v, " \t\n\"=") || v == "" {
				v = strconv.Quote(v)
			}
			fmt.Fprintf(&sb, " %s=%s", a.Key, v)
			return true
		})
		h.e.add(sb.String())
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{next: h.next.WithAttrs(as), e: h.e}
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	return &captureHandler{next: h.next.WithGroup(name), e: h.e}
}

func (e *env) write(name, src string) {
	e.t.Helper()
	p := filepath.Join(e.dir, "app", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) add(line string) {
	e.mu.Lock()
	e.log = append(e.log, line)
	e.mu.Unlock()
}

func (e *env) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// waitLine waits for a log line starting with want.
func (e *env) waitLine(want string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range e.lines() {
			if strings.HasPrefix(l, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no line %q within 5s; got:\n%s", want, strings.Join(e.lines(), "\n"))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// barrier waits until the runtime has run everything queued so far.
func (e *env) barrier() {
	e.t.Helper()
	rt := e.ld.last()
	if rt == nil {
		return
	}
	done := make(chan struct{})
	if !rt.post(func() { close(done) }) {
		return
	}
	select {
	case <-done:
	case <-rt.Done():
	case <-time.After(10 * time.Second):
		e.t.Fatal("runtime loop did not drain within 10s")
	}
}

// peer is a fake transport side of a client.
type peer struct {
	e      *env
	name   string
	mu     sync.Mutex
	state  string // "", "accepted", "rejected", "closed"
	info   amf.Value
	closed chan struct{}
	once   sync.Once
	// answer, when set, answers server-to-client calls.
	answer func(method string, args []amf.Value) (amf.Value, bool)
}

func (p *peer) Accept(c *instance.Client) {
	p.mu.Lock()
	p.state = "accepted"
	p.mu.Unlock()
	p.e.add(fmt.Sprintf("> %s accepted", p.name))
}

func (p *peer) Reject(_ *instance.Client, info amf.Value) {
	p.mu.Lock()
	p.state, p.info = "rejected", info
	p.mu.Unlock()
	p.e.add(fmt.Sprintf("> %s rejected %s", p.name, fmtAMF(info)))
}

func (p *peer) Call(method string, args []amf.Value, result instance.Result) bool {
	p.e.add(fmt.Sprintf("> %s called %s%s", p.name, method, fmtArgs(args)))
	if result != nil {
		if p.answer != nil {
			v, ok := p.answer(method, args)
			go result(v, ok)
		}
	}
	return true
}

func (p *peer) Close(info amf.Value) {
	p.once.Do(func() {
		p.e.add(fmt.Sprintf("> %s closed %s", p.name, fmtAMF(info)))
		close(p.closed)
	})
}

func (p *peer) Ping() bool                { return true }
func (p *peer) Stats() instance.PeerStats { return instance.PeerStats{BytesIn: 10, BytesOut: 20} }

func (p *peer) State() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// client is a connected fake client.
type client struct {
	p  *peer
	in *instance.Instance
	c  *instance.Client
}

// connect connects a fake client named name to app/inst.
func (e *env) connect(name, inst string, args ...amf.Value) (*client, error) {
	p := &peer{e: e, name: name, closed: make(chan struct{})}
	in, c, err := e.m.Connect("app", inst, instance.ClientInfo{IP: "127.0.0.1", Agent: "WIN 9,0,124,0", Protocol: "rtmp", Args: args, Peer: p})
	if err != nil {
		return nil, err
	}
	cl := &client{p: p, in: in, c: c}
	e.t.Cleanup(func() { in.Disconnect(c) })
	return cl, nil
}

// call makes a client-to-server call and waits for its answer.
func (cl *client) call(method string, args ...amf.Value) (amf.Value, bool) {
	type res struct {
		v  amf.Value
		ok bool
	}
	ch := make(chan res, 1)
	cl.in.Call(cl.c, method, args, func(v amf.Value, ok bool) { ch <- res{v, ok} })
	select {
	case r := <-ch:
		return r.v, r.ok
	case <-time.After(10 * time.Second):
		return amf.String("timeout"), false
	}
}

// callLogged makes a call, runs logf with its answer where the answer is
// produced, and waits for it.
func (cl *client) callLogged(method string, args []amf.Value, logf func(amf.Value, bool)) {
	done := make(chan struct{})
	cl.in.Call(cl.c, method, args, func(v amf.Value, ok bool) {
		logf(v, ok)
		close(done)
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cl.p.e.t.Fatalf("call %s: no answer within 10s", method)
	}
}

func fmtArgs(args []amf.Value) string {
	var sb strings.Builder
	for _, a := range args {
		sb.WriteString(" ")
		sb.WriteString(fmtAMF(a))
	}
	return sb.String()
}

// fmtAMF prints a value compactly and deterministically.
func fmtAMF(v amf.Value) string {
	switch v.Kind() {
	case amf.KindUndefined:
		return "undefined"
	case amf.KindNull:
		return "null"
	case amf.KindNumber:
		return fmt.Sprint(v.Num())
	case amf.KindBoolean:
		return fmt.Sprint(v.Bool())
	case amf.KindString:
		return fmt.Sprintf("%q", v.Str())
	case amf.KindStrictArray:
		parts := make([]string, 0, v.Len())
		for _, el := range v.Elems() {
			parts = append(parts, fmtAMF(el))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case amf.KindObject, amf.KindECMAArray:
		parts := make([]string, 0)
		for _, p := range v.Props() {
			parts = append(parts, p.Key+":"+fmtAMF(p.Value))
		}
		prefix := ""
		if v.ClassName() != "" {
			prefix = v.ClassName()
		}
		return prefix + "{" + strings.Join(parts, ",") + "}"
	}
	return v.Kind().String()
}
