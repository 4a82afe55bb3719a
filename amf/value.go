package amf

import (
	"bytes"
	"math"
	"strconv"
)

// Kind is the type of a Value. The zero Kind is KindUndefined, so the zero
// Value is undefined.
type Kind uint8

// The kinds of docs/amf.md#values.
const (
	KindUndefined    Kind = iota // AMF0 0x06, AMF3 0x00
	KindNull                     // AMF0 0x05, AMF3 0x01
	KindNumber                   // AMF0 0x00, AMF3 0x04 / 0x05
	KindBoolean                  // AMF0 0x01, AMF3 0x02 / 0x03
	KindString                   // AMF0 0x02 / 0x0C, AMF3 0x06
	KindObject                   // AMF0 0x03 / 0x10, AMF3 0x0A
	KindECMAArray                // AMF0 0x08, AMF3 0x09 with an associative part
	KindStrictArray              // AMF0 0x0A, AMF3 0x09 dense only
	KindDate                     // AMF0 0x0B, AMF3 0x08
	KindXML                      // AMF3 0x0B (E4X XML)
	KindXMLDocument              // AMF0 0x0F, AMF3 0x07
	KindByteArray                // AMF3 0x0C
	KindVectorInt                // AMF3 0x0D
	KindVectorUint               // AMF3 0x0E
	KindVectorDouble             // AMF3 0x0F
	KindVectorObject             // AMF3 0x10
	KindDictionary               // AMF3 0x11
	KindUnsupported              // AMF0 0x0D
)

var kindNames = [...]string{
	KindUndefined:    "undefined",
	KindNull:         "null",
	KindNumber:       "number",
	KindBoolean:      "boolean",
	KindString:       "string",
	KindObject:       "object",
	KindECMAArray:    "ecma-array",
	KindStrictArray:  "strict-array",
	KindDate:         "date",
	KindXML:          "xml",
	KindXMLDocument:  "xml-document",
	KindByteArray:    "bytearray",
	KindVectorInt:    "vector-int",
	KindVectorUint:   "vector-uint",
	KindVectorDouble: "vector-double",
	KindVectorObject: "vector-object",
	KindDictionary:   "dictionary",
	KindUnsupported:  "unsupported",
}

// String returns the kind's name, e.g. "ecma-array".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// isRef reports whether values of kind k point to shared state (and so can
// be shared, be cyclic and be written as references).
func (k Kind) isRef() bool {
	switch k {
	case KindObject, KindECMAArray, KindStrictArray, KindByteArray,
		KindVectorInt, KindVectorUint, KindVectorDouble, KindVectorObject, KindDictionary:
		return true
	}
	return false
}

// Prop is one named property of an object or ECMA array.
type Prop struct {
	Key   string
	Value Value
}

// DictEntry is one entry of an AMF3 Dictionary; keys are full values.
type DictEntry struct {
	Key   Value
	Value Value
}

// Traits describe an AMF3 object's class (docs/amf.md#amf3-objects-and-traits). Objects decoded from
// AMF3 carry the traits they arrived with and share one *Traits per traits
// block, so re-encoding them writes the same sealed members and traits
// references. Treat a Traits as immutable once used by a value.
type Traits struct {
	Class          string   // alias; "" for anonymous objects
	Sealed         []string // sealed member names in declaration order
	Dynamic        bool     // dynamic members follow the sealed ones
	Externalizable bool     // the body is class-specific (only Flex wrappers are supported)
}

// Flex wrapper classes whose externalizable body is exactly one AMF3 value
// (docs/amf.md#amf3-objects-and-traits).
const (
	ClassArrayCollection = "flex.messaging.io.ArrayCollection"
	ClassObjectProxy     = "flex.messaging.io.ObjectProxy"
)

// node flags
const (
	flagFixed uint8 = 1 << iota // vector: fixed length
	flagWeak                    // dictionary: weak keys
	flagSplit                   // array: props are exactly the associative part, elems the dense part
)

