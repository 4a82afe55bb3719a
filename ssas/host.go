package ssas

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/status"
)

// Host loads application scripts for the engine: it implements
// instance.ScriptLoader. Install it with Manager.SetScriptLoader.
type Host struct {
	// Config holds the limits; zero fields mean their defaults.
	Config Config
	// Logger receives script errors and trace output; nil discards.
	Logger *slog.Logger
	// Dialer opens server-side NetConnections; nil makes
	// NetConnection.connect fail with NetConnection.Connect.Failed.
	Dialer Dialer
	// Version is reported in application.server ("openfcs/<ver> <os>").
	Version string
	// OnTrace, when set, receives every trace line after it is logged
	// (tests, an admin console). Called on the instance's loop.
	OnTrace func(app, inst, msg string)

	once sync.Once
	cfg  Config
}

func (h *Host) init() {
	h.once.Do(func() {
		h.cfg = h.Config.WithDefaults()
		if h.Logger == nil {
			h.Logger = slog.New(slog.DiscardHandler)
		}
		if h.Version == "" {
			h.Version = "dev"
		}
	})
}

// entryNames is the search order of docs/ssas.md#which-script-runs for application app.
func entryNames(app string) []string {
	return []string{
		"scripts/main.asc", "main.asc", "scripts/main.js", "main.js",
		"scripts/" + app + ".asc", app + ".asc", "scripts/" + app + ".js", app + ".js",
	}
}

// FindEntry returns the entry script of the application in dir (relative
// name and full path), or "" when it has none. A case-insensitive match is
// accepted after the exact names, with warn set.
func FindEntry(dir, app string) (name, path string, warn bool) {
	names := entryNames(app)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return n, p, false
		}
	}
	// FCS ran mostly on Windows: try the same order ignoring case.
	for _, n := range names {
		sub, base := filepath.Split(filepath.FromSlash(n))
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() && strings.EqualFold(e.Name(), base) {
				return filepath.ToSlash(filepath.Join(sub, e.Name())), filepath.Join(dir, sub, e.Name()), true
			}
		}
	}
	return "", "", false
}

// Load implements instance.ScriptLoader: it compiles the entry script and
// starts the instance's runtime, which runs the top-level code and
// onAppStart on its loop (connects queue behind them).
func (h *Host) Load(in *instance.Instance) (instance.Script, error) {
	h.init()
	dir := in.Dir()
	name, path, warn := FindEntry(dir, in.App)
	if name == "" {
		return nil, nil
	}
	log := in.Logger()
	if warn {
		log.Warn("entry script found by a case-insensitive match", "file", name)
	}
	r := newRuntime(h, in, dir)
	prg, err := r.compileFile(name, path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", instance.ErrScript, err)
	}
	r.start(func() {
		if _, err := r.enter("load "+name, func() (goja.Value, error) { return r.vm.RunProgram(prg) }); err != nil {
			return
		}
		_, _, _ = r.callHandler("onAppStart", r.app)
	})
	return r, nil
}

var parserErrRE = regexp.MustCompile(`Line (\d+):(\d+) (.*)$`)

// errBudget interrupts a script that ran past Config.MaxScriptTime.
var errBudget = errors.New("script ran past its time budget")

// errDead is returned for entries into a runtime that failed.
var errDead = errors.New("ssas: runtime stopped")

// Runtime is one instance's script: a goja runtime and the loop that owns
// it. Fields marked "loop" are touched only on the loop goroutine.
type Runtime struct {
	h   *Host
	cfg *Config
	in  *instance.Instance
	dir string
	log *slog.Logger
	vm  *goja.Runtime // loop

	mu      sync.Mutex
	queue   []func()
	quit    bool
	stopped bool // Stop has been called
	wake    chan struct{}
	done    chan struct{}

	// imu orders the budget timer's Interrupt against the end of the
	// entry it was armed for.
	imu      sync.Mutex
	entryGen uint64
	depth    int  // loop: nested entries (load inside top-level code)
	dead     bool // loop: failed, nothing more runs
	inStatus bool // loop: inside application.onStatus (no recursion)

	interrupts int // loop

	// Script state, loop only.
	app         *goja.Object
	clientCtor  *goja.Object
	clientProto *goja.Object
	soProto     *goja.Object
	streamProto *goja.Object
	clients     map[*instance.Client]*clientObj
	accepted    []*clientObj
	classes     map[string]*goja.Object // registerClass name -> constructor
	proxies     map[string]proxy
	timers      map[int64]*timer
	nextTimer   int64
	sos         map[soKey]*soObj
	streams     map[string]*streamObj
	sources     map[string]*source
	conns       map[*netConn]struct{}
	client      *http.Client // script HTTP requests (httpguard.go); clientOnce
	clientOnce  sync.Once
	remoting    remotingState

	traces  []string // ring of the last trace lines; tmu
	tmu     sync.Mutex
	bg      sync.WaitGroup // goroutines that post back (pumps, dials, HTTP)
	stopBG  chan struct{}  // closed when the runtime ends
	running atomic.Bool
}

