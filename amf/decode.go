package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// AMF0 markers (docs/amf.md#amf0-markers).
const (
	m0Number      = 0x00
	m0Boolean     = 0x01
	m0String      = 0x02
	m0Object      = 0x03
	m0MovieClip   = 0x04
	m0Null        = 0x05
	m0Undefined   = 0x06
	m0Reference   = 0x07
	m0ECMAArray   = 0x08
	m0ObjectEnd   = 0x09
	m0StrictArray = 0x0A
	m0Date        = 0x0B
	m0LongString  = 0x0C
	m0Unsupported = 0x0D
	m0RecordSet   = 0x0E
	m0XMLDocument = 0x0F
	m0TypedObject = 0x10
	m0AVMPlus     = 0x11
)

// Decoder decodes AMF0 and AMF3 from complete message bodies. Its reference
// tables are reused between calls to avoid allocation; a Decoder is not safe
// for concurrent use. The zero Decoder is ready to use with default limits.
type Decoder struct {
	// Limits bounds what is accepted; zero fields take their defaults.
	Limits Limits
	// AliasInput makes decoded strings and ByteArray contents point into the
	// input instead of copying it. Only set it when the input is never
	// modified or reused while decoded values live (RTMP message payloads
	// are immutable once read, so the rtmp package may set it). Without it,
	// an input of at most 4 KiB is copied once per call and its strings
	// share that copy; larger inputs copy each string.
	AliasInput bool
	// AllowUnterminated accepts the end of the input where a key of an
	// outermost object or ECMA array was expected (also after a lone `09` or
	// a bare `00 00`), keeping what was read: some writers end the last
	// object of a data message or FLV script tag that way (docs/amf.md#interop-pitfalls
	// pitfall 2). Nested objects must still be terminated.
	AllowUnterminated bool

	b      []byte
	pos    int
	lim    Limits
	values int
	refs0  []Value   // AMF0 complex-object table
	strs3  []string  // AMF3 string table
	objs3  []Value   // AMF3 object table
	trait3 []*Traits // AMF3 traits table

	// Scratch stacks: members are collected here while a container is read
	// and copied once into an exactly sized slice, instead of growing each
	// container's slice step by step. Nested containers use the tail.
	props []Prop
	elems []Value

	// Copy of a small input (from offset copyBase on) that decoded strings
	// are cut from: one allocation per call instead of one per string.
	// Valid during one top-level call only, so a reused input buffer never
	// yields stale strings.
	copied   bool
	copyStr  string
	copyBase int
}

// smallBody is the largest input copied whole for its strings: a string cut
// from the copy keeps the whole copy alive, which is harmless at this size.
// Larger inputs copy each string on its own.
const smallBody = 4096

// takeProps moves the properties collected since base into a new slice.
func (d *Decoder) takeProps(base int) []Prop {
	s := d.props[base:]
	if len(s) == 0 {
		return nil
	}
	out := make([]Prop, len(s))
	copy(out, s)
	clear(s)
	d.props = d.props[:base]
	return out
}

// takeElems moves the elements collected since base into a new slice.
func (d *Decoder) takeElems(base int) []Value {
	s := d.elems[base:]
	if len(s) == 0 {
		return nil
	}
	out := make([]Value, len(s))
	copy(out, s)
	clear(s)
	d.elems = d.elems[:base]
	return out
}

func (d *Decoder) clearScratch() {
	clear(d.props)
	d.props = d.props[:0]
	clear(d.elems)
	d.elems = d.elems[:0]
}

// Reset clears the reference tables, starting a new message body for
// DecodeAMF0At. Tables are cleared so that they do not keep decoded values
// alive.
func (d *Decoder) Reset() {
	clear(d.refs0)
	d.refs0 = d.refs0[:0]
	d.resetAMF3()
	d.clearScratch()
	d.values = 0
	d.b = nil
	d.dropCopy()
}

func (d *Decoder) dropCopy() {
	d.copied, d.copyStr, d.copyBase = false, "", 0
}

func (d *Decoder) resetAMF3() {
	clear(d.strs3)
	d.strs3 = d.strs3[:0]
	clear(d.objs3)
	d.objs3 = d.objs3[:0]
	clear(d.trait3)
	d.trait3 = d.trait3[:0]
}

