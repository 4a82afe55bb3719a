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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlclark/regexp2/v2"
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

	once     sync.Once
	cfg      Config
	counters scriptCounters // every instance's entries (stats.go)
}

// regexpOnce sets the match timeout of backtracking regular expressions
// once per process. goja runs the patterns Go's regexp cannot (back
// references, lookaround) on regexp2, whose matcher goja's Interrupt does
// not reach: without a timeout one match can run for hours past the
// script budget. regexp2 reads the timeout from a package variable when a
// pattern is compiled, so the first Host's MaxScriptTime applies to all;
// the write happens before any runtime exists (every Host passes here
// first), so no pattern is being compiled meanwhile.
var regexpOnce sync.Once

func (h *Host) init() {
	h.once.Do(func() {
		h.cfg = h.Config.WithDefaults()
		regexpOnce.Do(func() { regexp2.DefaultMatchTimeout = h.cfg.MaxScriptTime })
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
// onAppStart on its loop; connects queue behind them. A compile error is
// logged here, once per load.
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
	r.watch(path)
	prg, err := r.compileFile(name, path)
	if err != nil {
		r.logCompileError(name, err)
		return nil, &instance.ScriptLoadError{Err: err, Files: r.watched()}
	}
	r.start(func() {
		r.starting = true
		defer func() { r.starting = false }()
		if _, err := r.enter("load "+name, func() (goja.Value, error) { return r.vm.RunProgram(prg) }); err != nil {
			r.failStart(err)
			return
		}
		if _, _, err := r.callHandler("onAppStart", r.app); err != nil {
			r.failStart(err)
		}
	})
	return r, nil
}

// failStart fails the instance after an exception in the top-level code
// or onAppStart, as a syntax error would (docs/ssas.md#error-reporting): an
// authentication script that stopped half-way must not come up without
// its onConnect and admit everyone. The clients queued behind the start are
// rejected; the engine unloads the instance and remembers the failure.
// Loop goroutine.
func (r *Runtime) failStart(err error) {
	if r.lastErr != nil {
		err = r.lastErr // with its file and line
	}
	r.dead = true
	// First out of the engine, so that new connects are refused there;
	// then no more posts, so that the clients already registered are
	// all in the sweep below or rejected by Connect itself.
	r.in.FailStart(&instance.ScriptLoadError{Err: err, Files: r.watched()})
	r.mu.Lock()
	r.quit = true
	r.stopped = true
	r.mu.Unlock()
	r.signal()
	for _, c := range r.in.Clients() {
		if c.Pending() {
			r.rejectScriptError(c)
		}
	}
}

// watch adds a file or folder whose change makes a failed application
// load again (instance.ScriptLoadError.Files).
func (r *Runtime) watch(p string) {
	r.mu.Lock()
	if !slices.Contains(r.watchList, p) && len(r.watchList) < maxWatched {
		r.watchList = append(r.watchList, p)
	}
	r.mu.Unlock()
}

// maxWatched bounds the files remembered for a failed load: a script that
// loads files in a loop must not make each connect stat thousands.
const maxWatched = 64

func (r *Runtime) watched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The folders searched: a file added or renamed there (a missing
	// load() target created, main.asc replaced by rename) changes them.
	out := []string{r.dir, filepath.Join(r.dir, "scripts")}
	for _, p := range r.watchList {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
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

	mu       sync.Mutex
	queue    []func()
	quit     bool
	stopped  bool // Stop has been called
	wake     chan struct{}
	done     chan struct{}
	loopOnce sync.Once // starts run (Start)

	watchList []string // files a failed load depends on; mu

	// imu orders the budget timer's Interrupt against the end of the
	// entry it was armed for.
	imu      sync.Mutex
	entryGen uint64
	depth    int  // loop: nested entries (load inside top-level code)
	dead     bool // loop: failed, nothing more runs
	inStatus bool // loop: inside application.onStatus (no recursion)
	starting bool // loop: running the top-level code or onAppStart
	// lastErr is the last script error, with its position (loop).
	lastErr *scriptFault

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

	counters  scriptCounters // this instance's entries (stats.go)
	lastError atomic.Value   // string: the last script error, for the admin view
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
	r.lastError.Store("")
	return r
}

// scriptFault is a script error located in its source: a compile error,
// or an exception with the innermost script frame.
type scriptFault struct {
	file      string
	line, col int
	msg       string
	linebuf   string // the source line, for the log
}

func (f *scriptFault) Error() string {
	if f.file == "" {
		return f.msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", f.file, f.line, f.col, f.msg)
}

// compileFile reads and compiles a script file under its relative name.
// Compile errors are *scriptFault.
func (r *Runtime) compileFile(name, path string) (*goja.Program, error) {
	b, err := readScript(path)
	if err != nil {
		return nil, &scriptFault{file: name, msg: "cannot be read"}
	}
	if len(b) > r.cfg.MaxFileRead {
		return nil, &scriptFault{file: name, msg: fmt.Sprintf("larger than %d bytes", r.cfg.MaxFileRead)}
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
			return nil, &scriptFault{file: name, line: pos.Line, col: pos.Column, msg: se.Message, linebuf: src.line(pos.Line)}
		}
		// Parser errors read "name: Line L:C message (and n more errors)".
		if m := parserErrRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			return nil, &scriptFault{file: name, line: line, col: col, msg: m[3], linebuf: src.line(line)}
		}
		return nil, &scriptFault{file: name, msg: err.Error()}
	}
	r.mu.Lock()
	r.sources[name] = &src
	r.mu.Unlock()
	return prg, nil
}

// logCompileError logs why the entry script does not compile, with the
// source line: once per load.
func (r *Runtime) logCompileError(name string, err error) {
	f, ok := errors.AsType[*scriptFault](err)
	if !ok {
		f = &scriptFault{file: name, msg: err.Error()}
	}
	r.log.Error("script error", "in", "compile", "file", f.file, "line", f.line, "column", f.col,
		"linebuf", strings.TrimSpace(f.linebuf), "err", f.msg)
}

// start creates the goja runtime and runs first on the new loop.
func (r *Runtime) start(first func()) {
	r.running.Store(true)
	r.post(func() {
		r.setup()
		first()
	})
}

// Start implements instance.Starter: the loop begins with the top-level
// code and onAppStart, then runs what was queued meanwhile, the connect
// that loaded the instance first, before any timer the top-level code set.
func (r *Runtime) Start() {
	r.loopOnce.Do(func() { go r.run() })
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
	r.Start() // an instance unloaded before its first connect was handed over
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
	start := time.Now()
	t := time.AfterFunc(r.cfg.MaxScriptTime, func() {
		r.imu.Lock()
		if r.entryGen == gen {
			r.vm.Interrupt(errBudget)
		}
		r.imu.Unlock()
	})
	v, err := f()
	t.Stop()
	d := time.Since(start)
	r.counters.entry(d, err)
	r.h.counters.entry(d, err)
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
	f := &scriptFault{msg: err.Error()}
	stack := ""
	var frames []goja.StackFrame
	found := false
	if ex, ok := errors.AsType[*goja.Exception](err); ok {
		f.msg = ex.Value().String()
		if interrupted {
			f.msg = fmt.Sprintf("script interrupted after %v (runaway script)", r.cfg.MaxScriptTime)
		}
		frames, found = ex.Stack(), true
	} else if so, ok := errors.AsType[*goja.StackOverflowError](err); ok {
		// goja's stack overflow carries no value: name it as a browser
		// would, at the deepest script line.
		f.msg = "RangeError: Maximum call stack size exceeded"
		frames, found = so.Stack(), true
	}
	if found {
		stack = scriptStack(f.msg, frames)
		for _, fr := range frames {
			p := fr.Position()
			if p.Filename != "" && p.Filename != "ssas-polyfills.js" {
				f.file, f.line, f.col = p.Filename, p.Line, p.Column
				break
			}
		}
	}
	r.mu.Lock()
	if s := r.sources[f.file]; s != nil {
		f.linebuf = s.line(f.line)
	}
	r.mu.Unlock()
	r.lastErr = f
	if f.file != "" {
		r.lastError.Store(fmt.Sprintf("%s:%d: %s", f.file, f.line, f.msg))
	} else {
		r.lastError.Store(f.msg)
	}
	r.log.Error("script error", "in", what, "file", f.file, "line", f.line, "column", f.col,
		"linebuf", strings.TrimSpace(f.linebuf), "err", f.msg, "stack", stack)
	if interrupted && !r.starting { // a failed start unloads the instance anyway
		r.interrupts++
		if r.interrupts >= r.cfg.UnloadAfterInterrupts {
			r.fail(fmt.Errorf("%s: %s", what, f.msg))
			return
		}
	}
	if r.inStatus || r.vm == nil || r.app == nil {
		return
	}
	info := r.infoObject(status.AppScriptError, f.msg)
	_ = info.Set("filename", f.file)
	_ = info.Set("lineno", f.line)
	_ = info.Set("linebuf", f.linebuf)
	r.status(info)
}

// scriptStack formats a script stack trace of script frames only: the
// host's functions (load, File methods, ...) are Go code whose names mean
// nothing to the script's author.
func scriptStack(msg string, frames []goja.StackFrame) string {
	var sb strings.Builder
	sb.WriteString(msg)
	for _, fr := range frames {
		p := fr.Position()
		if p.Filename == "" {
			continue
		}
		sb.WriteString("\n\tat ")
		if fn := fr.FuncName(); fn != "" {
			fmt.Fprintf(&sb, "%s (%s:%d:%d)", fn, p.Filename, p.Line, p.Column)
		} else {
			fmt.Fprintf(&sb, "%s:%d:%d", p.Filename, p.Line, p.Column)
		}
	}
	return sb.String()
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
	r.counters.traces.Add(1)
	r.h.counters.traces.Add(1)
	if r.h.OnTrace != nil {
		r.h.OnTrace(r.in.App, r.in.Name, msg)
	}
}

// ---------------------------------------------------------------------------
// instance.Script

// Connect implements instance.Script.
func (r *Runtime) Connect(c *instance.Client, args []amf.Value) {
	if !r.post(func() { r.onConnect(c, args) }) {
		r.rejectScriptError(c)
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
func (r *Runtime) Publish(c *instance.Client, req instance.PublishRequest) error {
	res := make(chan error, 1)
	if !r.post(func() { res <- r.onPublish(c, req) }) {
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

// rejectScriptError rejects c because the script failed, without saying
// more than that (the log has the details).
func (r *Runtime) rejectScriptError(c *instance.Client) {
	r.in.Reject(c, instance.ScriptErrorDescription, amf.String(instance.ScriptErrorApplication))
}

func callFailedInfo(desc string) amf.Value {
	return status.Info(status.CallFailed, desc)
}
