package ssas

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
)

// Conversions between AMF values and script values (ssas.md §9): numbers
// are doubles both ways, property order is kept, typed objects of a class
// registered with application.registerClass get the constructor's
// prototype on the way in (the constructor is not run) and their class
// name on the way out.

// maxConvertDepth bounds nesting of script values converted to AMF (and
// breaks reference cycles).
const maxConvertDepth = 64

// toJS converts v for the script. Loop goroutine.
func (r *Runtime) toJS(v amf.Value) goja.Value {
	vm := r.vm
	switch v.Kind() {
	case amf.KindUndefined, amf.KindUnsupported:
		return goja.Undefined()
	case amf.KindNull:
		return goja.Null()
	case amf.KindNumber:
		return vm.ToValue(v.Num())
	case amf.KindBoolean:
		return vm.ToValue(v.Bool())
	case amf.KindString, amf.KindXML, amf.KindXMLDocument:
		return vm.ToValue(v.Str())
	case amf.KindDate:
		d, err := vm.New(vm.Get("Date"), vm.ToValue(v.Num()))
		if err != nil {
			return goja.Undefined()
		}
		return d
	case amf.KindObject:
		if inner, ok := v.Externalized(); ok {
			return r.toJS(inner)
		}
		var o *goja.Object
		if ctor := r.classes[v.ClassName()]; ctor != nil && v.ClassName() != "" {
			if proto, ok := ctor.Get("prototype").(*goja.Object); ok {
				o = vm.CreateObject(proto)
			}
		}
		if o == nil {
			o = vm.NewObject()
		}
		for _, p := range v.Props() {
			_ = o.Set(p.Key, r.toJS(p.Value))
		}
		return o
	case amf.KindECMAArray:
		a := vm.NewArray()
		for _, p := range v.Props() {
			_ = a.Set(p.Key, r.toJS(p.Value))
		}
		return a
	case amf.KindStrictArray, amf.KindVectorObject:
		el := v.Elems()
		items := make([]any, len(el))
		for i, e := range el {
			items[i] = r.toJS(e)
		}
		a := vm.NewArray(items...)
		for _, p := range v.Props() { // mixed arrays
			_ = a.Set(p.Key, r.toJS(p.Value))
		}
		return a
	case amf.KindByteArray:
		return vm.ToValue(vm.NewArrayBuffer(append([]byte(nil), v.Bytes()...)))
	case amf.KindVectorInt, amf.KindVectorUint, amf.KindVectorDouble:
		el := v.Elems()
		items := make([]any, len(el))
		for i, e := range el {
			items[i] = r.toJS(e)
		}
		return vm.NewArray(items...)
	case amf.KindDictionary:
		o := vm.NewObject()
		for _, e := range v.Entries() {
			_ = o.Set(e.Key.String(), r.toJS(e.Value))
		}
		return o
	}
	return goja.Undefined()
}

// toAMF converts a script value for the wire. Functions become undefined
// (and are skipped as properties); cycles and nesting past 64 become null.
func (r *Runtime) toAMF(v goja.Value) amf.Value {
	return r.toAMFDepth(v, 0)
}

func (r *Runtime) toAMFList(vs []goja.Value) []amf.Value {
	out := make([]amf.Value, len(vs))
	for i, v := range vs {
		out[i] = r.toAMF(v)
	}
	return out
}

func (r *Runtime) toAMFDepth(v goja.Value, depth int) amf.Value {
	if v == nil || goja.IsUndefined(v) {
		return amf.Undefined()
	}
	if goja.IsNull(v) {
		return amf.Null()
	}
	o, ok := v.(*goja.Object)
	if !ok {
		switch x := v.Export().(type) {
		case bool:
			return amf.Bool(x)
		case int64:
			return amf.Number(float64(x))
		case float64:
			return amf.Number(x)
		case string:
			return amf.String(x)
		}
		return amf.String(v.String())
	}
	if depth >= maxConvertDepth {
		return amf.Null()
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		return amf.Undefined()
	}
	switch o.ClassName() {
	case "Array":
		n := int(o.Get("length").ToInteger())
		el := make([]amf.Value, 0, min(n, 1<<16))
		for i := range n {
			el = append(el, r.toAMFDepth(o.Get(strconv.Itoa(i)), depth+1))
		}
		return amf.StrictArray(el...)
	case "Date":
		if t, ok := o.Export().(time.Time); ok {
			return amf.Date(float64(t.UnixMilli()))
		}
		return amf.Date(math.NaN())
	case "String":
		return amf.String(o.String())
	case "Number":
		return amf.Number(o.ToFloat())
	case "Boolean":
		return amf.Bool(o.ToBoolean())
	}
	if ab, ok := o.Export().(goja.ArrayBuffer); ok {
		return amf.ByteArray(append([]byte(nil), ab.Bytes()...))
	}
	props := make([]amf.Prop, 0, 8)
	for _, k := range o.Keys() {
		if strings.HasPrefix(k, "\x00") {
			continue
		}
		pv := o.Get(k)
		if _, isFn := goja.AssertFunction(pv); isFn {
			continue
		}
		props = append(props, amf.Prop{Key: k, Value: r.toAMFDepth(pv, depth+1)})
	}
	if name := r.className(o); name != "" {
		return amf.TypedObject(name, props...)
	}
	return amf.Object(props...)
}

// className returns the registered class of o's constructor, or "".
func (r *Runtime) className(o *goja.Object) string {
	if len(r.classes) == 0 {
		return ""
	}
	ctor, ok := o.Get("constructor").(*goja.Object)
	if !ok {
		return ""
	}
	for name, c := range r.classes {
		if c.SameAs(ctor) {
			return name
		}
	}
	return ""
}

// infoObject builds a script info object {level, code, description...}.
func (r *Runtime) infoObject(level, code, desc string, extra ...any) *goja.Object {
	o := r.vm.NewObject()
	_ = o.Set("level", level)
	_ = o.Set("code", code)
	if desc != "" {
		_ = o.Set("description", desc)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		_ = o.Set(extra[i].(string), extra[i+1])
	}
	return o
}
