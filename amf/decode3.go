package amf

import "encoding/binary"

// AMF3 markers (docs/amf.md#amf3-markers).
const (
	m3Undefined    = 0x00
	m3Null         = 0x01
	m3False        = 0x02
	m3True         = 0x03
	m3Integer      = 0x04
	m3Double       = 0x05
	m3String       = 0x06
	m3XMLDocument  = 0x07
	m3Date         = 0x08
	m3Array        = 0x09
	m3Object       = 0x0A
	m3XML          = 0x0B
	m3ByteArray    = 0x0C
	m3VectorInt    = 0x0D
	m3VectorUint   = 0x0E
	m3VectorDouble = 0x0F
	m3VectorObject = 0x10
	m3Dictionary   = 0x11
)

// u29 reads a variable-length integer (docs/amf.md#u29-integers); over-long forms are
// accepted.
func (d *Decoder) u29() (uint32, bool) {
	var n uint32
	for range 3 {
		if d.pos >= len(d.b) {
			return 0, false
		}
		c := d.b[d.pos]
		d.pos++
		if c&0x80 == 0 {
			return n<<7 | uint32(c), true
		}
		n = n<<7 | uint32(c&0x7f)
	}
	if d.pos >= len(d.b) {
		return 0, false
	}
	c := d.b[d.pos]
	d.pos++
	return n<<8 | uint32(c), true
}

// str3 reads a U29S string (docs/amf.md#amf3-strings) and maintains the string table.
func (d *Decoder) str3(what string) (string, error) {
	off := d.pos
	h, ok := d.u29()
	if !ok {
		return "", d.truncated(off, "amf3", what)
	}
	if h&1 == 0 {
		i := int(h >> 1)
		if i >= len(d.strs3) {
			return "", d.errf(off, ErrBadReference, "amf3: string reference %d out of range (table has %d)", i, len(d.strs3))
		}
		return d.strs3[i], nil
	}
	n := uint64(h >> 1)
	if n == 0 {
		return "", nil // never added, never referenced
	}
	if err := d.lenCheck(off, n, "amf3", what); err != nil {
		return "", err
	}
	if len(d.strs3) >= d.lim.MaxRefs {
		return "", d.errf(off, ErrTooLarge, "amf3: more than %d strings", d.lim.MaxRefs)
	}
	s := d.str(int(n))
	d.strs3 = append(d.strs3, s)
	return s, nil
}

// objRef resolves an object-table reference.
func (d *Decoder) objRef(off int, i int) (Value, error) {
	if i >= len(d.objs3) {
		return Value{}, d.errf(off, ErrBadReference, "amf3: object reference %d out of range (table has %d)", i, len(d.objs3))
	}
	return d.objs3[i], nil
}

// addObj appends to the object table and returns the new entry's index.
func (d *Decoder) addObj(off int, v Value) (int, error) {
	if len(d.objs3) >= d.lim.MaxRefs {
		return 0, d.errf(off, ErrTooLarge, "amf3: more than %d objects", d.lim.MaxRefs)
	}
	d.objs3 = append(d.objs3, v)
	return len(d.objs3) - 1, nil
}

// header reads the U29 after a marker of an object-table kind. It returns
// ref=true and the referenced value, or the inline payload bits (U29 >> 1).
func (d *Decoder) header(start int, what string) (inline uint32, ref bool, v Value, err error) {
	h, ok := d.u29()
	if !ok {
		return 0, false, Value{}, d.truncated(start, "amf3", what)
	}
	if h&1 == 0 {
		v, err = d.objRef(start, int(h>>1))
		return 0, true, v, err
	}
	return h >> 1, false, Value{}, nil
}