// node is the shared state behind reference kinds.
type node struct {
	class  string  // object class name; Vector.<Object> element type name
	traits *Traits // AMF3 traits; nil = dynamic with class, no sealed members
	props  []Prop  // object / ECMA array properties (sealed first)
	elems  []Value // arrays (dense part), vectors; [inner] for externalizable objects
	bytes  []byte  // ByteArray contents
	dict   []DictEntry
	flags  uint8
}

// Value is one AMF value. The zero Value is undefined. Values are small and
// copied by value; reference kinds (objects, arrays, byte arrays, vectors,
// dictionaries) share their contents between copies.
type Value struct {
	kind Kind
	num  float64 // number, date (ms since epoch), boolean (0/1)
	str  string  // string, XML text
	n    *node   // reference kinds
}

// Number returns a number value.
func Number(f float64) Value { return Value{kind: KindNumber, num: f} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBoolean, num: 1}
	}
	return Value{kind: KindBoolean}
}

// String returns a string value. Strings are byte strings: invalid UTF-8 is
// kept as is (docs/amf.md#limits).
func String(s string) Value { return Value{kind: KindString, str: s} }

// Null returns null.
func Null() Value { return Value{kind: KindNull} }

// Undefined returns undefined (the zero Value).
func Undefined() Value { return Value{} }

// Unsupported returns the AMF0 "unsupported" value (0x0D).
func Unsupported() Value { return Value{kind: KindUnsupported} }

// XML returns an E4X XML value (AMF3 0x0B; AMF0 0x0F).
func XML(text string) Value { return Value{kind: KindXML, str: text} }

// XMLDocument returns a legacy XMLDocument value (AMF0 0x0F, AMF3 0x07).
func XMLDocument(text string) Value { return Value{kind: KindXMLDocument, str: text} }

// Date returns a date, in milliseconds since 1970-01-01 UTC.
func Date(msSinceEpoch float64) Value { return Value{kind: KindDate, num: msSinceEpoch} }

// Object returns a new anonymous object with the given properties in order.
// The object keeps props (it does not copy the slice).
func Object(props ...Prop) Value {
	return Value{kind: KindObject, n: &node{props: props}}
}

// TypedObject returns a new object of the named class (AMF0 0x10; AMF3 traits
// with that alias, dynamic, no sealed members).
func TypedObject(class string, props ...Prop) Value {
	return Value{kind: KindObject, n: &node{class: class, props: props}}
}

// ObjectWithTraits returns a new object with explicit AMF3 traits. The first
// len(t.Sealed) props are the sealed members (their keys should equal
// t.Sealed); any further props are dynamic members and need t.Dynamic.
func ObjectWithTraits(t *Traits, props ...Prop) Value {
	return Value{kind: KindObject, n: &node{class: t.Class, traits: t, props: props}}
}

// Externalizable returns an AMF3 externalizable object of the given class
// whose body is the single value inner; only ClassArrayCollection and
// ClassObjectProxy are understood by Flash peers and this decoder.
func Externalizable(class string, inner Value) Value {
	t := &Traits{Class: class, Externalizable: true}
	return Value{kind: KindObject, n: &node{class: class, traits: t, elems: []Value{inner}}}
}

// ECMAArray returns a new ECMA (associative) array with the given entries.
func ECMAArray(props ...Prop) Value {
	return Value{kind: KindECMAArray, n: &node{props: props}}
}

// MixedArray returns an AMF3-style array with a dense part and an
// associative part. With no associative entries it is a strict array.
func MixedArray(dense []Value, assoc ...Prop) Value {
	if len(assoc) == 0 {
		return StrictArray(dense...)
	}
	return Value{kind: KindECMAArray, n: &node{props: assoc, elems: dense, flags: flagSplit}}
}

// StrictArray returns a new dense array. It keeps elems.
func StrictArray(elems ...Value) Value {
	return Value{kind: KindStrictArray, n: &node{elems: elems}}
}

// ByteArray returns an AMF3 ByteArray holding b (not copied).
func ByteArray(b []byte) Value {
	return Value{kind: KindByteArray, n: &node{bytes: b}}
}

func vecFlags(fixed bool) uint8 {
	if fixed {
		return flagFixed
	}
	return 0
}

