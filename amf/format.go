package amf

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFormatNodes bounds the debug rendering of shared graphs (docs/amf.md#limits
// rule 6: printing walks the graph as a tree).
const maxFormatNodes = 1000

// String renders v for debugging and logs, e.g.
// `{app: "vod", n: 1, inner: Point{x: 1}}`. It is not AMF. Repeated
// instances on the current path print as <cycle>; output is truncated after
// a bounded number of nodes; invalid UTF-8 is escaped.
func (v Value) String() string {
	f := formatter{}
	f.value(v)
	return f.b.String()
}

type formatter struct {
	b     strings.Builder
	path  []*node
	nodes int
}

func (f *formatter) value(v Value) {
	switch v.kind {
	case KindUndefined:
		f.b.WriteString("undefined")
	case KindNull:
		f.b.WriteString("null")
	case KindUnsupported:
		f.b.WriteString("unsupported")
	case KindBoolean:
		f.b.WriteString(strconv.FormatBool(v.Bool()))
	case KindNumber:
		f.b.WriteString(strconv.FormatFloat(v.num, 'g', -1, 64))
	case KindString:
		f.b.WriteString(strconv.Quote(v.str))
	case KindDate:
		f.b.WriteString("date(")
		f.b.WriteString(strconv.FormatFloat(v.num, 'f', -1, 64))
		f.b.WriteString(")")
	case KindXML, KindXMLDocument:
		f.b.WriteString(v.kind.String())
		f.b.WriteString("(")
		f.b.WriteString(strconv.Quote(v.str))
		f.b.WriteString(")")
	default:
		f.ref(v)
	}
}

func (f *formatter) ref(v Value) {
	if slices.Contains(f.path, v.n) {
		f.b.WriteString("<cycle>")
		return
	}
	f.nodes++
	if f.nodes > maxFormatNodes {
		f.b.WriteString("...")
		return
	}
	f.path = append(f.path, v.n)
	defer func() { f.path = f.path[:len(f.path)-1] }()
	n := v.n
	switch v.kind {
	case KindObject:
		if inner, ok := v.Externalized(); ok {
			f.b.WriteString(n.class)
			f.b.WriteString("(")
			f.value(inner)
			f.b.WriteString(")")
			return
		}
		f.b.WriteString(n.class)
		f.props(n.props)
	case KindECMAArray:
		f.b.WriteString("ecma")
		if len(n.elems) > 0 {
			f.elems(n.elems)
		}
		f.props(n.props)
	case KindStrictArray:
		f.elems(n.elems)
	case KindByteArray:
		f.b.WriteString("bytearray(")
		const max = 64
		for i, c := range n.bytes {
			if i == max {
				f.b.WriteString("...")
				break
			}
			f.b.WriteString(strconv.FormatUint(uint64(c)|0x100, 16)[1:])
		}
		f.b.WriteString(")")
	case KindVectorInt, KindVectorUint, KindVectorDouble, KindVectorObject:
		f.b.WriteString(v.kind.String())
		if n.class != "" {
			f.b.WriteString("<" + n.class + ">")
		}
		f.elems(n.elems)
	case KindDictionary:
		f.b.WriteString("dict{")
		for i, e := range n.dict {
			if i > 0 {
				f.b.WriteString(", ")
			}
			f.value(e.Key)
			f.b.WriteString(": ")
			f.value(e.Value)
		}
		f.b.WriteString("}")
	}
}

func (f *formatter) props(ps []Prop) {
	f.b.WriteString("{")
	for i, p := range ps {
		if i > 0 {
			f.b.WriteString(", ")
		}
		if utf8.ValidString(p.Key) && !strings.ContainsAny(p.Key, " :{}\",") && p.Key != "" {
			f.b.WriteString(p.Key)
		} else {
			f.b.WriteString(strconv.Quote(p.Key))
		}
		f.b.WriteString(": ")
		f.value(p.Value)
	}
	f.b.WriteString("}")
}

func (f *formatter) elems(es []Value) {
	f.b.WriteString("[")
	for i, e := range es {
		if i > 0 {
			f.b.WriteString(", ")
		}
		f.value(e)
	}
	f.b.WriteString("]")
}