// read3 decodes one AMF3 value at d.pos; depth is the number of containers
// around it (AMF0 ones included: a 0x11 switch does not reset it).
func (d *Decoder) read3(depth int) (Value, error) {
	start := d.pos
	if d.pos >= len(d.b) {
		return Value{}, d.truncated(start, "amf3", "value (marker expected)")
	}
	if err := d.count(start, "amf3"); err != nil {
		return Value{}, err
	}
	m := d.b[d.pos]
	d.pos++
	switch m {
	case m3Undefined:
		return Undefined(), nil
	case m3Null:
		return Null(), nil
	case m3False:
		return Bool(false), nil
	case m3True:
		return Bool(true), nil
	case m3Integer:
		u, ok := d.u29()
		if !ok {
			return Value{}, d.truncated(start, "amf3", "integer")
		}
		i := int32(u<<3) >> 3 // sign-extend 29 bits
		return Number(float64(i)), nil
	case m3Double:
		if d.remaining() < 8 {
			return Value{}, d.truncated(start, "amf3", "double")
		}
		f := d.f64()
		d.pos += 8
		return Number(f), nil
	case m3String:
		s, err := d.str3("string")
		if err != nil {
			return Value{}, err
		}
		return String(s), nil
	case m3XMLDocument, m3XML:
		what := "XML"
		kind := KindXML
		if m == m3XMLDocument {
			what, kind = "XMLDocument", KindXMLDocument
		}
		n, ref, v, err := d.header(start, what)
		if ref || err != nil {
			return v, err
		}
		if err := d.lenCheck(start+1, uint64(n), "amf3", what); err != nil {
			return Value{}, err
		}
		v = Value{kind: kind, str: d.str(int(n))}
		if _, err := d.addObj(start, v); err != nil {
			return Value{}, err
		}
		return v, nil
	case m3Date:
		_, ref, v, err := d.header(start, "date")
		if ref || err != nil {
			return v, err
		}
		if d.remaining() < 8 {
			return Value{}, d.truncated(start, "amf3", "date")
		}
		v = Date(d.f64())
		d.pos += 8
		if _, err := d.addObj(start, v); err != nil {
			return Value{}, err
		}
		return v, nil
	case m3Array:
		return d.array3(start, depth)
	case m3Object:
		return d.object3(start, depth)
	case m3ByteArray:
		n, ref, v, err := d.header(start, "ByteArray")
		if ref || err != nil {
			return v, err
		}
		if err := d.lenCheck(start+1, uint64(n), "amf3", "ByteArray"); err != nil {
			return Value{}, err
		}
		p := d.b[d.pos : d.pos+int(n) : d.pos+int(n)]
		d.pos += int(n)
		if !d.AliasInput {
			p = append([]byte(nil), p...)
		}
		v = ByteArray(p)
		if _, err := d.addObj(start, v); err != nil {
			return Value{}, err
		}
		return v, nil
	case m3VectorInt, m3VectorUint, m3VectorDouble, m3VectorObject:
		return d.vector3(start, depth, m)
	case m3Dictionary:
		return d.dict3(start, depth)
	}
	return Value{}, d.errf(start, ErrUnknownMarker, "amf3: unknown marker 0x%02x", m)
}

func (d *Decoder) array3(start, depth int) (Value, error) {
	dense, ref, v, err := d.header(start, "array")
	if ref || err != nil {
		return v, err
	}
	if err := d.countCheck(start+1, uint64(dense), 1, "amf3", "array dense"); err != nil {
		return Value{}, err
	}
	if err := d.depthCheck(start, depth); err != nil {
		return Value{}, err
	}
	n := &node{flags: flagSplit}
	// Reserve the table slot before the members (cycles, docs/amf.md#amf3-reference-tables); the
	// kind is fixed once the first key tells whether there is an
	// associative part, still before any member value is read.
	idx, err := d.addObj(start, Value{})
	if err != nil {
		return Value{}, err
	}
	key, err := d.str3("array key")
	if err != nil {
		return Value{}, err
	}
	v = Value{kind: KindStrictArray, n: n}
	if key != "" {
		v.kind = KindECMAArray
	}
	d.objs3[idx] = v
	pbase := len(d.props)
	for key != "" {
		val, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.props = append(d.props, Prop{Key: key, Value: val})
		if key, err = d.str3("array key"); err != nil {
			return Value{}, err
		}
	}
	n.props = d.takeProps(pbase)
	ebase := len(d.elems)
	for range dense {
		e, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.elems = append(d.elems, e)
	}
	n.elems = d.takeElems(ebase)
	return v, nil
}

func (d *Decoder) object3(start, depth int) (Value, error) {
	h, ok := d.u29()
	if !ok {
		return Value{}, d.truncated(start, "amf3", "object")
	}
	if h&1 == 0 {
		return d.objRef(start, int(h>>1))
	}
	if err := d.depthCheck(start, depth); err != nil {
		return Value{}, err
	}
	var t *Traits
	switch {
	case h&2 == 0: // traits reference
		i := int(h >> 2)
		if i >= len(d.trait3) {
			return Value{}, d.errf(start, ErrBadReference, "amf3: traits reference %d out of range (table has %d)", i, len(d.trait3))
		}
		t = d.trait3[i]
	case h&4 != 0: // externalizable
		class, err := d.str3("class name")
		if err != nil {
			return Value{}, err
		}
		t = &Traits{Class: class, Externalizable: true}
		if err := d.addTraits(start, t); err != nil {
			return Value{}, err
		}
	default:
		count := uint64(h >> 4)
		if err := d.countCheck(start+1, count, 2, "amf3", "sealed member"); err != nil {
			return Value{}, err
		}
		class, err := d.str3("class name")
		if err != nil {
			return Value{}, err
		}
		t = &Traits{Class: class, Dynamic: h&8 != 0}
		if count > 0 {
			t.Sealed = make([]string, 0, count)
			for range count {
				s, err := d.str3("sealed member name")
				if err != nil {
					return Value{}, err
				}
				t.Sealed = append(t.Sealed, s)
			}
		}
		if err := d.addTraits(start, t); err != nil {
			return Value{}, err
		}
	}
	if t.Externalizable {
		if t.Class != ClassArrayCollection && t.Class != ClassObjectProxy {
			return Value{}, d.errf(start, ErrUnsupported, "amf3: externalizable class %q not supported", t.Class)
		}
	} else if err := d.countCheck(start+1, uint64(len(t.Sealed)), 1, "amf3", "sealed member"); err != nil {
		return Value{}, err
	}
	n := &node{class: t.Class, traits: t}
	v := Value{kind: KindObject, n: n}
	if _, err := d.addObj(start, v); err != nil {
		return Value{}, err
	}
	if t.Externalizable {
		inner, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		n.elems = []Value{inner}
		return v, nil
	}
	base := len(d.props)
	for _, name := range t.Sealed {
		val, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.props = append(d.props, Prop{Key: name, Value: val})
	}
	if t.Dynamic {
		for {
			key, err := d.str3("member name")
			if err != nil {
				return Value{}, err
			}
			if key == "" {
				break
			}
			val, err := d.read3(depth + 1)
			if err != nil {
				return Value{}, err
			}
			d.props = append(d.props, Prop{Key: key, Value: val})
		}
	}
	n.props = d.takeProps(base)
	return v, nil
}

