package ssas

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/status"
)

// setup creates the goja runtime and the SSAS globals. Loop goroutine.
func (r *Runtime) setup() {
	vm := goja.New()
	r.vm = vm
	vm.SetMaxCallStackSize(r.cfg.MaxCallStack)
	if _, err := vm.RunProgram(polyfillProgram); err != nil {
		r.log.Error("polyfills", "err", err)
	}
	g := vm.GlobalObject()
	_ = g.Set("trace", func(call goja.FunctionCall) goja.Value {
		parts := make([]string, len(call.Arguments))
		for i, a := range call.Arguments {
			parts[i] = a.String()
		}
		r.trace(strings.Join(parts, " "))
		return goja.Undefined()
	})
	_ = g.Set("load", r.jsLoad)
	_ = g.Set("setInterval", func(call goja.FunctionCall) goja.Value { return r.setTimer(call, true) })
	_ = g.Set("setTimeout", func(call goja.FunctionCall) goja.Value { return r.setTimer(call, false) })
	_ = g.Set("clearInterval", r.clearTimer)
	_ = g.Set("clearTimeout", r.clearTimer)
	_ = g.Set("getGlobal", func() *goja.Object { return vm.GlobalObject() })
	_ = g.Set("setAttributes", func(o *goja.Object, prop string, enumerable, readOnly, permanent goja.Value) {
		v := o.Get(prop)
		flag := func(b goja.Value, inv bool) goja.Flag {
			on := b != nil && b.ToBoolean()
			if inv {
				on = !on
			}
			if on {
				return goja.FLAG_TRUE
			}
			return goja.FLAG_FALSE
		}
		_ = o.DefineDataProperty(prop, v, flag(readOnly, true), flag(permanent, true), flag(enumerable, false))
	})
	_ = g.Set("protectObject", func(o *goja.Object) *goja.Object { return r.protect(o) })

	r.setupApplication()
	r.setupClientClass()
	r.setupSharedObject()
	r.setupStream()
	r.setupNetConnection()
	r.setupFile()
	r.setupLoadVars()
	r.setupXML()
}

// throw raises a script Error from a host function: an ordinary Error
// object, as the script's own code would throw, not goja's GoError.
func (r *Runtime) throw(format string, args ...any) {
	panic(r.newError(fmt.Sprintf(format, args...)))
}

// newError creates a script Error object with message msg.
func (r *Runtime) newError(msg string) goja.Value {
	if ctor, ok := r.vm.Get("Error").(*goja.Object); ok {
		if e, err := r.vm.New(ctor, r.vm.ToValue(msg)); err == nil {
			return e
		}
	}
	return r.vm.ToValue(msg)
}

// jsLoad implements load(path) (docs/ssas.md#loading-more-files): the file runs in the global scope
// now, its errors are thrown into the caller.
func (r *Runtime) jsLoad(name string) goja.Value {
	path, rel, err := r.resolveLoad(name)
	if err != nil {
		r.throw("load(%q): %v", name, err)
	}
	r.watch(path)
	prg, err := r.compileFile(rel, path)
	if err != nil {
		r.throw("load(%q): %v", name, err)
	}
	v, err := r.vm.RunProgram(prg)
	if err != nil {
		if ex, ok := errors.AsType[*goja.Exception](err); ok {
			panic(ex.Value())
		}
		panic(err) // interrupted: let it unwind to the entry
	}
	return v
}

// resolveLoad finds a load() argument below the application folder, its
// scripts/ folder or a ScriptLibPath folder; absolute paths, `..` escapes
// and symlinks leading outside are refused (docs/ssas.md#other-guards).
func (r *Runtime) resolveLoad(name string) (path, rel string, err error) {
	if name == "" || filepath.IsAbs(name) || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.Contains(name, "\x00") {
		return "", "", errors.New("only relative paths are allowed")
	}
	clean := filepath.Clean(filepath.FromSlash(name))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", "", errors.New("path escapes the application folder")
	}
	roots := append([]string{r.dir, filepath.Join(r.dir, "scripts")}, r.cfg.ScriptLibPath...)
	for _, root := range roots {
		p := filepath.Join(root, clean)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if !within(root, p) {
			return "", "", errors.New("path leads outside the allowed folders")
		}
		rel := filepath.ToSlash(clean)
		if root != r.dir {
			if rr, err := filepath.Rel(r.dir, p); err == nil && !strings.HasPrefix(rr, "..") {
				rel = filepath.ToSlash(rr)
			}
		}
		return p, rel, nil
	}
	if p := bundledPath(filepath.ToSlash(clean)); p != "" {
		return p, filepath.ToSlash(clean), nil
	}
	return "", "", os.ErrNotExist
}

