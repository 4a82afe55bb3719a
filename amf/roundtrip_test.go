package amf

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"
)

// sampleValues returns one value of every kind plus shared and cyclic
// graphs, each with whether AMF0 can express it.
// AMF0 modes of sampleValues.
const (
	amf0Exact       = iota // AMF0 round-trips the value exactly
	amf0Converted          // AMF0 writes a converted form (docs/amf.md#converting-between-amf0-and-amf3)
	amf0Unsupported        // AMF0 cannot express the value
)

func sampleValues() []struct {
	name string
	v    Value
	amf0 int
} {
	cyc := Object(p("name", String("loop")))
	cyc.Set("self", cyc)
	shared := Object(p("k", Number(1)))
	mutual := ECMAArray(p("a", Number(1)))
	other := StrictArray(mutual)
	mutual.Set("back", other)
	nested := Object()
	cur := nested
	for range 20 {
		next := Object(p("v", Number(1)))
		cur.Set("next", next)
		cur = next
	}
	tr := &Traits{Class: "T", Sealed: []string{"a", "b"}, Dynamic: true}
	typedCycle := ObjectWithTraits(tr, p("a", Null()), p("b", Number(2)))
	typedCycle.Set("a", typedCycle)
	return []struct {
		name string
		v    Value
		amf0 int
	}{
		{"undefined", Undefined(), amf0Exact},
		{"null", Null(), amf0Exact},
		{"number", Number(3.25), amf0Exact},
		{"integer", Number(42), amf0Exact},
		{"big number", Number(1e300), amf0Exact},
		{"negative zero", Number(math.Copysign(0, -1)), amf0Exact},
		{"+Inf", Number(math.Inf(1)), amf0Exact},
		{"-Inf", Number(math.Inf(-1)), amf0Exact},
		{"NaN", Number(math.NaN()), amf0Exact},
		{"true", Bool(true), amf0Exact},
		{"false", Bool(false), amf0Exact},
		{"string", String("hello"), amf0Exact},
		{"unicode string", String("日本語 ✓ é"), amf0Exact},
		{"invalid UTF-8", String("a\xff\xfe"), amf0Exact},
		{"CESU-8 NUL", String("a\xc0\x80b"), amf0Exact},
		{"empty string", String(""), amf0Exact},
		{"long string", String(strings.Repeat("x", 65536)), amf0Exact},
		{"object", Object(p("z", Number(1)), p("a", Number(2)), p("m", Number(3))), amf0Exact},
		{"typed object", TypedObject("com.example.User", p("id", Number(7)), p("name", String("ann"))), amf0Exact},
		{"ECMA array", ECMAArray(p("duration", Number(1)), p("0", String("zero"))), amf0Exact},
		{"strict array", StrictArray(Number(1), Null(), Undefined(), String("s")), amf0Exact},
		{"empty array", StrictArray(), amf0Exact},
		{"date", Date(1136073600000), amf0Exact},
		{"XMLDocument", XMLDocument("<a>b</a>"), amf0Exact},
		{"unsupported", Unsupported(), amf0Exact},
		{"cyclic object", cyc, amf0Exact},
		{"shared object", StrictArray(shared, shared, Object(p("again", shared))), amf0Exact},
		{"mutual cycle", mutual, amf0Exact},
		{"nested 21", nested, amf0Exact},
		{"XML", XML("<x/>"), amf0Converted},
		{"ByteArray", ByteArray([]byte{0, 1, 2, 255}), amf0Unsupported},
		{"empty ByteArray", ByteArray(nil), amf0Unsupported},
		{"Vector.<int>", VectorInt(true, math.MinInt32, -1, 0, math.MaxInt32), amf0Unsupported},
		{"Vector.<uint>", VectorUint(false, 0, math.MaxUint32), amf0Unsupported},
		{"Vector.<Number>", VectorDouble(false, 1.5, math.Inf(-1)), amf0Unsupported},
		{"Vector.<Object>", VectorObject(true, "Point", point(1, 2), point(3, 4)), amf0Unsupported},
		{"Dictionary", Dictionary(true, DictEntry{String("k"), Number(1)}, DictEntry{Number(2), Bool(true)}, DictEntry{Object(), Null()}), amf0Unsupported},
		{"mixed array", MixedArray([]Value{Number(1), Number(2)}, p("name", String("n"))), amf0Converted},
		{"sealed traits cycle", typedCycle, amf0Converted},
		{"ObjectProxy", Externalizable(ClassObjectProxy, Object(p("a", Number(1)))), amf0Unsupported},
	}
}

