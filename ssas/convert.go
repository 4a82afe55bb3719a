package ssas

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/status"
)

// Conversions between AMF values and script values (docs/ssas.md#compatibility-with-old-scripts): numbers
// are doubles both ways, property order is kept, typed objects of a class
// registered with application.registerClass get the constructor's
// prototype on the way in (the constructor is not run) and their class
// name on the way out.

// maxConvertDepth bounds nesting of script values converted to AMF (and
// breaks reference cycles).
const maxConvertDepth = 64

// errConvertBudget reports an AMF value whose conversion would pass
// Config.MaxConvertNodes or MaxConvertBytes.
var errConvertBudget = errors.New("value too large to convert")

// memoMinString is the length from which a string is converted once per
// backing array: AMF3 string references hand the same string to many
// places, and each conversion scans (and for non-ASCII text, copies) it.
const memoMinString = 64

// strKey identifies a string by its bytes in memory, not its contents, so
// that looking one up costs the same for 1 byte and 1 MiB.
type strKey struct {
	p *byte
	n int
}

// toJSConv converts the AMF values of one message (a connect's or a
// call's arguments, one shared-object value) for the script. A node that
// several references share becomes one script object that appears at each
// place, as in FMS; a cycle becomes a cyclic object graph. nodes and bytes
// count what was converted against the Config budget, so that no value,
// however it was built, costs more than the budget. Loop goroutine.
type toJSConv struct {
	r     *Runtime
	seen  map[any]goja.Value
	strs  map[strKey]goja.Value
	nodes int
	bytes int
}

func (r *Runtime) newConv() *toJSConv { return &toJSConv{r: r} }

// toJS converts one standalone value. Loop goroutine.
func (r *Runtime) toJS(v amf.Value) (goja.Value, error) {
	return r.newConv().value(v)
}

// toJSArgs converts the values of one message body; references between
// them (AMF0 reference indices span the body) keep their identity.
func (r *Runtime) toJSArgs(args []amf.Value) ([]goja.Value, error) {
	c := r.newConv()
	out := make([]goja.Value, len(args))
	for i, a := range args {
		v, err := c.value(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// charge counts nodes complex values (objects, arrays, dates, ByteArrays)
// and n bytes of text or ByteArray contents;
// past either budget the whole conversion fails. Scalars are not counted:
// without sharing there are no more of them than the decoder accepted.
func (c *toJSConv) charge(nodes, n int) error {
	c.nodes += nodes
	c.bytes += n
	if c.nodes > c.r.cfg.MaxConvertNodes {
		return fmt.Errorf("%w: more than %d objects and arrays", errConvertBudget, c.r.cfg.MaxConvertNodes)
	}
	if c.bytes > c.r.cfg.MaxConvertBytes {
		return fmt.Errorf("%w: more than %d bytes of text", errConvertBudget, c.r.cfg.MaxConvertBytes)
	}
	return nil
}

func (c *toJSConv) str(s string) (goja.Value, error) {
	if len(s) < memoMinString {
		if err := c.charge(0, len(s)); err != nil {
			return nil, err
		}
		return c.r.vm.ToValue(s), nil
	}
	k := strKey{unsafe.StringData(s), len(s)}
	if v, ok := c.strs[k]; ok {
		return v, nil
	}
	if err := c.charge(0, len(s)); err != nil {
		return nil, err
	}
	v := c.r.vm.ToValue(s)
	if c.strs == nil {
		c.strs = map[strKey]goja.Value{}
	}
	c.strs[k] = v
	return v, nil
}

// key charges a property name (goja scans names and copies those that are
// not ASCII).
func (c *toJSConv) key(k string) error { return c.charge(0, len(k)) }

// remember records the script object of a shared node before its children
// are converted, so that a child referring back to it finds it.
func (c *toJSConv) remember(v amf.Value, o goja.Value) {
	if c.seen == nil {
		c.seen = map[any]goja.Value{}
	}
	c.seen[v.Identity()] = o
}

func (c *toJSConv) value(v amf.Value) (goja.Value, error) {
	vm := c.r.vm
	if id := v.Identity(); id != nil {
		if o, ok := c.seen[id]; ok {
			return o, nil
		}
	}
	switch v.Kind() {
	case amf.KindUndefined, amf.KindUnsupported:
		return goja.Undefined(), nil
	case amf.KindNull:
		return goja.Null(), nil
	case amf.KindNumber:
		return vm.ToValue(v.Num()), nil
	case amf.KindBoolean:
		return vm.ToValue(v.Bool()), nil
	case amf.KindString, amf.KindXML, amf.KindXMLDocument:
		return c.str(v.Str())
	case amf.KindDate:
		if err := c.charge(1, 0); err != nil {
			return nil, err
		}
		d, err := vm.New(vm.Get("Date"), vm.ToValue(v.Num()))
		if err != nil {
			return goja.Undefined(), nil
		}
		return d, nil
	case amf.KindObject:
		if inner, ok := v.Externalized(); ok {
			return c.value(inner)
		}
		if err := c.charge(1, 0); err != nil {
			return nil, err
		}
		var o *goja.Object
		if ctor := c.r.classes[v.ClassName()]; ctor != nil && v.ClassName() != "" {
			if proto, ok := ctor.Get("prototype").(*goja.Object); ok {
				o = vm.CreateObject(proto)
			}
		}
		if o == nil {
			o = vm.NewObject()
		}
		c.remember(v, o)
		return o, c.props(o, v.Props())
	case amf.KindECMAArray, amf.KindStrictArray, amf.KindVectorObject,
		amf.KindVectorInt, amf.KindVectorUint, amf.KindVectorDouble:
		if err := c.charge(1, 0); err != nil {
			return nil, err
		}
		a := vm.NewArray()
		c.remember(v, a)
		for i, e := range v.Elems() {
			ev, err := c.value(e)
			if err != nil {
				return nil, err
			}
			if err := a.Set(strconv.Itoa(i), ev); err != nil {
				return nil, err
			}
		}
		return a, c.props(a, v.Props()) // the named part of mixed arrays
	case amf.KindByteArray:
		if err := c.charge(1, len(v.Bytes())); err != nil {
			return nil, err
		}
		b := vm.ToValue(vm.NewArrayBuffer(append([]byte(nil), v.Bytes()...)))
		c.remember(v, b)
		return b, nil
	case amf.KindDictionary:
		if err := c.charge(1, 0); err != nil {
			return nil, err
		}
		o := vm.NewObject()
		c.remember(v, o)
		for _, e := range v.Entries() {
			k := e.Key.String()
			if err := c.key(k); err != nil {
				return nil, err
			}
			ev, err := c.value(e.Value)
			if err != nil {
				return nil, err
			}
			_ = o.Set(k, ev)
		}
		return o, nil
	}
	return goja.Undefined(), nil
}

func (c *toJSConv) props(o *goja.Object, props []amf.Prop) error {
	for _, p := range props {
		if err := c.key(p.Key); err != nil {
			return err
		}
		pv, err := c.value(p.Value)
		if err != nil {
			return err
		}
		_ = o.Set(p.Key, pv)
	}
	return nil
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
func (r *Runtime) infoObject(code, desc string, extra ...any) *goja.Object {
	o := r.vm.NewObject()
	_ = o.Set("level", status.Level(code))
	_ = o.Set("code", code)
	if desc != "" {
		_ = o.Set("description", desc)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		_ = o.Set(extra[i].(string), extra[i+1])
	}
	return o
}