func newRuntime(h *Host, in *instance.Instance, dir string) *Runtime {
	r := &Runtime{
		h:       h,
		cfg:     &h.cfg,
		in:      in,
		dir:     dir,
		log:     in.Logger(),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopBG:  make(chan struct{}),
		clients: map[*instance.Client]*clientObj{},
		classes: map[string]*goja.Object{},
		proxies: map[string]proxy{},
		timers:  map[int64]*timer{},
		sos:     map[soKey]*soObj{},
		streams: map[string]*streamObj{},
		sources: map[string]*source{},
		conns:   map[*netConn]struct{}{},
	}
	return r
}

// compileFile reads and compiles a script file under its relative name.
func (r *Runtime) compileFile(name, path string) (*goja.Program, error) {
	b, err := readScript(path)
	if err != nil {
		return nil, err
	}
	if len(b) > r.cfg.MaxFileRead {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, r.cfg.MaxFileRead)
	}
	src := prepare(name, string(b), r.cfg.IncludeCompat)
	for _, n := range src.notes {
		r.log.Info("script compatibility rewrite", "file", name, "rewrite", n)
	}
	prg, err := goja.Compile(name, src.text, false)
	if err != nil {
		var se *goja.CompilerSyntaxError
		if errors.As(err, &se) && se.File != nil {
			pos := se.File.Position(se.Offset)
			return nil, fmt.Errorf("%s:%d:%d: %s", name, pos.Line, pos.Column, se.Message)
		}
		// Parser errors read "name: Line L:C message (and n more errors)".
		if m := parserErrRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s:%s: %s", name, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.mu.Lock()
	r.sources[name] = &src
	r.mu.Unlock()
	return prg, nil
}

// start creates the goja runtime and runs first on the new loop.
func (r *Runtime) start(first func()) {
	r.running.Store(true)
	r.post(func() {
		r.setup()
		first()
	})
	go r.run()
}

// post queues f for the loop. It reports false once the runtime has
// stopped (f is then dropped).
func (r *Runtime) post(f func()) bool {
	r.mu.Lock()
	if r.quit {
		r.mu.Unlock()
		return false
	}
	r.queue = append(r.queue, f)
	r.mu.Unlock()
	r.signal()
	return true
}

func (r *Runtime) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runtime) run() {
	defer close(r.done)
	defer func() {
		// A goja internal panic must not take the server down (docs/ssas.md#isolation):
		// the instance fails instead.
		if v := recover(); v != nil {
			buf := make([]byte, 8<<10)
			buf = buf[:runtime.Stack(buf, false)]
			r.log.Error("script runtime panic", "value", fmt.Sprint(v), "stack", string(buf))
			r.dead = true
			r.mu.Lock()
			r.quit = true
			r.mu.Unlock()
			r.cleanup()
			r.in.Fail(fmt.Errorf("script runtime panic: %v", v))
		}
	}()
	var batch []func()
	for {
		r.mu.Lock()
		batch, r.queue = r.queue, batch[:0]
		quit := r.quit
		r.mu.Unlock()
		if len(batch) == 0 {
			if quit {
				r.cleanup()
				return
			}
			<-r.wake
			continue
		}
		for i, f := range batch {
			if !r.dead {
				f()
			}
			batch[i] = nil
		}
	}
}

// cleanup releases what the script holds: timers, server streams,
// shared-object references, outgoing connections. Loop goroutine.
func (r *Runtime) cleanup() {
	for id, t := range r.timers {
		t.t.Stop()
		delete(r.timers, id)
	}
	close(r.stopBG)
	for _, s := range r.streams {
		s.stop()
	}
	for _, so := range r.sos {
		so.so.SetOnSync(nil)
		so.so.SetOnMessage(nil)
		so.so.Close()
	}
	for nc := range r.conns {
		nc.closeRemote()
	}
	r.bg.Wait()
	r.closeHTTP()
	r.running.Store(false)
}