func (d *Decoder) addTraits(off int, t *Traits) error {
	if len(d.trait3) >= d.lim.MaxRefs {
		return d.errf(off, ErrTooLarge, "amf3: more than %d traits", d.lim.MaxRefs)
	}
	d.trait3 = append(d.trait3, t)
	return nil
}

func (d *Decoder) vector3(start, depth int, m byte) (Value, error) {
	var kind Kind
	size := 1
	what := "Vector.<Object>"
	switch m {
	case m3VectorInt:
		kind, size, what = KindVectorInt, 4, "Vector.<int>"
	case m3VectorUint:
		kind, size, what = KindVectorUint, 4, "Vector.<uint>"
	case m3VectorDouble:
		kind, size, what = KindVectorDouble, 8, "Vector.<Number>"
	default:
		kind = KindVectorObject
	}
	count, ref, v, err := d.header(start, what)
	if ref || err != nil {
		return v, err
	}
	if d.remaining() < 1 {
		return Value{}, d.truncated(start, "amf3", what)
	}
	var flags uint8
	if d.b[d.pos] != 0 {
		flags = flagFixed
	}
	d.pos++
	if err := d.countCheck(start+1, uint64(count), size, "amf3", what); err != nil {
		return Value{}, err
	}
	if err := d.depthCheck(start, depth); err != nil {
		return Value{}, err
	}
	n := &node{flags: flags}
	v = Value{kind: kind, n: n}
	if kind == KindVectorObject {
		if n.class, err = d.str3("vector type name"); err != nil {
			return Value{}, err
		}
	}
	if _, err := d.addObj(start, v); err != nil {
		return Value{}, err
	}
	if kind != KindVectorObject {
		// Fixed-size items: the count was checked against the bytes present,
		// so the slice can be sized exactly.
		d.values += int(count)
		if d.values > d.lim.MaxElems {
			return Value{}, d.errf(start, ErrTooLarge, "amf3: more than %d values", d.lim.MaxElems)
		}
		n.elems = make([]Value, count)
		for i := range n.elems {
			var f float64
			switch kind {
			case KindVectorInt:
				f = float64(int32(binary.BigEndian.Uint32(d.b[d.pos:])))
			case KindVectorUint:
				f = float64(binary.BigEndian.Uint32(d.b[d.pos:]))
			default:
				f = d.f64()
			}
			d.pos += size
			n.elems[i] = Number(f)
		}
		return v, nil
	}
	base := len(d.elems)
	for range count {
		e, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.elems = append(d.elems, e)
	}
	n.elems = d.takeElems(base)
	return v, nil
}

func (d *Decoder) dict3(start, depth int) (Value, error) {
	count, ref, v, err := d.header(start, "Dictionary")
	if ref || err != nil {
		return v, err
	}
	if d.remaining() < 1 {
		return Value{}, d.truncated(start, "amf3", "Dictionary")
	}
	var flags uint8
	if d.b[d.pos] != 0 {
		flags = flagWeak
	}
	d.pos++
	if err := d.countCheck(start+1, uint64(count), 2, "amf3", "Dictionary entry"); err != nil {
		return Value{}, err
	}
	if err := d.depthCheck(start, depth); err != nil {
		return Value{}, err
	}
	n := &node{flags: flags}
	v = Value{kind: KindDictionary, n: n}
	if _, err := d.addObj(start, v); err != nil {
		return Value{}, err
	}
	n.dict = make([]DictEntry, 0, min(count, 64)) // a claim: grow beyond
	for range count {
		k, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		val, err := d.read3(depth + 1)
		if err != nil {
			return Value{}, err
		}
		n.dict = append(n.dict, DictEntry{Key: k, Value: val})
	}
	return v, nil
}