// VectorInt returns an AMF3 Vector.<int>.
func VectorInt(fixed bool, elems ...int32) Value {
	vs := make([]Value, len(elems))
	for i, e := range elems {
		vs[i] = Number(float64(e))
	}
	return Value{kind: KindVectorInt, n: &node{elems: vs, flags: vecFlags(fixed)}}
}

// VectorUint returns an AMF3 Vector.<uint>.
func VectorUint(fixed bool, elems ...uint32) Value {
	vs := make([]Value, len(elems))
	for i, e := range elems {
		vs[i] = Number(float64(e))
	}
	return Value{kind: KindVectorUint, n: &node{elems: vs, flags: vecFlags(fixed)}}
}

// VectorDouble returns an AMF3 Vector.<Number>.
func VectorDouble(fixed bool, elems ...float64) Value {
	vs := make([]Value, len(elems))
	for i, e := range elems {
		vs[i] = Number(e)
	}
	return Value{kind: KindVectorDouble, n: &node{elems: vs, flags: vecFlags(fixed)}}
}

// VectorObject returns an AMF3 Vector.<T> of values; typeName is the element
// class alias ("" or "*" for untyped vectors).
func VectorObject(fixed bool, typeName string, elems ...Value) Value {
	return Value{kind: KindVectorObject, n: &node{class: typeName, elems: elems, flags: vecFlags(fixed)}}
}