func (d *Decoder) begin(b []byte) error {
	d.Reset()
	d.lim = d.Limits.resolved()
	d.b = b
	d.pos = 0
	if len(b) > d.lim.MaxBytes {
		return d.errf(0, ErrTooLarge, "amf: input of %d bytes exceeds limit %d", len(b), d.lim.MaxBytes)
	}
	return nil
}

// DecodeAMF0 decodes one standalone AMF0 value from the start of b and
// returns it with the number of bytes consumed. Marker 0x11 decodes one
// AMF3 value. Reference tables start empty.
func (d *Decoder) DecodeAMF0(b []byte) (v Value, n int, err error) {
	if err = d.begin(b); err == nil {
		v, err = d.read0(0)
	}
	n = d.pos
	d.Reset()
	if err != nil {
		return Value{}, n, err
	}
	return v, n, nil
}

// DecodeAMF3 decodes one standalone AMF3 value (as ByteArray.readObject
// does) and returns it with the number of bytes consumed.
func (d *Decoder) DecodeAMF3(b []byte) (v Value, n int, err error) {
	if err = d.begin(b); err == nil {
		v, err = d.read3(0)
	}
	n = d.pos
	d.Reset()
	if err != nil {
		return Value{}, n, err
	}
	return v, n, nil
}

// DecodeAMF0All decodes every AMF0 value of a message body (a command's
// name, transaction id, command object and arguments, or a data message)
// with one set of reference tables, and appends them to dst. On error it
// returns dst with the values decoded before the error.
func (d *Decoder) DecodeAMF0All(b []byte, dst []Value) ([]Value, error) {
	if err := d.begin(b); err != nil {
		return dst, err
	}
	for d.pos < len(d.b) {
		v, err := d.read0(0)
		if err != nil {
			d.Reset()
			return dst, err
		}
		dst = append(dst, v)
	}
	d.Reset()
	return dst, nil
}

// DecodeAMF0At decodes the AMF0 value at body[off:] using the tables of the
// current body, and returns it with the offset just after it. Error offsets
// are offsets in body. Call Reset before the first value of each body (also
// to let go of the decoded values). Limits on total values and table sizes
// count from the last Reset.
func (d *Decoder) DecodeAMF0At(body []byte, off int) (v Value, next int, err error) {
	d.lim = d.Limits.resolved()
	d.b = body
	d.pos = off
	if len(body) > d.lim.MaxBytes {
		return Value{}, off, d.errf(0, ErrTooLarge, "amf: input of %d bytes exceeds limit %d", len(body), d.lim.MaxBytes)
	}
	if off < 0 || off > len(body) {
		return Value{}, off, d.errf(off, ErrTruncated, "amf0: offset %d outside body of %d bytes", off, len(body))
	}
	d.clearScratch()
	d.dropCopy()
	d.copyBase = off
	v, err = d.read0(0)
	next = d.pos
	d.b = nil
	d.dropCopy()
	if err != nil {
		return Value{}, next, err
	}
	return v, next, nil
}

