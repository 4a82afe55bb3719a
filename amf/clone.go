package amf

import "math"

// Clone returns a deep copy of v: reference kinds get new shared state, and
// sharing and cycles inside v are reproduced in the copy (each node is copied
// once). Strings and ByteArray contents are copied too, so the result does not
// alias a decoder's input. Traits are immutable and stay shared.
func Clone(v Value) Value {
	c := cloner{}
	return c.value(v)
}

type cloner struct {
	done map[*node]*node
}

func (c *cloner) value(v Value) Value {
	switch v.kind {
	case KindString, KindXML, KindXMLDocument:
		v.str = string([]byte(v.str))
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
			n.props[i] = Prop{Key: string([]byte(p.Key)), Value: c.value(p.Value)}
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

// Int returns a number's value as an integer when it is finite, integral and
// within ±2^53 (exactly representable), else false. Use it, and then check
// the range the protocol allows, wherever a Number becomes an integer
// (transaction ids, stream ids, durations; amf.md §6 rule 9): Go's
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
