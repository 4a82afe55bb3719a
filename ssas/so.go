package ssas

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject"
)

// The server-side SharedObject (docs/ssas.md#sharedobject, docs/shared-objects.md#server-side-api), bound
// to the instance's sharedobject.Registry. Engine hooks (onSync, client
// sends) arrive on other goroutines and are posted to the loop.

type soKey struct {
	name       string
	persistent bool
}

type soObj struct {
	so  *sharedobject.SharedObject
	obj *goja.Object
}

func (r *Runtime) setupSharedObject() {
	vm := r.vm
	ctor := vm.NewObject()
	proto := vm.NewObject()
	_ = ctor.Set("prototype", proto)
	_ = ctor.Set("get", func(call goja.FunctionCall) goja.Value {
		name := call.Argument(0).String()
		persistent := call.Argument(1).ToBoolean()
		if s := r.getSO(name, persistent); s != nil {
			return s.obj
		}
		return goja.Null()
	})
	m := func(name string, f func(s *soObj, call goja.FunctionCall) goja.Value) {
		_ = proto.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			o, ok := call.This.(*goja.Object)
			if !ok {
				r.throw("SharedObject.%s called on a non-SharedObject", name)
			}
			s, ok := o.Get("\x00so").Export().(*soObj)
			if !ok {
				r.throw("SharedObject.%s called on a non-SharedObject", name)
			}
			return f(s, call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	m("getProperty", func(s *soObj, call goja.FunctionCall) goja.Value {
		v, err := r.toJS(s.so.GetProperty(call.Argument(0).String()))
		if err != nil {
			r.throw("SharedObject.getProperty: %v", err)
		}
		return v
	})
	m("setProperty", func(s *soObj, call goja.FunctionCall) goja.Value {
		if err := s.so.SetProperty(call.Argument(0).String(), r.toAMF(call.Argument(1))); err != nil {
			r.throw("SharedObject.setProperty: %v", err)
		}
		return goja.Undefined()
	})
	m("getPropertyNames", func(s *soObj, _ goja.FunctionCall) goja.Value {
		names := s.so.PropertyNames()
		items := make([]any, len(names))
		for i, n := range names {
			items[i] = n
		}
		return vm.NewArray(items...)
	})
	m("size", func(s *soObj, _ goja.FunctionCall) goja.Value { return vm.ToValue(s.so.Size()) })
	m("send", func(s *soObj, call goja.FunctionCall) goja.Value {
		args := r.toAMFList(call.Arguments[min(1, len(call.Arguments)):])
		return vm.ToValue(s.so.Send(call.Argument(0).String(), args...) == nil)
	})
	m("lock", func(s *soObj, _ goja.FunctionCall) goja.Value { return vm.ToValue(s.so.Lock()) })
	m("unlock", func(s *soObj, _ goja.FunctionCall) goja.Value { return vm.ToValue(s.so.Unlock()) })
	m("flush", func(s *soObj, _ goja.FunctionCall) goja.Value { return vm.ToValue(s.so.Flush() == nil) })
	m("purge", func(s *soObj, call goja.FunctionCall) goja.Value {
		s.so.Purge(uint32(call.Argument(0).ToInteger()))
		return vm.ToValue(true)
	})
	m("clear", func(s *soObj, _ goja.FunctionCall) goja.Value { return vm.ToValue(s.so.Clear() == nil) })
	m("close", func(s *soObj, _ goja.FunctionCall) goja.Value {
		r.closeSO(s)
		return goja.Undefined()
	})
	_ = proto.DefineAccessorProperty("version", vm.ToValue(func(call goja.FunctionCall) goja.Value {
		if o, ok := call.This.(*goja.Object); ok {
			if s, ok := o.Get("\x00so").Export().(*soObj); ok {
				return vm.ToValue(s.so.Version())
			}
		}
		return goja.Undefined()
	}), nil, goja.FLAG_TRUE, goja.FLAG_FALSE)
	// clientWrite: false makes the object the script's alone; clients
	// read it but their changes and sends are refused (an openfcs
	// addition, docs/ssas.md#sharedobject).
	_ = proto.DefineAccessorProperty("clientWrite", vm.ToValue(func(call goja.FunctionCall) goja.Value {
		if o, ok := call.This.(*goja.Object); ok {
			if s, ok := o.Get("\x00so").Export().(*soObj); ok {
				return vm.ToValue(s.so.ClientWrite())
			}
		}
		return goja.Undefined()
	}), vm.ToValue(func(call goja.FunctionCall) goja.Value {
		if o, ok := call.This.(*goja.Object); ok {
			if s, ok := o.Get("\x00so").Export().(*soObj); ok {
				s.so.SetClientWrite(call.Argument(0).ToBoolean())
			}
		}
		return goja.Undefined()
	}), goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = vm.Set("SharedObject", ctor)
	r.soProto = proto
}

// getSO returns the script object of a shared object, creating both.
func (r *Runtime) getSO(name string, persistent bool) *soObj {
	k := soKey{name, persistent}
	if s := r.sos[k]; s != nil {
		return s
	}
	so, err := r.in.SharedObjects().Get(name, persistent)
	if err != nil {
		r.log.Info("SharedObject.get failed", "so", name, "err", err)
		return nil
	}
	o := r.vm.NewObject()
	_ = o.SetPrototype(r.soProto)
	s := &soObj{so: so, obj: o}
	_ = o.DefineDataProperty("\x00so", r.vm.ToValue(s), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty("name", r.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.Set("resyncDepth", -1)
	so.SetOnSync(func(items []sharedobject.SyncItem) {
		r.post(func() { r.soSync(s, items) })
	})
	so.SetOnMessage(func(handler string, args []amf.Value) {
		cp := make([]amf.Value, len(args))
		for i, a := range args {
			cp[i] = amf.Clone(a)
		}
		r.post(func() { r.soMessage(s, handler, cp) })
	})
	r.sos[k] = s
	return s
}

// soSync calls so.onSync(list) with the changes clients made; only an
// onSync set on the object itself counts (docs/shared-objects.md#server-side-api).
func (r *Runtime) soSync(s *soObj, items []sharedobject.SyncItem) {
	if r.sos[soKey{s.so.Name(), s.so.Persistent()}] != s {
		return
	}
	list := make([]any, len(items))
	conv := r.newConv()
	for i, it := range items {
		o := r.vm.NewObject()
		_ = o.Set("code", it.Code)
		_ = o.Set("name", it.Name)
		old, err := conv.value(it.OldValue)
		if err != nil {
			// The list still tells the script what changed; the values
			// it can read with getProperty, under the same budget.
			r.log.Info("onSync oldValue left undefined", "so", s.so.Name(), "slot", it.Name, "err", err)
			old, conv = goja.Undefined(), r.newConv()
		}
		_ = o.Set("oldValue", old)
		list[i] = o
	}
	_, _, _ = r.callHandler("onSync", s.obj, r.vm.NewArray(list...))
}

// soMessage runs the handler property a client's send() names.
func (r *Runtime) soMessage(s *soObj, handler string, args []amf.Value) {
	if r.sos[soKey{s.so.Name(), s.so.Persistent()}] != s {
		return
	}
	js, err := r.toJSArgs(args)
	if err != nil {
		r.log.Info("shared object send dropped", "so", s.so.Name(), "handler", handler, "err", err)
		return
	}
	_, _, _ = r.callHandler(handler, s.obj, js...)
}

func (r *Runtime) closeSO(s *soObj) {
	k := soKey{s.so.Name(), s.so.Persistent()}
	if r.sos[k] != s {
		return
	}
	delete(r.sos, k)
	s.so.SetOnSync(nil)
	s.so.SetOnMessage(nil)
	s.so.Close()
}

// clearSharedObjects implements application.clearSharedObjects(path):
// "/" clears every object of the instance, otherwise the names matching
// the pattern (wildcards * and ? in the last segment), loaded or stored.
func (r *Runtime) clearSharedObjects(pattern string) bool {
	pattern = strings.Trim(pattern, "/")
	match := func(name string) bool {
		if pattern == "" {
			return true
		}
		ok, err := path.Match(pattern, name)
		return err == nil && ok
	}
	names := map[soKey]bool{}
	for k := range r.sos {
		if match(k.name) {
			names[k] = true
		}
	}
	root := filepath.Join(r.dir, "sharedobjects", filepath.FromSlash(r.in.Name))
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".fso") {
			return nil
		}
		rel, err := filepath.Rel(root, strings.TrimSuffix(p, ".fso"))
		if err == nil && match(filepath.ToSlash(rel)) {
			names[soKey{filepath.ToSlash(rel), true}] = true
		}
		return nil
	})
	ok := true
	for k := range names {
		so := r.in.SharedObjects().Lookup(k.name, k.persistent)
		if so == nil {
			var err error
			if so, err = r.in.SharedObjects().Get(k.name, k.persistent); err != nil {
				ok = false
				continue
			}
			defer so.Close()
		}
		if err := so.Clear(); err != nil {
			ok = false
		}
	}
	return ok
}