// Stop implements instance.Script: onAppStop (unless the instance failed),
// then the loop ends; it waits at most the script budget plus a margin.
func (r *Runtime) Stop(reason string) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		<-r.done
		return
	}
	r.stopped = true
	r.mu.Unlock()
	if reason != instance.StopFailed {
		r.post(func() {
			info := r.infoObject(reason, "")
			_, _, _ = r.callHandler("onAppStop", r.app, info)
		})
	}
	r.mu.Lock()
	r.quit = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
	case <-time.After(r.cfg.MaxScriptTime + 2*time.Second):
		r.log.Error("script did not stop in time")
	}
}

// Done is closed when the runtime's loop has ended.
func (r *Runtime) Done() <-chan struct{} { return r.done }

// Traces returns the last trace lines of the instance (oldest first).
func (r *Runtime) Traces() []string {
	r.tmu.Lock()
	defer r.tmu.Unlock()
	return append([]string(nil), r.traces...)
}

// enter runs one script entry under the time budget and reports its error
// (docs/ssas.md#time-budget, docs/ssas.md#error-reporting). Nested entries share the outer budget. Loop goroutine.
func (r *Runtime) enter(what string, f func() (goja.Value, error)) (goja.Value, error) {
	if r.dead {
		return nil, errDead
	}
	if r.depth > 0 {
		return f()
	}
	r.depth++
	r.imu.Lock()
	gen := r.entryGen
	r.imu.Unlock()
	t := time.AfterFunc(r.cfg.MaxScriptTime, func() {
		r.imu.Lock()
		if r.entryGen == gen {
			r.vm.Interrupt(errBudget)
		}
		r.imu.Unlock()
	})
	v, err := f()
	t.Stop()
	r.imu.Lock()
	r.entryGen++
	r.imu.Unlock()
	r.vm.ClearInterrupt()
	r.depth--
	if err != nil {
		r.scriptError(what, err)
	}
	return v, err
}

// call invokes a script function as one entry.
func (r *Runtime) call(what string, fn goja.Callable, this goja.Value, args ...goja.Value) (goja.Value, error) {
	return r.enter(what, func() (goja.Value, error) { return fn(this, args...) })
}

// callHandler calls obj[name] if it is a function; absent handlers are
// not errors. It reports whether a handler ran.
func (r *Runtime) callHandler(name string, obj *goja.Object, args ...goja.Value) (goja.Value, bool, error) {
	if obj == nil || r.dead {
		return nil, false, errDead
	}
	fn, ok := goja.AssertFunction(obj.Get(name))
	if !ok {
		return nil, false, nil
	}
	v, err := r.call(name, fn, obj, args...)
	return v, true, err
}

// scriptError logs a script error with file:line and the source line and
// delivers Application.Script.Error to application.onStatus (docs/ssas.md#error-reporting). An
// interrupted runaway script counts towards unloading the instance.
func (r *Runtime) scriptError(what string, err error) {
	var ie *goja.InterruptedError
	interrupted := errors.As(err, &ie)
	file, line, col, stack := "", 0, 0, ""
	desc := err.Error()
	if ex, ok := errors.AsType[*goja.Exception](err); ok {
		desc = ex.Value().String()
		if interrupted {
			desc = fmt.Sprintf("script interrupted after %v (runaway script)", r.cfg.MaxScriptTime)
		}
		stack = ex.String()
		for _, fr := range ex.Stack() {
			p := fr.Position()
			if p.Filename != "" && p.Filename != "ssas-polyfills.js" {
				file, line, col = p.Filename, p.Line, p.Column
				break
			}
		}
	}
	linebuf := ""
	r.mu.Lock()
	if s := r.sources[file]; s != nil {
		linebuf = s.line(line)
	}
	r.mu.Unlock()
	r.log.Error("script error", "in", what, "file", file, "line", line, "column", col,
		"linebuf", strings.TrimSpace(linebuf), "err", desc, "stack", stack)
	if interrupted {
		r.interrupts++
		if r.interrupts >= r.cfg.UnloadAfterInterrupts {
			r.fail(fmt.Errorf("%s: %s", what, desc))
			return
		}
	}
	if r.inStatus || r.vm == nil || r.app == nil {
		return
	}
	info := r.infoObject(status.AppScriptError, desc)
	_ = info.Set("filename", file)
	_ = info.Set("lineno", line)
	_ = info.Set("linebuf", linebuf)
	r.status(info)
}