func (d *Decoder) errf(off int, sentinel error, format string, args ...any) error {
	return &DecodeError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

func (d *Decoder) remaining() int { return len(d.b) - d.pos }

// count charges one decoded value against MaxElems.
func (d *Decoder) count(off int, enc string) error {
	d.values++
	if d.values > d.lim.MaxElems {
		return d.errf(off, ErrTooLarge, "%s: more than %d values", enc, d.lim.MaxElems)
	}
	return nil
}

func (d *Decoder) depthCheck(off, depth int) error {
	if depth >= d.lim.MaxDepth {
		return d.errf(off, ErrTooDeep, "amf: nesting deeper than %d", d.lim.MaxDepth)
	}
	return nil
}

// str returns the next n bytes as a string, copying unless AliasInput.
// The caller has checked n against the remaining input.
func (d *Decoder) str(n int) string {
	if n == 0 {
		return ""
	}
	at := d.pos
	d.pos += n
	if d.AliasInput {
		return unsafe.String(&d.b[at], n)
	}
	if len(d.b)-d.copyBase <= smallBody {
		if !d.copied {
			d.copyStr, d.copied = string(d.b[d.copyBase:]), true
		}
		return d.copyStr[at-d.copyBase : at-d.copyBase+n]
	}
	return string(d.b[at : at+n])
}

// lenCheck validates a declared byte length before anything is read or
// allocated (docs/amf.md#limits); off is where the length field started.
func (d *Decoder) lenCheck(off int, n uint64, enc, what string) error {
	if rem := d.remaining(); n > uint64(rem) {
		return d.errf(off, ErrTruncated, "%s: truncated %s: length %d exceeds remaining %d bytes", enc, what, n, rem)
	}
	if n > uint64(d.lim.MaxStringLen) {
		return d.errf(off, ErrTooLarge, "%s: %s length %d exceeds limit %d", enc, what, n, d.lim.MaxStringLen)
	}
	return nil
}

// countCheck validates a declared element count (docs/amf.md#limits).
func (d *Decoder) countCheck(off int, count uint64, minSize int, enc, what string) error {
	if rem := d.remaining(); count > uint64(rem/minSize) {
		return d.errf(off, ErrTruncated, "%s: %s count %d exceeds remaining %d bytes", enc, what, count, rem)
	}
	if count > uint64(d.lim.MaxElems) {
		return d.errf(off, ErrTooLarge, "%s: %s count %d exceeds limit %d", enc, what, count, d.lim.MaxElems)
	}
	return nil
}

func (d *Decoder) truncated(off int, enc, what string) error {
	return d.errf(off, ErrTruncated, "%s: truncated %s", enc, what)
}

func (d *Decoder) u16() uint16 {
	v := binary.BigEndian.Uint16(d.b[d.pos:])
	d.pos += 2
	return v
}

func (d *Decoder) u32() uint32 {
	v := binary.BigEndian.Uint32(d.b[d.pos:])
	d.pos += 4
	return v
}

func (d *Decoder) f64() float64 {
	return math.Float64frombits(binary.BigEndian.Uint64(d.b[d.pos:]))
}

// read0 decodes one AMF0 value at d.pos; depth is the number of containers
// around it.
func (d *Decoder) read0(depth int) (Value, error) {
	start := d.pos
	if d.pos >= len(d.b) {
		return Value{}, d.truncated(start, "amf0", "value (marker expected)")
	}
	if err := d.count(start, "amf0"); err != nil {
		return Value{}, err
	}
	m := d.b[d.pos]
	d.pos++
	switch m {
	case m0Number:
		if d.remaining() < 8 {
			return Value{}, d.truncated(start, "amf0", "number")
		}
		f := d.f64()
		d.pos += 8
		return Number(f), nil
	case m0Boolean:
		if d.remaining() < 1 {
			return Value{}, d.truncated(start, "amf0", "boolean")
		}
		b := d.b[d.pos] != 0
		d.pos++
		return Bool(b), nil
	case m0String, m0LongString, m0XMLDocument:
		var n uint64
		what := "string"
		if m == m0String {
			if d.remaining() < 2 {
				return Value{}, d.truncated(start, "amf0", what)
			}
			n = uint64(d.u16())
		} else {
			if m == m0LongString {
				what = "long string"
			} else {
				what = "XML document"
			}
			if d.remaining() < 4 {
				return Value{}, d.truncated(start, "amf0", what)
			}
			n = uint64(d.u32())
		}
		if err := d.lenCheck(start+1, n, "amf0", what); err != nil {
			return Value{}, err
		}
		s := d.str(int(n))
		if m == m0XMLDocument {
			return XMLDocument(s), nil
		}
		return String(s), nil
	case m0Object:
		return d.object0(start, depth, KindObject, "")
	case m0TypedObject:
		if d.remaining() < 2 {
			return Value{}, d.truncated(start, "amf0", "typed object class name")
		}
		n := uint64(d.u16())
		if err := d.lenCheck(start+1, n, "amf0", "class name"); err != nil {
			return Value{}, err
		}
		return d.object0(start, depth, KindObject, d.str(int(n)))
	case m0ECMAArray:
		if d.remaining() < 4 {
			return Value{}, d.truncated(start, "amf0", "ECMA array")
		}
		d.pos += 4 // the count is only a hint (docs/amf.md#amf0-details)
		return d.object0(start, depth, KindECMAArray, "")
	case m0StrictArray:
		if d.remaining() < 4 {
			return Value{}, d.truncated(start, "amf0", "strict array")
		}
		count := uint64(d.u32())
		if err := d.countCheck(start+1, count, 1, "amf0", "strict array"); err != nil {
			return Value{}, err
		}
		if err := d.depthCheck(start, depth); err != nil {
			return Value{}, err
		}
		n := &node{}
		v := Value{kind: KindStrictArray, n: n}
		if err := d.addRef0(start, v); err != nil {
			return Value{}, err
		}
		base := len(d.elems)
		for range count {
			e, err := d.read0(depth + 1)
			if err != nil {
				return Value{}, err
			}
			d.elems = append(d.elems, e)
		}
		n.elems = d.takeElems(base)
		return v, nil
	case m0Date:
		if d.remaining() < 10 {
			return Value{}, d.truncated(start, "amf0", "date")
		}
		f := d.f64()
		d.pos += 10 // the time zone is reserved and ignored (docs/amf.md#amf0-details)
		return Date(f), nil
	case m0Null:
		return Null(), nil
	case m0Undefined:
		return Undefined(), nil
	case m0Unsupported:
		return Unsupported(), nil
	case m0Reference:
		if d.remaining() < 2 {
			return Value{}, d.truncated(start, "amf0", "reference")
		}
		i := int(d.u16())
		if i >= len(d.refs0) {
			return Value{}, d.errf(start, ErrBadReference, "amf0: reference index %d out of range (table has %d)", i, len(d.refs0))
		}
		return d.refs0[i], nil
	case m0AVMPlus:
		return d.read3(depth)
	case m0MovieClip:
		return Value{}, d.errf(start, ErrUnsupported, "amf0: unsupported marker 0x04 (movieclip)")
	case m0RecordSet:
		return Value{}, d.errf(start, ErrUnsupported, "amf0: unsupported marker 0x0e (recordset)")
	case m0ObjectEnd:
		return Value{}, d.errf(start, ErrUnknownMarker, "amf0: object-end marker where a value was expected")
	}
	return Value{}, d.errf(start, ErrUnknownMarker, "amf0: unknown marker 0x%02x", m)
}

func (d *Decoder) addRef0(off int, v Value) error {
	if len(d.refs0) >= d.lim.MaxRefs {
		return d.errf(off, ErrTooLarge, "amf0: more than %d complex values", d.lim.MaxRefs)
	}
	d.refs0 = append(d.refs0, v)
	return nil
}

// object0 reads the properties of an object, typed object or ECMA array up
// to the `00 00 09` terminator.
func (d *Decoder) object0(start, depth int, kind Kind, class string) (Value, error) {
	if err := d.depthCheck(start, depth); err != nil {
		return Value{}, err
	}
	n := &node{class: class}
	v := Value{kind: kind, n: n}
	// Added before the members so that they may refer back to it (docs/amf.md#amf0-references).
	if err := d.addRef0(start, v); err != nil {
		return Value{}, err
	}
	lenient := d.AllowUnterminated && depth == 0
	base := len(d.props)
	for {
		keyOff := d.pos
		rem := d.remaining()
		if rem < 2 {
			if lenient && (rem == 0 || d.b[d.pos] == m0ObjectEnd) {
				d.pos = len(d.b)
				n.props = d.takeProps(base)
				return v, nil
			}
			return Value{}, d.truncated(keyOff, "amf0", kind.String()+" (key or object-end expected)")
		}
		kl := int(d.u16())
		if kl == 0 {
			if d.remaining() < 1 {
				if lenient {
					n.props = d.takeProps(base)
					return v, nil
				}
				return Value{}, d.truncated(keyOff, "amf0", kind.String()+" (object-end expected)")
			}
			if d.b[d.pos] != m0ObjectEnd {
				return Value{}, d.errf(keyOff, ErrMalformed, "amf0: empty key not followed by object-end (marker 0x%02x)", d.b[d.pos])
			}
			d.pos++
			n.props = d.takeProps(base)
			return v, nil
		}
		if err := d.lenCheck(keyOff, uint64(kl), "amf0", "key"); err != nil {
			return Value{}, err
		}
		key := d.str(kl)
		val, err := d.read0(depth + 1)
		if err != nil {
			return Value{}, err
		}
		d.props = append(d.props, Prop{Key: key, Value: val})
	}
}
