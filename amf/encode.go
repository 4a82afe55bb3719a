package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Encoder writes AMF0 and AMF3 with reusable reference tables. The zero
// Encoder is ready to use. One Encoder between two Reset calls writes one
// message body: AMF0 reference indices count across its AppendAMF0 calls
// (docs/amf.md#amf0-references). AMF3 tables are fresh for every AppendAMF3 call and every
// 0x11-switched value (docs/amf.md#amf3-reference-tables: no reference crosses from one argument to
// the next). Small tables live inside the Encoder, so encoding values with
// few distinct objects and strings does not allocate. Not safe for
// concurrent use.
type Encoder struct {
	// Limits: MaxDepth bounds nesting and MaxExpand the complex values
	// written per AppendAMF0 call when repeats are duplicated; zero fields
	// take their defaults.
	Limits Limits
	// ShareRepeats makes AMF0 output use a 0x07 reference for every repeated
	// object or array, as Flash Player does. Off by default: only cycles use
	// references and other repeats are written again, because ffmpeg and
	// librtmp cannot read references (docs/amf.md#amf0-references).
	ShareRepeats bool
	// SwitchComplex makes AppendAMF0Switched write every complex value
	// (object, array, date, XML, ...) as 0x11 + AMF3, as Flash Player 9+
	// does for its arguments; scalars stay AMF0.
	SwitchComplex bool
	// SwitchAll makes AppendAMF0Switched write every value, scalars
	// included, as 0x11 + AMF3 (what Flash Player writes for the arguments of
	// an AMF3 call, docs/amf.md#test-vectors). Names, transaction ids and the command
	// object stay plain AMF0: encode them with AppendAMF0.
	SwitchAll bool

	lim Limits
	// start is len(b) when the current Append call began: MaxBytes bounds
	// what one call writes.
	start int

	// AMF0 body state.
	n0     int      // complex values written so far in this body
	seen0  refTable // ShareRepeats: every complex value written
	path   pathStack
	expand int

	// AMF3 state, per top-level or switched value.
	n3     int
	seen3  refTable
	strs   strTable
	traits traitTable
}

// Reset starts a new message body.
func (e *Encoder) Reset() {
	e.n0 = 0
	e.seen0.reset()
	e.path.reset()
	e.resetAMF3()
}

func (e *Encoder) resetAMF3() {
	e.n3 = 0
	e.seen3.reset()
	e.strs.reset()
	e.traits.reset()
}

// AppendAMF0 appends v as a standalone AMF0 value (the first value of a
// body). Use an Encoder, or AppendAMF0Values, to encode several values of
// one body: AMF0 reference indices count across the body.
func AppendAMF0(b []byte, v Value) ([]byte, error) {
	var e Encoder
	return e.AppendAMF0(b, v)
}