// Dictionary returns an AMF3 Dictionary.
func Dictionary(weakKeys bool, entries ...DictEntry) Value {
	var f uint8
	if weakKeys {
		f = flagWeak
	}
	return Value{kind: KindDictionary, n: &node{dict: entries, flags: f}}
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// IsUndefined reports whether v is undefined.
func (v Value) IsUndefined() bool { return v.kind == KindUndefined }

// Num returns the number of a number or the milliseconds of a date, else 0.
// It may be NaN or infinite: check before converting to an integer.
func (v Value) Num() float64 {
	if v.kind == KindNumber || v.kind == KindDate {
		return v.num
	}
	return 0
}

// Bool returns the value of a boolean (false for other kinds).
func (v Value) Bool() bool { return v.kind == KindBoolean && v.num != 0 }

// Str returns the text of a string or XML value, else "".
func (v Value) Str() string {
	switch v.kind {
	case KindString, KindXML, KindXMLDocument:
		return v.str
	}
	return ""
}

// Bytes returns the contents of a ByteArray (shared, not copied), else nil.
func (v Value) Bytes() []byte {
	if v.kind == KindByteArray {
		return v.n.bytes
	}
	return nil
}

// ClassName returns an object's class name ("" for anonymous objects) or a
// Vector.<Object>'s element type name; "" for other kinds.
func (v Value) ClassName() string {
	if v.kind == KindObject || v.kind == KindVectorObject {
		return v.n.class
	}
	return ""
}

// Traits returns the AMF3 traits an object came with or was built with, or
// nil (anonymous or typed object without explicit traits).
func (v Value) Traits() *Traits {
	if v.kind == KindObject {
		return v.n.traits
	}
	return nil
}

// Externalized returns the wrapped value of an externalizable object
// (ArrayCollection, ObjectProxy) and true, or Undefined and false.
func (v Value) Externalized() (Value, bool) {
	if v.kind == KindObject && v.n.traits != nil && v.n.traits.Externalizable {
		if len(v.n.elems) > 0 {
			return v.n.elems[0], true
		}
		return Value{}, true
	}
	return Value{}, false
}

// Props returns the properties of an object (sealed then dynamic) or the
// named entries of an ECMA array, in order. The slice is shared: do not
// modify its keys.
func (v Value) Props() []Prop {
	if v.kind == KindObject || v.kind == KindECMAArray {
		return v.n.props
	}
	return nil
}

// Elems returns the elements of a strict array, the dense part of an ECMA
// array that came as an AMF3 array, or a vector's elements (numbers for
// int/uint/double vectors). The slice is shared.
func (v Value) Elems() []Value {
	switch v.kind {
	case KindStrictArray, KindECMAArray, KindVectorInt, KindVectorUint, KindVectorDouble, KindVectorObject:
		return v.n.elems
	}
	return nil
}

// Entries returns a Dictionary's entries, else nil.
func (v Value) Entries() []DictEntry {
	if v.kind == KindDictionary {
		return v.n.dict
	}
	return nil
}

// Fixed reports whether a vector is fixed-length.
func (v Value) Fixed() bool {
	return v.n != nil && v.kind != KindDictionary && v.n.flags&flagFixed != 0
}

// WeakKeys reports whether a Dictionary was created with weak keys.
func (v Value) WeakKeys() bool { return v.kind == KindDictionary && v.n.flags&flagWeak != 0 }

// Len returns the number of properties, elements or entries of a reference
// kind (props plus dense elements for ECMA arrays), the byte length of a
// ByteArray, else 0.
func (v Value) Len() int {
	switch v.kind {
	case KindObject:
		return len(v.n.props)
	case KindECMAArray:
		return len(v.n.props) + len(v.n.elems)
	case KindByteArray:
		return len(v.n.bytes)
	case KindDictionary:
		return len(v.n.dict)
	case KindStrictArray, KindVectorInt, KindVectorUint, KindVectorDouble, KindVectorObject:
		return len(v.n.elems)
	}
	return 0
}

// denseIndex parses a canonical decimal array index ("0", "17", not "01").
func denseIndex(key string) (int, bool) {
	if key == "" || len(key) > 9 || (key[0] == '0' && len(key) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Get returns the named property of an object or ECMA array (dense elements
// of an AMF3 array answer to their decimal index), or the entry of a
// Dictionary whose key is that string. It returns Undefined when absent or
// when v has no properties.
func (v Value) Get(key string) Value {
	switch v.kind {
	case KindObject, KindECMAArray:
		for i := range v.n.props {
			if v.n.props[i].Key == key {
				return v.n.props[i].Value
			}
		}
		if v.kind == KindECMAArray && len(v.n.elems) > 0 {
			if i, ok := denseIndex(key); ok && i < len(v.n.elems) {
				return v.n.elems[i]
			}
		}
	case KindDictionary:
		for i := range v.n.dict {
			if k := v.n.dict[i].Key; k.kind == KindString && k.str == key {
				return v.n.dict[i].Value
			}
		}
	}
	return Value{}
}

// Has reports whether Get(key) would find a property.
func (v Value) Has(key string) bool {
	switch v.kind {
	case KindObject, KindECMAArray:
		for i := range v.n.props {
			if v.n.props[i].Key == key {
				return true
			}
		}
		if v.kind == KindECMAArray {
			if i, ok := denseIndex(key); ok && i < len(v.n.elems) {
				return true
			}
		}
	case KindDictionary:
		for i := range v.n.dict {
			if k := v.n.dict[i].Key; k.kind == KindString && k.str == key {
				return true
			}
		}
	}
	return false
}

// Set sets a property of an object or ECMA array: it replaces the value in
// place when the key exists (keeping the order) and appends it otherwise.
// Adding a property to an AMF3 object whose traits are sealed-only gives it
// dynamic traits so it still encodes. Set does nothing on other kinds and on
// externalizable objects.
func (v Value) Set(key string, val Value) {
	if v.kind != KindObject && v.kind != KindECMAArray {
		return
	}
	n := v.n
	for i := range n.props {
		if n.props[i].Key == key {
			n.props[i].Value = val
			return
		}
	}
	if v.kind == KindECMAArray && len(n.elems) > 0 {
		if i, ok := denseIndex(key); ok && i < len(n.elems) {
			n.elems[i] = val
			return
		}
	}
	if t := n.traits; t != nil {
		if t.Externalizable {
			return
		}
		if !t.Dynamic {
			n.traits = &Traits{Class: t.Class, Sealed: t.Sealed, Dynamic: true}
		}
	}
	n.props = append(n.props, Prop{Key: key, Value: val})
}

// Delete removes a dynamic property of an object or a named entry of an ECMA
// array and reports whether it was present. Sealed AMF3 members cannot be
// deleted (as in ActionScript).
func (v Value) Delete(key string) bool {
	if v.kind != KindObject && v.kind != KindECMAArray {
		return false
	}
	n := v.n
	sealed := 0
	if n.traits != nil {
		sealed = len(n.traits.Sealed)
	}
	for i := sealed; i < len(n.props); i++ {
		if n.props[i].Key == key {
			copy(n.props[i:], n.props[i+1:])
			n.props[len(n.props)-1] = Prop{}
			n.props = n.props[:len(n.props)-1]
			return true
		}
	}
	return false
}

// Append adds elements to a strict array or vector.
func (v Value) Append(elems ...Value) {
	switch v.kind {
	case KindStrictArray, KindVectorInt, KindVectorUint, KindVectorDouble, KindVectorObject:
		v.n.elems = append(v.n.elems, elems...)
	}
}

// Identity returns a comparable key for the shared state of a reference
// kind (object, array, ByteArray, vector, dictionary) and nil for other
// kinds: two values have equal non-nil identities exactly when Same reports
// them as one instance. Converters key a memo on it so that a node shared by
// references is converted once and a cycle ends.
func (v Value) Identity() any {
	if v.kind.isRef() && v.n != nil {
		return v.n
	}
	return nil
}

// Same reports whether a and b are the same instance (for reference kinds)
// or equal scalars; it is the identity test the encoders use for references.
func Same(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	if a.kind.isRef() {
		return a.n == b.n
	}
	return Equal(a, b)
}

// Equal reports whether a and b are deeply equal: same kinds, numbers with
// the same bits (any NaN equals any NaN), same strings, class names, traits,
// property order and elements. It handles shared and cyclic graphs.
func Equal(a, b Value) bool {
	var st eqState
	return st.eq(a, b)
}

type eqState struct {
	seen map[[2]*node]struct{}
}

func numEq(x, y float64) bool {
	if x != x || y != y {
		return x != x && y != y
	}
	return math.Float64bits(x) == math.Float64bits(y)
}

// traitsOf returns the effective traits of an object node.
func traitsOf(n *node) Traits {
	if n.traits != nil {
		return *n.traits
	}
	return Traits{Class: n.class, Dynamic: true}
}

func traitsEq(x, y Traits) bool {
	if x.Class != y.Class || x.Dynamic != y.Dynamic || x.Externalizable != y.Externalizable || len(x.Sealed) != len(y.Sealed) {
		return false
	}
	for i := range x.Sealed {
		if x.Sealed[i] != y.Sealed[i] {
			return false
		}
	}
	return true
}

func (st *eqState) eq(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindUndefined, KindNull, KindUnsupported:
		return true
	case KindNumber, KindDate, KindBoolean:
		return numEq(a.num, b.num)
	case KindString, KindXML, KindXMLDocument:
		return a.str == b.str
	}
	x, y := a.n, b.n
	if x == y {
		return true
	}
	// Coinductive: a pair already under comparison is assumed equal; any
	// real difference makes the whole comparison false anyway.
	if st.seen == nil {
		st.seen = make(map[[2]*node]struct{})
	}
	k := [2]*node{x, y}
	if _, ok := st.seen[k]; ok {
		return true
	}
	st.seen[k] = struct{}{}
	if x.class != y.class || x.flags&^flagSplit != y.flags&^flagSplit || !bytes.Equal(x.bytes, y.bytes) ||
		len(x.props) != len(y.props) || len(x.elems) != len(y.elems) || len(x.dict) != len(y.dict) {
		return false
	}
	if a.kind == KindObject && !traitsEq(traitsOf(x), traitsOf(y)) {
		return false
	}
	for i := range x.props {
		if x.props[i].Key != y.props[i].Key || !st.eq(x.props[i].Value, y.props[i].Value) {
			return false
		}
	}
	for i := range x.elems {
		if !st.eq(x.elems[i], y.elems[i]) {
			return false
		}
	}
	for i := range x.dict {
		if !st.eq(x.dict[i].Key, y.dict[i].Key) || !st.eq(x.dict[i].Value, y.dict[i].Value) {
			return false
		}
	}
	return true
}
