package amf

import (
	"fmt"
	"math"
	"strconv"
)

const (
	maxU29    = 1<<29 - 1
	maxU28    = 1<<28 - 1 // lengths, counts and indices (one bit is the inline flag)
	minInt29  = -1 << 28
	maxInt29  = 1<<28 - 1
	u29IntMsk = 0x1FFFFFFF
)

// appendU29 writes n (0 ≤ n ≤ 2^29-1) in its shortest form (docs/amf.md#u29-integers).
func appendU29(b []byte, n uint32) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x4000:
		return append(b, byte(0x80|n>>7), byte(n&0x7f))
	case n < 0x200000:
		return append(b, byte(0x80|n>>14), byte(0x80|(n>>7)&0x7f), byte(n&0x7f))
	}
	return append(b, byte(0x80|n>>22), byte(0x80|(n>>15)&0x7f), byte(0x80|(n>>8)&0x7f), byte(n))
}

// inlineLen encodes a length or count with the inline flag.
func inlineLen(b []byte, n int, what string) ([]byte, error) {
	if n > maxU28 {
		return b, fmt.Errorf("amf3: %s of %d exceeds 2^28-1: %w", what, n, ErrTooLarge)
	}
	return appendU29(b, uint32(n)<<1|1), nil
}

// isInt29 reports whether f is written as AMF3 integer: integral, in range,
// and not -0 (docs/amf.md#u29-integers).
func isInt29(f float64) bool {
	return f >= minInt29 && f <= maxInt29 && f == math.Trunc(f) && !(f == 0 && math.Signbit(f))
}

func (e *Encoder) str3(b []byte, s string) ([]byte, error) {
	if s == "" {
		return append(b, 0x01), nil
	}
	if i, ok := e.strs.find(s); ok {
		return appendU29(b, uint32(i)<<1), nil
	}
	if err := e.room(b, 4+len(s)); err != nil {
		return b, err
	}
	b, err := inlineLen(b, len(s), "string length")
	if err != nil {
		return b, err
	}
	e.strs.add(s)
	return append(b, s...), nil
}

func (e *Encoder) write3(b []byte, v Value, depth int) ([]byte, error) {
	switch v.kind {
	case KindUndefined, KindUnsupported:
		return append(b, m3Undefined), nil
	case KindNull:
		return append(b, m3Null), nil
	case KindBoolean:
		if v.num != 0 {
			return append(b, m3True), nil
		}
		return append(b, m3False), nil
	case KindNumber:
		if isInt29(v.num) {
			return appendU29(append(b, m3Integer), uint32(int32(v.num))&u29IntMsk), nil
		}
		return appendF64(append(b, m3Double), v.num), nil
	case KindString:
		return e.str3(append(b, m3String), v.str)
	case KindXML, KindXMLDocument:
		m := byte(m3XML)
		if v.kind == KindXMLDocument {
			m = m3XMLDocument
		}
		if err := e.room(b, 5+len(v.str)); err != nil {
			return b, err
		}
		b, err := inlineLen(append(b, m), len(v.str), "XML length")
		if err != nil {
			return b, err
		}
		e.n3++ // XML takes an object-table slot; it is never referenced here
		return append(b, v.str...), nil
	case KindDate:
		e.n3++
		return appendF64(append(b, m3Date, 0x01), v.num), nil
	}
	return e.complex3(b, v, depth)
}