// AppendAMF0Values appends the values of one message body (e.g. a command:
// name, transaction id, command object, arguments).
func AppendAMF0Values(b []byte, vs ...Value) ([]byte, error) {
	var e Encoder
	var err error
	for _, v := range vs {
		if b, err = e.AppendAMF0(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// AppendAMF3 appends v as a standalone AMF3 value (as ByteArray.writeObject).
func AppendAMF3(b []byte, v Value) ([]byte, error) {
	var e Encoder
	return e.AppendAMF3(b, v)
}

// AppendAMF0 appends v in AMF0 as the next value of the current body.
// AMF3-only kinds (ByteArray, vectors, Dictionary, externalizable objects)
// fail with ErrUnsupported (docs/amf.md#converting-between-amf0-and-amf3); E4X XML is written as 0x0F.
// On error b is returned unchanged.
func (e *Encoder) AppendAMF0(b []byte, v Value) ([]byte, error) {
	e.lim = e.Limits.resolved()
	e.start = len(b)
	e.expand = 0
	out, err := e.write0(b, v, 0, false)
	if err != nil {
		return b, err
	}
	return out, nil
}

// AppendAMF0Switched appends v in AMF0 for a client that negotiated
// objectEncoding 3 (docs/amf.md#message-bodies): values with no AMF0 form (ByteArray,
// vectors, Dictionary, E4X XML, externalizable objects, objects carrying
// AMF3 traits with sealed members or without the dynamic flag, AMF3 arrays with both a dense and an
// associative part) are written as 0x11 + AMF3 wherever they
// occur, each with fresh AMF3 tables; with SwitchComplex every complex value
// is. On error b is returned unchanged.
func (e *Encoder) AppendAMF0Switched(b []byte, v Value) ([]byte, error) {
	e.lim = e.Limits.resolved()
	e.start = len(b)
	e.expand = 0
	out, err := e.write0(b, v, 0, true)
	if err != nil {
		return b, err
	}
	return out, nil
}

// AppendAMF3 appends v in AMF3 with fresh AMF3 tables. On error b is
// returned unchanged.
func (e *Encoder) AppendAMF3(b []byte, v Value) ([]byte, error) {
	e.lim = e.Limits.resolved()
	e.start = len(b)
	e.resetAMF3()
	out, err := e.write3(b, v, 0)
	e.resetAMF3() // do not keep the value alive
	if err != nil {
		return b, err
	}
	return out, nil
}

// room fails when n more bytes would take this call's output past
// MaxBytes. A value can encode to far more than it was decoded from: an
// AMF3 string repeated by reference is written whole at every repeat in
// AMF0 (100 KB of AMF3 made 200 MB of AMF0), so the encoder checks before
// it allocates what no message could carry.
func (e *Encoder) room(b []byte, n int) error {
	if len(b)-e.start+n > e.lim.MaxBytes {
		return fmt.Errorf("amf: output past %d bytes: %w", e.lim.MaxBytes, ErrTooLarge)
	}
	return nil
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// appendF64 writes a DOUBLE; every NaN is written in the canonical form
// 7f f8 00 ... (docs/amf.md#limits).
func appendF64(b []byte, f float64) []byte {
	bits := math.Float64bits(f)
	if f != f {
		bits = 0x7ff8000000000000
	}
	return binary.BigEndian.AppendUint64(b, bits)
}

// needsSwitch reports whether v must be written as 0x11 + AMF3 in switched
// mode.
func (e *Encoder) needsSwitch(v Value) bool {
	if e.SwitchAll {
		return v.kind != KindUnsupported // 0x0D has no AMF3 form; AMF0 keeps it
	}
	switch v.kind {
	case KindByteArray, KindVectorInt, KindVectorUint, KindVectorDouble, KindVectorObject, KindDictionary, KindXML:
		return true
	case KindObject:
		if t := v.n.traits; t != nil && (t.Externalizable || len(t.Sealed) > 0 || !t.Dynamic) {
			return true
		}
		return e.SwitchComplex
	case KindECMAArray:
		// An AMF3 array with a dense part keeps its shape only in AMF3.
		return e.SwitchComplex || (v.n.flags&flagSplit != 0 && len(v.n.elems) > 0)
	case KindStrictArray, KindDate, KindXMLDocument:
		return e.SwitchComplex
	}
	return false
}

func (e *Encoder) write0(b []byte, v Value, depth int, switched bool) ([]byte, error) {
	if switched && e.needsSwitch(v) {
		e.resetAMF3()
		b = append(b, m0AVMPlus)
		b, err := e.write3(b, v, depth)
		e.resetAMF3()
		return b, err
	}
	switch v.kind {
	case KindUndefined:
		return append(b, m0Undefined), nil
	case KindNull:
		return append(b, m0Null), nil
	case KindUnsupported:
		return append(b, m0Unsupported), nil
	case KindNumber:
		return appendF64(append(b, m0Number), v.num), nil
	case KindBoolean:
		if v.num != 0 {
			return append(b, m0Boolean, 1), nil
		}
		return append(b, m0Boolean, 0), nil
	case KindString:
		if err := e.room(b, 5+len(v.str)); err != nil {
			return b, err
		}
		if len(v.str) <= math.MaxUint16 {
			b = appendU16(append(b, m0String), uint16(len(v.str)))
		} else {
			if uint64(len(v.str)) > math.MaxUint32 {
				return b, fmt.Errorf("amf0: string of %d bytes: %w", len(v.str), ErrTooLarge)
			}
			b = appendU32(append(b, m0LongString), uint32(len(v.str)))
		}
		return append(b, v.str...), nil
	case KindDate:
		return append(appendF64(append(b, m0Date), v.num), 0, 0), nil
	case KindXML, KindXMLDocument:
		if err := e.room(b, 5+len(v.str)); err != nil {
			return b, err
		}
		if uint64(len(v.str)) > math.MaxUint32 {
			return b, fmt.Errorf("amf0: XML of %d bytes: %w", len(v.str), ErrTooLarge)
		}
		b = appendU32(append(b, m0XMLDocument), uint32(len(v.str)))
		return append(b, v.str...), nil
	case KindObject, KindECMAArray, KindStrictArray:
		if t := v.n.traits; t != nil && t.Externalizable {
			return b, fmt.Errorf("amf0: externalizable %q has no AMF0 form: %w", t.Class, ErrUnsupported)
		}
		return e.complex0(b, v, depth, switched)
	}
	return b, fmt.Errorf("amf0: %s has no AMF0 form: %w", v.kind, ErrUnsupported)
}

func (e *Encoder) complex0(b []byte, v Value, depth int, switched bool) ([]byte, error) {
	n := v.n
	var (
		idx int
		ok  bool
	)
	if e.ShareRepeats {
		idx, ok = e.seen0.find(n)
	} else {
		idx, ok = e.path.find(n)
	}
	if ok {
		if idx > math.MaxUint16 {
			return b, fmt.Errorf("amf0: reference index %d exceeds 65535: %w", idx, ErrTooLarge)
		}
		return append(b, m0Reference, byte(idx>>8), byte(idx)), nil
	}
	if depth >= e.lim.MaxDepth {
		return b, fmt.Errorf("amf: nesting deeper than %d: %w", e.lim.MaxDepth, ErrTooDeep)
	}
	if err := e.room(b, 0); err != nil {
		return b, err
	}
	if !e.ShareRepeats {
		e.expand++
		if e.expand > e.lim.MaxExpand {
			return b, fmt.Errorf("amf: value expands beyond %d nodes: %w", e.lim.MaxExpand, ErrExpand)
		}
	}
	idx = e.n0
	e.n0++
	if e.ShareRepeats {
		e.seen0.add(n, idx)
	} else {
		e.path.push(n, idx)
		defer e.path.pop()
	}
	var err error
	switch v.kind {
	case KindStrictArray:
		b = appendU32(append(b, m0StrictArray), uint32(len(n.elems)))
		for _, el := range n.elems {
			if b, err = e.write0(b, el, depth+1, switched); err != nil {
				return b, err
			}
		}
		return b, nil
	case KindECMAArray:
		b = appendU32(append(b, m0ECMAArray), uint32(len(n.elems)+len(n.props)))
		for i, el := range n.elems {
			// Dense elements of an AMF3 array become keys "0", "1", ...
			// (docs/amf.md#converting-between-amf0-and-amf3); the digits are written in place, no allocation.
			at := len(b)
			b = strconv.AppendInt(append(b, 0, 0), int64(i), 10)
			binary.BigEndian.PutUint16(b[at:], uint16(len(b)-at-2))
			if b, err = e.write0(b, el, depth+1, switched); err != nil {
				return b, err
			}
		}
	case KindObject:
		if n.class != "" {
			if len(n.class) > math.MaxUint16 {
				return b, fmt.Errorf("amf0: class name of %d bytes: %w", len(n.class), ErrTooLarge)
			}
			b = appendU16(append(b, m0TypedObject), uint16(len(n.class)))
			b = append(b, n.class...)
		} else {
			b = append(b, m0Object)
		}
	}
	for _, p := range n.props {
		if p.Key == "" || len(p.Key) > math.MaxUint16 {
			return b, fmt.Errorf("amf0: property name of %d bytes cannot be encoded: %w", len(p.Key), ErrUnsupported)
		}
		if err := e.room(b, 2+len(p.Key)); err != nil {
			return b, err
		}
		b = append(appendU16(b, uint16(len(p.Key))), p.Key...)
		if b, err = e.write0(b, p.Value, depth+1, switched); err != nil {
			return b, err
		}
	}
	return append(b, 0, 0, m0ObjectEnd), nil
}

// refTable maps nodes to reference indices; the first entries live inline
// so that small graphs need no map.
type refTable struct {
	keys [16]*node
	idx  [16]int32
	n    int
	m    map[*node]int
}

func (t *refTable) find(p *node) (int, bool) {
	for i := 0; i < t.n; i++ {
		if t.keys[i] == p {
			return int(t.idx[i]), true
		}
	}
	if t.m != nil {
		i, ok := t.m[p]
		return i, ok
	}
	return 0, false
}

func (t *refTable) add(p *node, idx int) {
	if t.n < len(t.keys) {
		t.keys[t.n], t.idx[t.n] = p, int32(idx)
		t.n++
		return
	}
	if t.m == nil {
		t.m = make(map[*node]int)
	}
	t.m[p] = idx
}

func (t *refTable) reset() {
	clear(t.keys[:t.n])
	t.n = 0
	if t.m != nil {
		clear(t.m)
	}
}

// pathStack holds the complex values currently being written (the path from
// the root), which is all cycle detection needs.
type pathStack struct {
	keys [64]*node
	idx  [64]int32
	n    int
	more []pathEntry
}

type pathEntry struct {
	p   *node
	idx int
}

func (s *pathStack) find(p *node) (int, bool) {
	for i := 0; i < s.n; i++ {
		if s.keys[i] == p {
			return int(s.idx[i]), true
		}
	}
	for _, x := range s.more {
		if x.p == p {
			return x.idx, true
		}
	}
	return 0, false
}

func (s *pathStack) push(p *node, idx int) {
	if s.n < len(s.keys) && len(s.more) == 0 {
		s.keys[s.n], s.idx[s.n] = p, int32(idx)
		s.n++
		return
	}
	s.more = append(s.more, pathEntry{p, idx})
}

func (s *pathStack) pop() {
	if len(s.more) > 0 {
		s.more[len(s.more)-1] = pathEntry{}
		s.more = s.more[:len(s.more)-1]
		return
	}
	s.n--
	s.keys[s.n] = nil
}

func (s *pathStack) reset() {
	clear(s.keys[:s.n])
	s.n = 0
	clear(s.more)
	s.more = s.more[:0]
}

// strTable is the AMF3 string table of the encoder.
type strTable struct {
	keys [32]string
	n    int // entries in total (inline and map)
	m    map[string]int
}

func (t *strTable) find(s string) (int, bool) {
	k := min(t.n, len(t.keys))
	for i := range k {
		if t.keys[i] == s {
			return i, true
		}
	}
	if t.m != nil {
		i, ok := t.m[s]
		return i, ok
	}
	return 0, false
}

func (t *strTable) add(s string) {
	if t.n < len(t.keys) {
		t.keys[t.n] = s
	} else {
		if t.m == nil {
			t.m = make(map[string]int)
		}
		t.m[s] = t.n
	}
	t.n++
}

func (t *strTable) reset() {
	clear(t.keys[:min(t.n, len(t.keys))])
	t.n = 0
	if t.m != nil {
		clear(t.m)
	}
}

// traitTable is the AMF3 traits table of the encoder, keyed by identity.
type traitTable struct {
	keys [8]*Traits
	n    int
	m    map[*Traits]int
}

func (t *traitTable) find(p *Traits) (int, bool) {
	k := min(t.n, len(t.keys))
	for i := range k {
		if t.keys[i] == p {
			return i, true
		}
	}
	if t.m != nil {
		i, ok := t.m[p]
		return i, ok
	}
	return 0, false
}

func (t *traitTable) add(p *Traits) {
	if t.n < len(t.keys) {
		t.keys[t.n] = p
	} else {
		if t.m == nil {
			t.m = make(map[*Traits]int)
		}
		t.m[p] = t.n
	}
	t.n++
}

func (t *traitTable) reset() {
	clear(t.keys[:min(t.n, len(t.keys))])
	t.n = 0
	if t.m != nil {
		clear(t.m)
	}
}