// within reports whether p, with symlinks resolved, is inside root.
func within(root, p string) bool {
	rr, err1 := filepath.EvalSymlinks(root)
	pp, err2 := filepath.EvalSymlinks(p)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(rr, pp)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// protect returns a wrapper of o whose functions can be called but whose
// data and function sources are hidden (protectObject, FMS2).
func (r *Runtime) protect(o *goja.Object) *goja.Object {
	w := r.vm.NewObject()
	for _, k := range o.Keys() {
		if fn, ok := goja.AssertFunction(o.Get(k)); ok {
			wrapped := r.vm.ToValue(func(call goja.FunctionCall) goja.Value {
				v, err := fn(o, call.Arguments...)
				if err != nil {
					panic(err)
				}
				return v
			})
			_ = w.DefineDataProperty(k, wrapped, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		}
	}
	return w
}

// ---------------------------------------------------------------------------
// Timers (docs/ssas.md#globals-and-other-classes): callbacks run on the loop under the budget.

type timer struct {
	t        *time.Timer
	repeat   bool
	interval time.Duration
	fn       goja.Callable
	this     goja.Value
	args     []goja.Value
}

// setTimer implements setInterval(fn, ms, args...), setInterval(obj,
// "method", ms, args...) and setTimeout(fn, ms, args...).
func (r *Runtime) setTimer(call goja.FunctionCall, repeat bool) goja.Value {
	if len(r.timers) >= r.cfg.MaxTimers {
		r.throw("too many timers (%d)", r.cfg.MaxTimers)
	}
	var (
		fn   goja.Callable
		this goja.Value = r.vm.GlobalObject()
		rest []goja.Value
		ms   float64
	)
	a := call.Arguments
	if f, ok := goja.AssertFunction(call.Argument(0)); ok {
		fn = f
		ms = call.Argument(1).ToFloat()
		if len(a) > 2 {
			rest = a[2:]
		}
	} else if o, ok := call.Argument(0).(*goja.Object); ok {
		m := call.Argument(1).String()
		f, ok := goja.AssertFunction(o.Get(m))
		if !ok {
			r.throw("setInterval: %s is not a method", m)
		}
		fn, this = f, o
		ms = call.Argument(2).ToFloat()
		if len(a) > 3 {
			rest = a[3:]
		}
	} else {
		r.throw("setInterval: not a function")
	}
	if ms != ms || ms < 1 { // NaN or < 1 ms
		ms = 1
	}
	r.nextTimer++
	id := r.nextTimer
	t := &timer{repeat: repeat, interval: time.Duration(ms * float64(time.Millisecond)), fn: fn, this: this, args: append([]goja.Value(nil), rest...)}
	r.timers[id] = t
	r.arm(id, t)
	return r.vm.ToValue(id)
}

func (r *Runtime) arm(id int64, t *timer) {
	t.t = time.AfterFunc(t.interval, func() {
		r.post(func() { r.fire(id, t) })
	})
}

func (r *Runtime) fire(id int64, t *timer) {
	if r.timers[id] != t {
		return // cleared meanwhile
	}
	if !t.repeat {
		delete(r.timers, id)
	}
	_, _ = r.call("timer", t.fn, t.this, t.args...)
	if t.repeat && r.timers[id] == t && !r.dead {
		r.arm(id, t)
	}
}

func (r *Runtime) clearTimer(id goja.Value) {
	if id == nil {
		return
	}
	n := id.ToInteger()
	if t := r.timers[n]; t != nil {
		t.t.Stop()
		delete(r.timers, n)
	}
}

// ---------------------------------------------------------------------------
// application (docs/ssas.md#application)

type proxy struct {
	target goja.Value // a NetConnection or Client object
	remote string
}

func (r *Runtime) setupApplication() {
	vm := r.vm
	app := vm.NewObject()
	r.app = app
	ro := func(name string, v any) {
		_ = app.DefineDataProperty(name, vm.ToValue(v), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	ro("name", r.in.App+"/"+r.in.Name)
	ro("server", "openfcs/"+r.h.Version+" "+runtime.GOOS)
	host, _ := os.Hostname()
	_ = app.Set("hostname", host)
	_ = app.Set("allowDebug", false)
	_ = app.Set("config", r.scriptConfig())
	_ = app.DefineAccessorProperty("clients", vm.ToValue(func() goja.Value {
		list := make([]any, len(r.accepted))
		for i, c := range r.accepted {
			list[i] = c.obj
		}
		return vm.NewArray(list...)
	}), nil, goja.FLAG_FALSE, goja.FLAG_TRUE)

	_ = app.Set("acceptConnection", func(c goja.Value) bool {
		co := r.clientOf(c)
		if co == nil || !r.in.Accept(co.c) {
			return false
		}
		// In application.clients (and reached by broadcastMsg) from now
		// on, whether this runs inside onConnect or later from a timer
		// or a callback.
		r.addAccepted(co)
		return true
	})
	_ = app.Set("rejectConnection", func(call goja.FunctionCall) goja.Value {
		co := r.clientOf(call.Argument(0))
		if co == nil {
			return vm.ToValue(false)
		}
		errObj := amf.Undefined()
		if len(call.Arguments) > 1 {
			errObj = r.toAMF(call.Argument(1))
		}
		return vm.ToValue(r.in.Reject(co.c, "Connection rejected.", errObj))
	})
	_ = app.Set("redirectConnection", func(call goja.FunctionCall) goja.Value {
		co := r.clientOf(call.Argument(0))
		if co == nil {
			return vm.ToValue(false)
		}
		ex := amf.Object(amf.Prop{Key: "code", Value: amf.Number(302)},
			amf.Prop{Key: "redirect", Value: amf.String(call.Argument(1).String())})
		if len(call.Arguments) > 2 {
			ex.Set("description", amf.String(call.Argument(2).String()))
		}
		return vm.ToValue(r.in.Reject(co.c, "Connection redirected.", amf.Object(amf.Prop{Key: "ex", Value: ex})))
	})
	_ = app.Set("disconnect", func(c goja.Value) bool {
		co := r.clientOf(c)
		return co != nil && r.in.DisconnectClient(co.c)
	})
	_ = app.Set("registerClass", func(name string, ctor goja.Value) {
		if o, ok := ctor.(*goja.Object); ok {
			r.classes[name] = o
		} else {
			delete(r.classes, name)
		}
	})
	_ = app.Set("registerProxy", func(call goja.FunctionCall) goja.Value {
		m := call.Argument(0).String()
		t := call.Argument(1)
		if goja.IsNull(t) || goja.IsUndefined(t) {
			delete(r.proxies, m)
			return goja.Undefined()
		}
		remote := m
		if len(call.Arguments) > 2 && !goja.IsUndefined(call.Argument(2)) {
			remote = call.Argument(2).String()
		}
		r.proxies[m] = proxy{target: t, remote: remote}
		return goja.Undefined()
	})
	_ = app.Set("broadcastMsg", func(call goja.FunctionCall) goja.Value {
		m := call.Argument(0).String()
		args := r.toAMFList(call.Arguments[min(1, len(call.Arguments)):])
		for _, c := range r.accepted {
			if c.c.Peer != nil {
				c.c.Peer.Call(m, args, nil)
			}
		}
		return goja.Undefined()
	})
	_ = app.Set("clearSharedObjects", func(path string) bool { return r.clearSharedObjects(path) })
	_ = app.Set("clearStreams", func(path string) bool { return r.clearStreams(path) })
	_ = app.Set("shutdown", func() bool {
		r.in.Shutdown()
		return true
	})
	_ = app.Set("gc", func() {})
	_ = app.Set("getStats", func() *goja.Object {
		o := vm.NewObject()
		_ = o.Set("clients", len(r.accepted))
		_ = o.Set("total_connects", len(r.clients))
		_ = o.Set("streams", len(r.in.Streams().Names()))
		_ = o.Set("shared_objects", r.in.SharedObjects().Len())
		return o
	})
	_ = vm.Set("application", app)
}

// ---------------------------------------------------------------------------
// Client (docs/ssas.md#client)

// clientObj is the script's Client object of one connection.
type clientObj struct {
	c   *instance.Client
	obj *goja.Object
	// notFound remembers the method names already logged as missing.
	notFound map[string]bool
}

func (r *Runtime) clientOf(v goja.Value) *clientObj {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	// Get returns nil for an object that is not a Client.
	if x := o.Get("\x00client"); x != nil {
		if co, ok := x.Export().(*clientObj); ok {
			return co
		}
	}
	return nil
}

func (r *Runtime) setupClientClass() {
	vm := r.vm
	ctor := vm.ToValue(func(goja.ConstructorCall) *goja.Object {
		r.throw("Client objects are created by the server")
		return nil
	}).(*goja.Object)
	proto := vm.NewObject()
	_ = ctor.Set("prototype", proto)
	_ = proto.Set("constructor", ctor)
	r.clientCtor, r.clientProto = ctor, proto
	method := func(name string, f func(co *clientObj, call goja.FunctionCall) goja.Value) {
		_ = proto.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			co := r.clientOf(call.This)
			if co == nil {
				r.throw("Client.%s called on a non-client", name)
			}
			return f(co, call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	method("call", func(co *clientObj, call goja.FunctionCall) goja.Value {
		if co.c.Peer == nil {
			return vm.ToValue(false)
		}
		m := call.Argument(0).String()
		args := r.toAMFList(call.Arguments[min(2, len(call.Arguments)):])
		var res instance.Result
		if ro, ok := call.Argument(1).(*goja.Object); ok {
			res = r.resultHandler(ro)
		}
		return vm.ToValue(co.c.Peer.Call(m, args, res))
	})
	method("ping", func(co *clientObj, _ goja.FunctionCall) goja.Value {
		return vm.ToValue(co.c.Peer != nil && co.c.Peer.Ping())
	})
	method("getStats", func(co *clientObj, _ goja.FunctionCall) goja.Value {
		var st instance.PeerStats
		if co.c.Peer != nil {
			st = co.c.Peer.Stats()
		}
		o := vm.NewObject()
		_ = o.Set("bytes_in", float64(st.BytesIn))
		_ = o.Set("bytes_out", float64(st.BytesOut))
		_ = o.Set("msg_in", float64(st.MsgIn))
		_ = o.Set("msg_out", float64(st.MsgOut))
		_ = o.Set("msg_dropped", float64(st.MsgDropped))
		_ = o.Set("ping_rtt", float64(st.PingRTT.Milliseconds()))
		return o
	})
	method("getBandwidthLimit", func(co *clientObj, call goja.FunctionCall) goja.Value {
		lim := co.obj.Get("\x00bw")
		if o, ok := lim.(*goja.Object); ok {
			return o.Get(fmt.Sprint(call.Argument(0).ToInteger()))
		}
		return vm.ToValue(0)
	})
	method("setBandwidthLimit", func(co *clientObj, call goja.FunctionCall) goja.Value {
		// Recorded for getBandwidthLimit; pacing is not enforced.
		o, ok := co.obj.Get("\x00bw").(*goja.Object)
		if !ok {
			o = vm.NewObject()
			_ = co.obj.DefineDataProperty("\x00bw", o, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		}
		if s2c := call.Argument(0).ToFloat(); s2c > 0 {
			_ = o.Set("1", s2c)
		}
		if c2s := call.Argument(1).ToFloat(); c2s > 0 {
			_ = o.Set("0", c2s)
		}
		return goja.Undefined()
	})
	_ = vm.Set("Client", ctor)
}

// secureProtocols are the client protocols that run over TLS
// (Client.secure).
var secureProtocols = map[string]bool{"rtmps": true, "rtmpts": true, "rtmpwss": true, "https-flv": true}

// newClient creates the script object of c.
func (r *Runtime) newClient(c *instance.Client) *clientObj {
	vm := r.vm
	o := vm.NewObject()
	_ = o.SetPrototype(r.clientProto)
	co := &clientObj{c: c, obj: o}
	_ = o.DefineDataProperty("\x00client", vm.ToValue(co), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	set := func(k string, v any) { _ = o.Set(k, v) }
	set("ip", c.IP)
	set("agent", c.Agent)
	set("referrer", c.Referrer)
	set("pageUrl", c.PageURL)
	set("protocol", c.Protocol)
	set("id", fmt.Sprint(c.ID))
	set("uri", c.URI)
	set("secure", secureProtocols[c.Protocol])
	set("virtualKey", "")
	set("audioSampleAccess", "")
	set("videoSampleAccess", "")
	acc := func(get func() string, put func(string)) (goja.Value, goja.Value) {
		return vm.ToValue(func() string { return get() }), vm.ToValue(func(v goja.Value) { put(v.String()) })
	}
	g, s := acc(c.ReadAccess, func(v string) { c.SetAccess(v, c.WriteAccess()) })
	_ = o.DefineAccessorProperty("readAccess", g, s, goja.FLAG_TRUE, goja.FLAG_TRUE)
	g, s = acc(c.WriteAccess, func(v string) { c.SetAccess(c.ReadAccess(), v) })
	_ = o.DefineAccessorProperty("writeAccess", g, s, goja.FLAG_TRUE, goja.FLAG_TRUE)
	return co
}

// resultHandler turns a script result object into an instance.Result
// whose outcome runs ro.onResult or ro.onStatus on the loop.
func (r *Runtime) resultHandler(ro *goja.Object) instance.Result {
	return func(v amf.Value, ok bool) {
		r.post(func() {
			name := "onResult"
			if !ok {
				name = "onStatus"
			}
			jv, err := r.toJS(v)
			if err != nil {
				r.log.Info("call result refused", "err", err)
				name, jv = "onStatus", r.infoObject(status.CallFailed, "Result too large to convert.")
			}
			_, _, _ = r.callHandler(name, ro, jv)
		})
	}
}

// onConnect runs application.onConnect and applies docs/ssas.md#accepting-and-rejecting-connections. Loop goroutine.
func (r *Runtime) onConnect(c *instance.Client, args []amf.Value) {
	if r.dead {
		r.rejectScriptError(c)
		return
	}
	co := r.newClient(c)
	r.clients[c] = co
	if !c.Pending() { // timed out or gone while queued
		if !c.Accepted() {
			delete(r.clients, c)
		}
		return
	}
	fn, ok := goja.AssertFunction(r.app.Get("onConnect"))
	if !ok {
		r.accept(co)
		return
	}
	conv, err := r.toJSArgs(args)
	if err != nil {
		delete(r.clients, c)
		r.log.Info("connect arguments refused", "client", c.ID, "err", err)
		r.in.Reject(c, "Connect arguments too large.", amf.Undefined())
		return
	}
	jsArgs := append([]goja.Value{co.obj}, conv...)
	v, err := r.call("onConnect", fn, r.app, jsArgs...)
	if co.c.Accepted() {
		r.addAccepted(co)
	}
	if !c.Pending() {
		return // decided inside the handler; that decision stands
	}
	switch {
	case err != nil:
		if r.dead || r.cfg.OnConnectErrorPolicy != "pending" {
			r.in.Reject(c, "Script error in onConnect", amf.Undefined())
		}
	case isBool(v, true):
		r.accept(co)
	case isBool(v, false):
		r.in.Reject(c, "Connection rejected.", amf.Undefined())
	default:
		// null, undefined, nothing or another value: pending (docs/ssas.md#accepting-and-rejecting-connections).
	}
}

func (r *Runtime) accept(co *clientObj) {
	if r.in.Accept(co.c) {
		r.addAccepted(co)
	}
}

// addAccepted puts co into application.clients once.
func (r *Runtime) addAccepted(co *clientObj) {
	if slices.Contains(r.accepted, co) {
		return
	}
	r.accepted = append(r.accepted, co)
}

// onDisconnect runs application.onDisconnect for an accepted client.
func (r *Runtime) onDisconnect(c *instance.Client) {
	co := r.clients[c]
	if co == nil {
		return
	}
	delete(r.clients, c)
	for i, x := range r.accepted {
		if x == co {
			r.accepted = append(r.accepted[:i], r.accepted[i+1:]...)
			break
		}
	}
	_, _, _ = r.callHandler("onDisconnect", r.app, co.obj)
}

// onCall resolves and runs a client-to-server call (docs/ssas.md#calls-from-clients): registered
// proxy, property path on the client, __resolve, failure.
func (r *Runtime) onCall(c *instance.Client, method string, args []amf.Value, result instance.Result) {
	co := r.clients[c]
	if co == nil || r.dead {
		result(callFailedInfo("Method not found ("+method+")."), false)
		return
	}
	if p, ok := r.proxies[method]; ok {
		r.forward(p, args, result)
		return
	}
	fn, this := r.lookupMethod(co, method)
	if fn == nil {
		if res, ok := goja.AssertFunction(co.obj.Get("__resolve")); ok {
			v, err := r.call("__resolve", res, co.obj, r.vm.ToValue(method))
			if err == nil {
				fn, _ = goja.AssertFunction(v)
				this = co.obj
			}
		}
	}
	if fn == nil {
		if co.notFound == nil {
			co.notFound = map[string]bool{}
		}
		if !co.notFound[method] && len(co.notFound) < 100 {
			co.notFound[method] = true
			r.log.Info("Method not found ("+method+")", "client", c.ID)
		}
		result(callFailedInfo("Method not found ("+method+")."), false)
		return
	}
	jsArgs, err := r.toJSArgs(args)
	if err != nil {
		r.log.Info("call arguments refused", "client", c.ID, "method", method, "err", err)
		result(callFailedInfo("Arguments too large ("+method+")."), false)
		return
	}
	v, err := r.call("Client."+method, fn, this, jsArgs...)
	if err != nil {
		result(callFailedInfo("Failed to execute method ("+method+")."), false)
		return
	}
	result(r.toAMF(v), true)
}

// lookupMethod finds the function a client call names
// (docs/ssas.md#calls-from-clients): a property
// of the client (own or inherited) of that exact name, else a path
// "obj/method" or "obj.method" (Flash clients used both) whose function
// runs with this = obj.
func (r *Runtime) lookupMethod(co *clientObj, method string) (goja.Callable, goja.Value) {
	if fn, ok := goja.AssertFunction(co.obj.Get(method)); ok && method != "" {
		return fn, co.obj
	}
	if !strings.ContainsAny(method, "/.") {
		return nil, nil
	}
	var cur goja.Value = co.obj
	this := cur
	for part := range strings.SplitSeq(strings.ReplaceAll(method, ".", "/"), "/") {
		o, ok := cur.(*goja.Object)
		if !ok || part == "" {
			return nil, nil
		}
		this = o
		cur = o.Get(part)
		if cur == nil {
			return nil, nil
		}
	}
	fn, ok := goja.AssertFunction(cur)
	if !ok {
		return nil, nil
	}
	return fn, this
}

// forward relays a proxied call to a NetConnection or a Client (docs/ssas.md#application-methods).
func (r *Runtime) forward(p proxy, args []amf.Value, result instance.Result) {
	if co := r.clientOf(p.target); co != nil && co.c.Peer != nil {
		if !co.c.Peer.Call(p.remote, args, result) {
			result(callFailedInfo("Proxy target is gone."), false)
		}
		return
	}
	if nc := r.netConnOf(p.target); nc != nil {
		nc.remoteCall(p.remote, args, result)
		return
	}
	result(callFailedInfo("Bad proxy target."), false)
}

// onPublish runs application.onPublish; false or an exception refuses.
// The Stream object carries the request's query string and type.
func (r *Runtime) onPublish(c *instance.Client, req instance.PublishRequest) error {
	stream := req.Stream
	co := r.clients[c]
	if co == nil {
		return nil
	}
	so := r.stream(stream)
	if so != nil {
		so.setPublished(req.Query, req.Type)
	}
	v, ran, err := r.callHandler("onPublish", r.app, co.obj, r.streamFor(stream))
	if !ran {
		return nil
	}
	if err != nil {
		return errors.New("application.onPublish failed")
	}
	if isBool(v, false) {
		return fmt.Errorf("publishing %s was refused by the application", stream)
	}
	return nil
}

// isBool reports whether v is the boolean want (not a truthy value: FMS
// documents that 1 and 0 are not true and false, docs/ssas.md#accepting-and-rejecting-connections).
func isBool(v goja.Value, want bool) bool {
	if v == nil {
		return false
	}
	b, ok := v.Export().(bool)
	return ok && b == want
}