func (e *Encoder) complex3(b []byte, v Value, depth int) ([]byte, error) {
	var m byte
	switch v.kind {
	case KindObject:
		m = m3Object
	case KindECMAArray, KindStrictArray:
		m = m3Array
	case KindByteArray:
		m = m3ByteArray
	case KindVectorInt:
		m = m3VectorInt
	case KindVectorUint:
		m = m3VectorUint
	case KindVectorDouble:
		m = m3VectorDouble
	case KindVectorObject:
		m = m3VectorObject
	case KindDictionary:
		m = m3Dictionary
	default:
		return b, fmt.Errorf("amf3: cannot encode kind %d: %w", v.kind, ErrUnsupported)
	}
	b = append(b, m)
	n := v.n
	// AMF3 peers all read references, so every repeat is one (docs/amf.md#amf3-reference-tables);
	// that also makes cycles and shared graphs cheap.
	if i, ok := e.seen3.find(n); ok {
		if i > maxU28 {
			return b, fmt.Errorf("amf3: object reference %d exceeds 2^28-1: %w", i, ErrTooLarge)
		}
		return appendU29(b, uint32(i)<<1), nil
	}
	if v.kind != KindByteArray && depth >= e.lim.MaxDepth {
		return b, fmt.Errorf("amf: nesting deeper than %d: %w", e.lim.MaxDepth, ErrTooDeep)
	}
	e.seen3.add(n, e.n3)
	e.n3++
	var err error
	switch v.kind {
	case KindByteArray:
		if err := e.room(b, 4+len(n.bytes)); err != nil {
			return b, err
		}
		if b, err = inlineLen(b, len(n.bytes), "ByteArray length"); err != nil {
			return b, err
		}
		return append(b, n.bytes...), nil
	case KindStrictArray, KindECMAArray:
		return e.array3(b, v, depth)
	case KindObject:
		return e.object3(b, n, depth)
	case KindDictionary:
		if b, err = inlineLen(b, len(n.dict), "Dictionary count"); err != nil {
			return b, err
		}
		weak := byte(0)
		if n.flags&flagWeak != 0 {
			weak = 1
		}
		b = append(b, weak)
		for _, en := range n.dict {
			if b, err = e.write3(b, en.Key, depth+1); err != nil {
				return b, err
			}
			if b, err = e.write3(b, en.Value, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	// vectors
	if b, err = inlineLen(b, len(n.elems), "vector count"); err != nil {
		return b, err
	}
	b = append(b, n.flags&flagFixed)
	switch v.kind {
	case KindVectorInt:
		for i, el := range n.elems {
			f := el.num
			if el.kind != KindNumber || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
				return b, fmt.Errorf("amf3: Vector.<int> element %d is not an int: %w", i, ErrMalformed)
			}
			b = appendU32(b, uint32(int32(f)))
		}
	case KindVectorUint:
		for i, el := range n.elems {
			f := el.num
			if el.kind != KindNumber || f != math.Trunc(f) || f < 0 || f > math.MaxUint32 {
				return b, fmt.Errorf("amf3: Vector.<uint> element %d is not a uint: %w", i, ErrMalformed)
			}
			b = appendU32(b, uint32(f))
		}
	case KindVectorDouble:
		for i, el := range n.elems {
			if el.kind != KindNumber {
				return b, fmt.Errorf("amf3: Vector.<Number> element %d is a %s: %w", i, el.kind, ErrMalformed)
			}
			b = appendF64(b, el.num)
		}
	case KindVectorObject:
		if b, err = e.str3(b, n.class); err != nil {
			return b, err
		}
		for _, el := range n.elems {
			if b, err = e.write3(b, el, depth+1); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

// array3 writes the body of an AMF3 array (docs/amf.md#amf3-array, docs/amf.md#converting-between-amf0-and-amf3).
func (e *Encoder) array3(b []byte, v Value, depth int) ([]byte, error) {
	n := v.n
	dense, assoc := n.elems, n.props
	var keyed []Prop // dense part taken from an AMF0-style ECMA array
	if v.kind == KindECMAArray && n.flags&flagSplit == 0 && len(n.elems) == 0 {
		// Decimal keys 0..k-1 leading the property list become the dense
		// part; everything else stays associative. Only a leading run is
		// taken so that the conversion stays linear.
		var tmp [20]byte
		k := 0
		for k < len(assoc) && assoc[k].Key == string(strconv.AppendInt(tmp[:0], int64(k), 10)) {
			k++
		}
		keyed, assoc = assoc[:k], assoc[k:]
	}
	count := len(dense) + len(keyed)
	b, err := inlineLen(b, count, "array count")
	if err != nil {
		return b, err
	}
	for _, p := range assoc {
		if p.Key == "" {
			return b, fmt.Errorf("amf3: empty array key cannot be encoded: %w", ErrUnsupported)
		}
		if b, err = e.str3(b, p.Key); err != nil {
			return b, err
		}
		if b, err = e.write3(b, p.Value, depth+1); err != nil {
			return b, err
		}
	}
	b = append(b, 0x01)
	for _, el := range dense {
		if b, err = e.write3(b, el, depth+1); err != nil {
			return b, err
		}
	}
	for _, p := range keyed {
		if b, err = e.write3(b, p.Value, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

// object3 writes an AMF3 object after its marker (docs/amf.md#amf3-objects-and-traits).
func (e *Encoder) object3(b []byte, n *node, depth int) ([]byte, error) {
	t := n.traits
	var err error
	if t == nil {
		// Anonymous or AMF0 typed object: dynamic, no sealed members
		// (docs/amf.md#converting-between-amf0-and-amf3), always inline.
		b = append(b, 0x0b)
		if b, err = e.str3(b, n.class); err != nil {
			return b, err
		}
		// The decoder numbers these inline traits too: take their index
		// so that later traits references point where the decoder looks.
		e.traits.add(nil)
		return e.dynamic3(b, n.props, depth)
	}
	if i, ok := e.traits.find(t); ok {
		b = appendU29(b, uint32(i)<<2|1)
	} else {
		if t.Externalizable {
			b = append(b, 0x07)
		} else {
			if len(t.Sealed) > 1<<25-1 {
				return b, fmt.Errorf("amf3: %d sealed members: %w", len(t.Sealed), ErrTooLarge)
			}
			h := uint32(len(t.Sealed))<<4 | 0x03
			if t.Dynamic {
				h |= 0x08
			}
			b = appendU29(b, h)
		}
		if b, err = e.str3(b, t.Class); err != nil {
			return b, err
		}
		for _, s := range t.Sealed {
			if b, err = e.str3(b, s); err != nil {
				return b, err
			}
		}
		e.traits.add(t)
	}
	if t.Externalizable {
		var inner Value
		if len(n.elems) > 0 {
			inner = n.elems[0]
		}
		return e.write3(b, inner, depth+1)
	}
	if len(n.props) < len(t.Sealed) {
		return b, fmt.Errorf("amf3: object of class %q has %d properties for %d sealed members: %w",
			t.Class, len(n.props), len(t.Sealed), ErrMalformed)
	}
	for _, p := range n.props[:len(t.Sealed)] {
		if b, err = e.write3(b, p.Value, depth+1); err != nil {
			return b, err
		}
	}
	rest := n.props[len(t.Sealed):]
	if !t.Dynamic {
		if len(rest) > 0 {
			return b, fmt.Errorf("amf3: sealed object of class %q has %d extra properties: %w", t.Class, len(rest), ErrMalformed)
		}
		return b, nil
	}
	return e.dynamic3(b, rest, depth)
}

func (e *Encoder) dynamic3(b []byte, props []Prop, depth int) ([]byte, error) {
	var err error
	for _, p := range props {
		if p.Key == "" {
			return b, fmt.Errorf("amf3: empty dynamic member name cannot be encoded: %w", ErrUnsupported)
		}
		if b, err = e.str3(b, p.Key); err != nil {
			return b, err
		}
		if b, err = e.write3(b, p.Value, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, 0x01), nil
}
