package amf

import (
	"math"
	"slices"
	"unsafe"
)

// Clone returns a deep copy of v: reference kinds get new shared state, and
// sharing and cycles inside v are reproduced in the copy (each node is copied
// once). Strings and ByteArray contents are copied too, so the result does not
// alias a decoder's input; a string that AMF3 references repeat is copied once
// (the copy costs what the input did, not the number of references to it).
// Traits are immutable and stay shared.
func Clone(v Value) Value {
	c := cloner{}
	return c.value(v)
}

type cloner struct {
	done map[*node]*node
	strs map[strKey]string
}

// strKey identifies a string by its bytes in memory: an AMF3 string
// reference yields the same bytes, and looking them up must not cost their
// length.
type strKey struct {
	p *byte
	n int
}

// cloneMemoMin is the length from which copied strings are remembered.
const cloneMemoMin = 64

func (c *cloner) str(s string) string {
	if len(s) < cloneMemoMin {
		return string([]byte(s))
	}
	k := strKey{unsafe.StringData(s), len(s)}
	if cp, ok := c.strs[k]; ok {
		return cp
	}
	if c.strs == nil {
		c.strs = make(map[strKey]string)
	}
	cp := string([]byte(s))
	c.strs[k] = cp
	return cp
}

func (c *cloner) value(v Value) Value {
	switch v.kind {
	case KindString, KindXML, KindXMLDocument:
		v.str = c.str(v.str)
		return v
	}
	if v.n == nil {
		return v
	}
	if c.done == nil {
		c.done = make(map[*node]*node)
	}
	if n, ok := c.done[v.n]; ok {
		v.n = n
		return v
	}
	old := v.n
	n := &node{class: old.class, traits: old.traits, flags: old.flags}
	c.done[old] = n
	if old.bytes != nil {
		n.bytes = append([]byte{}, old.bytes...)
	}
	if old.props != nil {
		n.props = make([]Prop, len(old.props))
		for i, p := range old.props {
			n.props[i] = Prop{Key: c.str(p.Key), Value: c.value(p.Value)}
		}
	}
	if old.elems != nil {
		n.elems = make([]Value, len(old.elems))
		for i, e := range old.elems {
			n.elems[i] = c.value(e)
		}
	}
	if old.dict != nil {
		n.dict = make([]DictEntry, len(old.dict))
		for i, e := range old.dict {
			n.dict[i] = DictEntry{Key: c.value(e.Key), Value: c.value(e.Value)}
		}
	}
	v.n = n
	return v
}

// SharesNodes reports whether v reaches one object, array or other
// reference value by two paths (a repeat or a cycle). Each node is visited
// once, so a value built to expand exponentially costs its distinct nodes.
func SharesNodes(v Value) bool {
	seen := map[*node]struct{}{}
	var walk func(v Value) bool
	walk = func(v Value) bool {
		if v.n == nil {
			return false
		}
		if _, ok := seen[v.n]; ok {
			return true
		}
		seen[v.n] = struct{}{}
		for _, p := range v.n.props {
			if walk(p.Value) {
				return true
			}
		}
		if slices.ContainsFunc(v.n.elems, walk) {
			return true
		}
		for _, e := range v.n.dict {
			if walk(e.Key) || walk(e.Value) {
				return true
			}
		}
		return false
	}
	return walk(v)
}

// Int returns a number's value as an integer when it is finite, integral and
// within ±2^53 (exactly representable), else false. Use it, and then check
// the range the protocol allows, wherever a Number becomes an integer
// (transaction ids, stream ids, durations; docs/amf.md#limits): Go's
// float-to-int conversion of NaN or out-of-range values is not meaningful.
func (v Value) Int() (int64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	f := v.num
	const max = 1 << 53
	if f != math.Trunc(f) || f < -max || f > max { // NaN fails f == Trunc(f)
		return 0, false
	}
	return int64(f), true
}