// TestRoundTrip encodes every kind, decodes it and compares: AMF3 for all,
// AMF0 for what AMF0 can express, and AMF0 with ShareRepeats.
func TestRoundTrip(t *testing.T) {
	for _, tc := range sampleValues() {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			b, err := AppendAMF3(nil, tc.v)
			if err != nil {
				t.Fatalf("AMF3 encode: %v", err)
			}
			got, n, err := d.DecodeAMF3(b)
			if err != nil || n != len(b) {
				t.Fatalf("AMF3 decode: n=%d/%d err=%v", n, len(b), err)
			}
			want := tc.v
			if want.Kind() == KindUnsupported {
				want = Undefined() // AMF3 has no "unsupported"
			}
			if !Equal(got, want) {
				t.Fatalf("AMF3:\n got %v\nwant %v", got, want)
			}
			for _, share := range []bool{false, true} {
				e := Encoder{ShareRepeats: share}
				b, err = e.AppendAMF0(nil, tc.v)
				if tc.amf0 == amf0Unsupported {
					if !errors.Is(err, ErrUnsupported) {
						t.Fatalf("AMF0 encode of AMF3-only value: err = %v", err)
					}
					if len(b) != 0 {
						t.Fatalf("AMF0 encode error left %d bytes", len(b))
					}
					continue
				}
				if err != nil {
					t.Fatalf("AMF0 encode: %v", err)
				}
				got, n, err = d.DecodeAMF0(b)
				if err != nil || n != len(b) {
					t.Fatalf("AMF0 decode: n=%d/%d err=%v", n, len(b), err)
				}
				if tc.amf0 == amf0Exact && !Equal(got, tc.v) {
					t.Fatalf("AMF0 share=%v:\n got %v\nwant %v", share, got, tc.v)
				}
			}
			// Switched AMF0 (to an objectEncoding 3 client) expresses all.
			for _, mode := range []Encoder{{}, {SwitchComplex: true}, {SwitchAll: true}} {
				b, err = mode.AppendAMF0Switched(nil, tc.v)
				if err != nil {
					t.Fatalf("switched encode: %v", err)
				}
				got, n, err = d.DecodeAMF0(b)
				if err != nil || n != len(b) {
					t.Fatalf("switched decode: n=%d/%d err=%v", n, len(b), err)
				}
				if !Equal(got, tc.v) {
					t.Fatalf("switched (all=%v complex=%v):\n got %v\nwant %v", mode.SwitchAll, mode.SwitchComplex, got, tc.v)
				}
			}
		})
	}
}