// status delivers an info object to application.onStatus (no recursion).
func (r *Runtime) status(info *goja.Object) {
	if r.inStatus {
		return
	}
	r.inStatus = true
	defer func() { r.inStatus = false }()
	_, _, _ = r.callHandler("onStatus", r.app, info)
}

// fail marks the runtime dead and unloads the instance (loop goroutine).
func (r *Runtime) fail(err error) {
	if r.dead {
		return
	}
	r.dead = true
	r.mu.Lock()
	r.quit = true
	r.stopped = true
	r.mu.Unlock()
	r.signal()
	r.in.Fail(err)
}

// trace logs one trace line (docs/ssas.md#compatibility-with-old-scripts: slog at info with app and instance, plus
// the ring buffer for the admin view).
func (r *Runtime) trace(msg string) {
	file, line := "", 0
	var frames [2]goja.StackFrame
	for _, fr := range r.vm.CaptureCallStack(2, frames[:0]) {
		if p := fr.Position(); p.Filename != "" {
			file, line = p.Filename, p.Line
			break
		}
	}
	r.log.Info("trace", "text", msg, "file", file, "line", line)
	r.tmu.Lock()
	if len(r.traces) >= r.cfg.TraceBuffer {
		copy(r.traces, r.traces[1:])
		r.traces = r.traces[:len(r.traces)-1]
	}
	r.traces = append(r.traces, msg)
	r.tmu.Unlock()
	if r.h.OnTrace != nil {
		r.h.OnTrace(r.in.App, r.in.Name, msg)
	}
}

// ---------------------------------------------------------------------------
// instance.Script

// Connect implements instance.Script.
func (r *Runtime) Connect(c *instance.Client, args []amf.Value) {
	if !r.post(func() { r.onConnect(c, args) }) {
		r.in.Reject(c, "Application script error", amf.Undefined())
	}
}

// Disconnect implements instance.Script.
func (r *Runtime) Disconnect(c *instance.Client) {
	r.post(func() { r.onDisconnect(c) })
}

// Call implements instance.Script.
func (r *Runtime) Call(c *instance.Client, method string, args []amf.Value, result instance.Result) {
	if !r.post(func() { r.onCall(c, method, args, result) }) {
		result(callFailedInfo("Failed to execute method ("+method+")."), false)
	}
}

// Publish implements instance.Script: application.onPublish runs on the
// loop; returning false (or throwing) refuses the publish.
func (r *Runtime) Publish(c *instance.Client, stream string) error {
	res := make(chan error, 1)
	if !r.post(func() { res <- r.onPublish(c, stream) }) {
		return nil
	}
	select {
	case err := <-res:
		return err
	case <-r.done:
		return nil
	case <-time.After(r.cfg.MaxScriptTime + time.Second):
		return errors.New("application.onPublish did not answer")
	}
}

// Unpublish implements instance.Script.
func (r *Runtime) Unpublish(c *instance.Client, stream string) {
	r.post(func() {
		if co := r.clients[c]; co != nil {
			_, _, _ = r.callHandler("onUnpublish", r.app, co.obj, r.streamFor(stream))
		}
	})
}

// HasMethod implements instance.MethodChecker: whether the script defines
// name for c (a registered proxy, or a function on the client object or
// Client.prototype; __resolve does not count). It waits for the loop,
// bounded by the script budget.
func (r *Runtime) HasMethod(c *instance.Client, name string) bool {
	res := make(chan bool, 1)
	if !r.post(func() { res <- r.hasMethod(c, name) }) {
		return false
	}
	select {
	case v := <-res:
		return v
	case <-r.done:
		return false
	case <-time.After(r.cfg.MaxScriptTime + time.Second):
		return false
	}
}

func (r *Runtime) hasMethod(c *instance.Client, name string) bool {
	co := r.clients[c]
	if co == nil || r.dead {
		return false
	}
	if _, ok := r.proxies[name]; ok {
		return true
	}
	fn, _ := r.lookupMethod(co, name)
	return fn != nil
}

// Published implements instance.PublishObserver: a recording asked for in
// onPublish starts once the client's publication exists.
func (r *Runtime) Published(_ *instance.Client, stream string) {
	r.post(func() {
		if s := r.streams[stream]; s != nil {
			s.published()
		}
	})
}

func callFailedInfo(desc string) amf.Value {
	return status.Info(status.CallFailed, desc)
}