func TestKeyOrderPreserved(t *testing.T) {
	keys := []string{"zeta", "alpha", "mid", "0", "10", "2", "Beta", "beta"}
	var props []Prop
	for i, k := range keys {
		props = append(props, p(k, Number(float64(i))))
	}
	for _, v := range []Value{Object(props...), ECMAArray(props...), TypedObject("C", props...)} {
		for _, amf3 := range []bool{false, true} {
			var b []byte
			var err error
			var got Value
			var d Decoder
			if amf3 {
				b, err = AppendAMF3(nil, v)
				if err == nil {
					got, _, err = d.DecodeAMF3(b)
				}
			} else {
				b, err = AppendAMF0(nil, v)
				if err == nil {
					got, _, err = d.DecodeAMF0(b)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys []string
			for _, pr := range got.Props() {
				gotKeys = append(gotKeys, pr.Key)
			}
			if strings.Join(gotKeys, ",") != strings.Join(keys, ",") {
				t.Errorf("%s amf3=%v: keys %v", v.Kind(), amf3, gotKeys)
			}
		}
	}
}

func TestSetGetDelete(t *testing.T) {
	o := Object(p("a", Number(1)), p("b", Number(2)))
	o.Set("a", String("x"))
	o.Set("c", Bool(true))
	if got := o.String(); got != `{a: "x", b: 2, c: true}` {
		t.Errorf("after Set: %s", got)
	}
	if !o.Delete("b") || o.Delete("b") || o.Has("b") {
		t.Error("Delete")
	}
	if o.Get("missing").Kind() != KindUndefined || Number(1).Get("a").Kind() != KindUndefined {
		t.Error("Get of missing key")
	}
	// Adding to a sealed-only AMF3 object makes its traits dynamic.
	tr := &Traits{Class: "P", Sealed: []string{"x"}}
	s := ObjectWithTraits(tr, p("x", Number(1)))
	s.Set("extra", Number(2))
	if s.Traits() == tr || !s.Traits().Dynamic || s.Traits().Sealed[0] != "x" {
		t.Errorf("traits after Set: %+v", s.Traits())
	}
	if s.Delete("x") {
		t.Error("deleted a sealed member")
	}
	b, err := AppendAMF3(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	got, _, err := d.DecodeAMF3(b)
	if err != nil || !Equal(got, s) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	// Dense elements of an AMF3 array answer to their index.
	m := MixedArray([]Value{String("d0")}, p("k", Number(1)))
	if m.Get("0").Str() != "d0" || m.Get("k").Num() != 1 || m.Get("1").Kind() != KindUndefined || m.Get("00").Kind() != KindUndefined {
		t.Error("mixed array Get")
	}
	dict := Dictionary(false, DictEntry{String("k"), Number(5)})
	if dict.Get("k").Num() != 5 {
		t.Error("dictionary Get")
	}
	// A shared value is changed for every holder.
	arr := StrictArray(o, o)
	arr.Elems()[0].Set("new", Null())
	if !arr.Elems()[1].Has("new") {
		t.Error("Set not visible through a copy")
	}
}

func TestAccessors(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		kind string
		num  float64
		str  string
	}{
		{Number(2), "number", 2, ""},
		{Date(5), "date", 5, ""},
		{String("s"), "string", 0, "s"},
		{XML("<x/>"), "xml", 0, "<x/>"},
		{XMLDocument("<y/>"), "xml-document", 0, "<y/>"},
		{Bool(true), "boolean", 0, ""},
		{Null(), "null", 0, ""},
	} {
		if tc.v.Kind().String() != tc.kind || tc.v.Num() != tc.num || tc.v.Str() != tc.str {
			t.Errorf("%v: kind %s num %v str %q", tc.v, tc.v.Kind(), tc.v.Num(), tc.v.Str())
		}
	}
	if !Bool(true).Bool() || Bool(false).Bool() || Number(1).Bool() {
		t.Error("Bool()")
	}
	if !Null().IsNull() || Null().IsUndefined() || !Undefined().IsUndefined() {
		t.Error("IsNull/IsUndefined")
	}
	if Kind(200).String() != "kind(200)" {
		t.Error("unknown kind name")
	}
	if point(1, 2).ClassName() != "Point" || VectorObject(false, "T").ClassName() != "T" {
		t.Error("ClassName")
	}
	if !VectorInt(true).Fixed() || VectorInt(false).Fixed() || !Dictionary(true).WeakKeys() {
		t.Error("Fixed/WeakKeys")
	}
	if inner, ok := Externalizable(ClassArrayCollection, StrictArray(Number(1))).Externalized(); !ok || inner.Len() != 1 {
		t.Error("Externalized")
	}
	if string(ByteArray([]byte("ab")).Bytes()) != "ab" {
		t.Error("Bytes")
	}
}

func TestStringRendering(t *testing.T) {
	cyc := StrictArray(Number(1))
	cyc.Append(cyc)
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{point(1, 2), "Point{x: 1, y: 2}"},
		{cyc, "[1, <cycle>]"},
		{ECMAArray(p("a b", Null())), `ecma{"a b": null}`},
		{MixedArray([]Value{Undefined()}, p("k", Unsupported())), "ecma[undefined]{k: unsupported}"},
		{ByteArray([]byte{0xab, 1}), "bytearray(ab01)"},
		{Dictionary(false, DictEntry{Number(1), Date(0)}), "dict{1: date(0)}"},
		{VectorObject(false, "T", String("\xff")), `vector-object<T>["\xff"]`},
		{Externalizable(ClassObjectProxy, Object()), ClassObjectProxy + "({})"},
		{XML("<a/>"), `xml("<a/>")`},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
	// Exponential sharing stays bounded.
	v := StrictArray(Number(0))
	for range 40 {
		v = StrictArray(v, v)
	}
	if s := v.String(); len(s) > 100000 {
		t.Errorf("rendering of a shared graph is %d bytes", len(s))
	}
}

// TestConversions covers docs/amf.md#converting-between-amf0-and-amf3 between AMF0 and AMF3 forms.
func TestConversions(t *testing.T) {
	var d Decoder
	// AMF0 ECMA array with leading 0..n-1 keys becomes dense in AMF3.
	b, err := AppendAMF3(nil, ECMAArray(p("0", String("a")), p("1", String("b")), p("x", Number(1))))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "09 05 03 78 04 01 01 06 03 61 06 03 62"); !bytes.Equal(b, want) {
		t.Errorf("ECMA to AMF3:\n got % x\nwant % x", b, want)
	}
	// AMF3 mixed array to AMF0: dense keys first.
	b, err = AppendAMF0(nil, MixedArray([]Value{String("a")}, p("x", Number(1))))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := d.DecodeAMF0(b)
	if err != nil || got.Kind() != KindECMAArray || got.Props()[0].Key != "0" || got.Props()[1].Key != "x" {
		t.Errorf("mixed array to AMF0: %v %v", got, err)
	}
	// Typed AMF0 object to AMF3: class name, dynamic, no sealed.
	b, _ = AppendAMF3(nil, point(1, 2))
	if want := unhex(t, "0a 0b 0b 50 6f 69 6e 74 03 78 04 01 03 79 04 02 01"); !bytes.Equal(b, want) {
		t.Errorf("typed object to AMF3:\n got % x\nwant % x", b, want)
	}
	// AMF3 sealed object to AMF0: typed object with sealed then dynamic.
	v, _, err := d.DecodeAMF3(unhex(t, "0a 2b 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0b 6c 61 62 65 6c 06 03 70 01"))
	if err != nil {
		t.Fatal(err)
	}
	b, err = AppendAMF0(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := d.DecodeAMF0(b); got.String() != `Point{x: 1, y: 2, label: "p"}` {
		t.Errorf("AMF3 typed to AMF0: %v", got)
	}
	// E4X XML to AMF0 becomes an XML document.
	b, _ = AppendAMF0(nil, XML("<a/>"))
	if got, _, _ := d.DecodeAMF0(b); got.Kind() != KindXMLDocument {
		t.Errorf("XML to AMF0: %v", got.Kind())
	}
	// Switched encoding: AMF3-only values nested in AMF0 objects switch in place.
	b, err = switched0(Object(p("ba", ByteArray([]byte{7}))))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "03 00 02 62 61 11 0c 03 07 00 00 09"); !bytes.Equal(b, want) {
		t.Errorf("switched:\n got % x\nwant % x", b, want)
	}
}

// switched0 is a test helper with a fresh default Encoder.
func switched0(v Value) ([]byte, error) {
	var e Encoder
	return e.AppendAMF0Switched(nil, v)
}

func TestEncodeErrors(t *testing.T) {
	deep := Object()
	cur := deep
	for range 70 {
		n := Object()
		cur.Set("n", n)
		cur = n
	}
	amp := StrictArray(Number(0))
	for range 30 {
		amp = StrictArray(amp, amp)
	}
	for _, tc := range []struct {
		name string
		amf3 bool
		v    Value
		err  error
	}{
		{"AMF0 ByteArray", false, ByteArray(nil), ErrUnsupported},
		{"AMF0 Dictionary", false, Dictionary(false), ErrUnsupported},
		{"AMF0 externalizable", false, Externalizable(ClassArrayCollection, Null()), ErrUnsupported},
		{"AMF0 empty key", false, Object(p("", Null())), ErrUnsupported},
		{"AMF0 key too long", false, Object(p(strings.Repeat("k", 65536), Null())), ErrUnsupported},
		{"AMF3 empty dynamic key", true, Object(p("", Null())), ErrUnsupported},
		{"AMF3 empty array key", true, MixedArray(nil, p("", Null())), ErrUnsupported},
		{"AMF0 too deep", false, deep, ErrTooDeep},
		{"AMF3 too deep", true, deep, ErrTooDeep},
		{"AMF0 expansion", false, amp, ErrExpand},
		{"Vector.<int> element", true, rawVector(KindVectorInt, Number(1.5)), ErrMalformed},
		{"Vector.<uint> element", true, rawVector(KindVectorUint, Number(-1)), ErrMalformed},
		{"Vector.<Number> element", true, rawVector(KindVectorDouble, String("x")), ErrMalformed},
		{"sealed without values", true, ObjectWithTraits(&Traits{Sealed: []string{"a"}}), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.amf3 {
				_, err = AppendAMF3(nil, tc.v)
			} else {
				_, err = AppendAMF0(nil, tc.v)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	// With ShareRepeats the amplified graph is small.
	e := Encoder{ShareRepeats: true}
	if b, err := e.AppendAMF0(nil, amp); err != nil || len(b) > 1000 {
		t.Errorf("shared AMF0 of amplified graph: %d bytes, %v", len(b), err)
	}
	if b, err := AppendAMF3(nil, amp); err != nil || len(b) > 1000 {
		t.Errorf("AMF3 of amplified graph: %d bytes, %v", len(b), err)
	}
}

// rawVector builds a vector of the given kind with arbitrary elements,
// to test encoder validation.
func rawVector(k Kind, elems ...Value) Value {
	return Value{kind: k, n: &node{elems: elems}}
}

// TestAMF0ReferenceAcrossValues checks that an Encoder counts AMF0 table
// entries across the values of one body, so a cycle in a later argument
// gets the right index.
func TestAMF0ReferenceAcrossValues(t *testing.T) {
	cyc := Object()
	cyc.Set("self", cyc)
	first := Object(p("a", Number(1)))
	b, err := AppendAMF0Values(nil, String("f"), first, cyc)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	vs, err := d.DecodeAMF0All(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || !Same(vs[2], vs[2].Get("self")) {
		t.Fatalf("got %v", vs)
	}
	// Value by value with DecodeAMF0At shares the table too.
	d.Reset()
	off := 0
	var got []Value
	for off < len(b) {
		var v Value
		v, off, err = d.DecodeAMF0At(b, off)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 3 || !Same(got[2], got[2].Get("self")) {
		t.Fatalf("At: got %v", got)
	}
	// A reference to an earlier argument (Flash Player may write one).
	body := unhex(t, "03 00 01 61 05 00 00 09 07 00 00")
	vs, err = d.DecodeAMF0All(body, nil)
	if err != nil || len(vs) != 2 || !Same(vs[0], vs[1]) {
		t.Fatalf("cross-argument reference: %v %v", vs, err)
	}
	// DecodeAMF0 is standalone: the same reference alone fails.
	if _, _, err := d.DecodeAMF0(body[8:]); !errors.Is(err, ErrBadReference) {
		t.Fatalf("standalone reference: %v", err)
	}
}

// TestAMF3TablesSharedPerBody: switched values of one body share AMF3
// tables when decoding (docs/amf.md#amf3-reference-tables, pitfall 8).
func TestAMF3TablesSharedPerBody(t *testing.T) {
	body := unhex(t, "11 06 05 68 69 11 06 00 11 0a 0b 01 01 11 0a 00")
	var d Decoder
	vs, err := d.DecodeAMF0All(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vs[1].Str() != "hi" || !Same(vs[2], vs[3]) {
		t.Fatalf("got %v", vs)
	}
	// AMF0 references do not see AMF3 objects.
	if _, err := d.DecodeAMF0All(unhex(t, "11 0a 0b 01 01 07 00 00"), nil); !errors.Is(err, ErrBadReference) {
		t.Fatalf("AMF0 reference into AMF3 data: %v", err)
	}
}

func TestAllowUnterminated(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		ok   bool
	}{
		{"terminated", "08 00 00 00 01 00 01 61 05 00 00 09", true},
		{"no terminator", "08 00 00 00 01 00 01 61 05", true},
		{"lone 09", "08 00 00 00 01 00 01 61 05 09", true},
		{"bare 00 00", "03 00 01 61 05 00 00", true},
		{"nested unterminated", "03 00 01 61 03 00 01 62 05", false},
		{"half a key", "03 00 01 61 05 00", false},
		{"cut key", "03 00 01 61 05 00 03 62", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{AllowUnterminated: true}
			vs, err := d.DecodeAMF0All(unhex(t, tc.hex), nil)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && vs[0].Get("a").Kind() != KindNull {
				t.Fatalf("got %v", vs)
			}
			var strict Decoder
			if _, err := strict.DecodeAMF0All(unhex(t, tc.hex), nil); (err == nil) != (tc.name == "terminated") {
				t.Fatalf("strict decoder: %v", err)
			}
		})
	}
}

func TestAliasInput(t *testing.T) {
	b := unhex(t, "11 0a 0b 01 03 73 06 05 68 69 03 62 0c 05 01 02 01")
	for _, alias := range []bool{false, true} {
		d := Decoder{AliasInput: alias}
		in := bytes.Clone(b)
		v, _, err := d.DecodeAMF0(in)
		if err != nil {
			t.Fatal(err)
		}
		in[8], in[14] = 'X', 9 // change "hi" and the byte array in the input
		if s := v.Get("s").Str(); (s == "Xi") != alias {
			t.Errorf("alias=%v: string %q", alias, s)
		}
		if ba := v.Get("b").Bytes(); (ba[0] == 9) != alias {
			t.Errorf("alias=%v: bytes % x", alias, ba)
		}
	}
}

func TestClone(t *testing.T) {
	for _, tc := range sampleValues() {
		c := Clone(tc.v)
		if !Equal(c, tc.v) {
			t.Errorf("%s: clone differs: %v", tc.name, c)
		}
		if tc.v.kind.isRef() && Same(c, tc.v) {
			t.Errorf("%s: clone shares the node", tc.name)
		}
	}
	o := Object()
	a := StrictArray(o, o)
	c := Clone(a)
	if !Same(c.Elems()[0], c.Elems()[1]) || Same(c.Elems()[0], o) {
		t.Error("clone does not keep sharing")
	}
}

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		v  Value
		n  int64
		ok bool
	}{
		{Number(3), 3, true},
		{Number(-7), -7, true},
		{Number(1 << 53), 1 << 53, true},
		{Number(1<<53 + 2), 0, false},
		{Number(1.5), 0, false},
		{Number(math.NaN()), 0, false},
		{Number(math.Inf(1)), 0, false},
		{String("3"), 0, false},
		{Date(3), 0, false},
	} {
		if n, ok := tc.v.Int(); n != tc.n || ok != tc.ok {
			t.Errorf("%v.Int() = %d, %v", tc.v, n, ok)
		}
	}
}

func TestValueIsSmall(t *testing.T) {
	if s := unsafe.Sizeof(Value{}); s > 40 {
		t.Errorf("Value is %d bytes", s)
	}
}

// TestReusedInputBuffer: without AliasInput, decoded strings stay valid when
// the caller reuses its buffer, also with DecodeAMF0At and no Reset.
func TestReusedInputBuffer(t *testing.T) {
	buf := unhex(t, "02 00 01 61")
	var d Decoder
	v1, _, err := d.DecodeAMF0At(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf[3] = 'b'
	v2, _, err := d.DecodeAMF0At(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	v3, _, _ := d.DecodeAMF0(buf)
	buf[3] = 'c'
	if v1.Str() != "a" || v2.Str() != "b" || v3.Str() != "b" {
		t.Fatalf("got %q %q %q", v1.Str(), v2.Str(), v3.Str())
	}
}

// TestAMF3TraitsIndexAfterAnonymous: an anonymous object's inline traits
// take a slot in the decoder's traits table, so a later traits reference
// must count it (found by the browser library's AMF3 decoder, which
// numbers traits as docs/amf.md#amf3-reference-tables says).
func TestAMF3TraitsIndexAfterAnonymous(t *testing.T) {
	pt := &Traits{Class: "Point", Sealed: []string{"x"}}
	var elems []Value
	for i := range 12 { // past the encoder's inline table into its map
		elems = append(elems, Object(Prop{"a", Number(float64(i))}))
	}
	elems = append(elems, ObjectWithTraits(pt, Prop{"x", Number(1)}), ObjectWithTraits(pt, Prop{"x", Number(2)}))
	for _, n := range []int{1, 12} {
		v := StrictArray(append(append([]Value{}, elems[:n]...), elems[12:]...)...)
		var e Encoder
		b, err := e.AppendAMF3(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		got, _, err := d.DecodeAMF3(b)
		if err != nil || !Equal(got, v) {
			t.Fatalf("%d anonymous objects first: decoded %v, %v from % x", n, got, err, b)
		}
	}
}
