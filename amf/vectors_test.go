package amf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func p(k string, v Value) Prop { return Prop{Key: k, Value: v} }

type vector struct {
	name  string
	amf3  bool  // AMF3 (else AMF0)
	v     Value // value encoded and expected from decoding
	hex   string
	enc   *Encoder // encoder settings when the default does not produce hex
	noEnc bool     // decode-only vector
}

func point(x, y float64) Value {
	return TypedObject("Point", p("x", Number(x)), p("y", Number(y)))
}

// amf0Vectors are docs/amf.md#test-vectors.
func amf0Vectors() []vector {
	o := Object()
	return []vector{
		{name: "A1 number 0", v: Number(0), hex: "00 00 00 00 00 00 00 00 00"},
		{name: "A2 number 1", v: Number(1), hex: "00 3f f0 00 00 00 00 00 00"},
		{name: "A3 number -2.5", v: Number(-2.5), hex: "00 c0 04 00 00 00 00 00 00"},
		{name: "A4 NaN canonical", v: Number(math.NaN()), hex: "00 7f f8 00 00 00 00 00 00"},
		{name: "A5 true", v: Bool(true), hex: "01 01"},
		{name: "A5 false", v: Bool(false), hex: "01 00"},
		{name: "A6 string app", v: String("app"), hex: "02 00 03 61 70 70"},
		{name: "A7 empty string", v: String(""), hex: "02 00 00"},
		{name: "A8 string hé", v: String("hé"), hex: "02 00 03 68 c3 a9"},
		{name: "A9 object", v: Object(p("a", Number(1))), hex: "03 00 01 61 00 3f f0 00 00 00 00 00 00 00 00 09"},
		{name: "A10 nested", v: Object(p("name", String("x")), p("inner", Object(p("n", Number(1))))),
			hex: "03 00 04 6e 61 6d 65 02 00 01 78 00 05 69 6e 6e 65 72 03 00 01 6e 00 3f f0 00 00 00 00 00 00 00 00 09 00 00 09"},
		{name: "A11 null", v: Null(), hex: "05"},
		{name: "A11 undefined", v: Undefined(), hex: "06"},
		{name: "A12 strict array with shared object", v: StrictArray(o, o), hex: "0a 00 00 00 02 03 00 00 09 07 00 01",
			enc: &Encoder{ShareRepeats: true}},
		{name: "A13 ECMA array", v: ECMAArray(p("duration", Number(10.5)), p("width", Number(320))),
			hex: "08 00 00 00 02 00 08 64 75 72 61 74 69 6f 6e 00 40 25 00 00 00 00 00 00 00 05 77 69 64 74 68 00 40 74 00 00 00 00 00 00 00 00 09"},
		{name: "A14 ECMA array count 0", v: ECMAArray(p("duration", Number(10.5))), noEnc: true,
			hex: "08 00 00 00 00 00 08 64 75 72 61 74 69 6f 6e 00 40 25 00 00 00 00 00 00 00 00 09"},
		{name: "A15 strict array", v: StrictArray(Number(1), String("a"), Bool(true)),
			hex: "0a 00 00 00 03 00 3f f0 00 00 00 00 00 00 02 00 01 61 01 01"},
		{name: "A16 date", v: Date(1136073600000), hex: "0b 42 70 88 34 36 c0 00 00 00 00"},
		{name: "A17 long string", v: String(strings.Repeat("a", 70000)), hex: "0c 00 01 11 70" + strings.Repeat("61", 70000)},
		{name: "A18 unsupported", v: Unsupported(), hex: "0d"},
		{name: "A19 XML document", v: XMLDocument("<a/>"), hex: "0f 00 00 00 04 3c 61 2f 3e"},
		{name: "A20 typed object", v: point(1, 2),
			hex: "10 00 05 50 6f 69 6e 74 00 01 78 00 3f f0 00 00 00 00 00 00 00 01 79 00 40 00 00 00 00 00 00 00 00 00 09"},
		{name: "A21 switch integer", v: Number(5), hex: "11 04 05", enc: &Encoder{SwitchAll: true}},
		{name: "A22 switch string", v: String("hi"), hex: "11 06 05 68 69", enc: &Encoder{SwitchAll: true}},
	}
}

// amf3Vectors are docs/amf.md#test-vectors.
func amf3Vectors() []vector {
	pt := &Traits{Class: "Point", Sealed: []string{"x", "y"}}
	o := Object()
	self := StrictArray()
	self.Append(self)
	return []vector{
		{name: "B1 undefined", v: Undefined(), hex: "00"},
		{name: "B1 null", v: Null(), hex: "01"},
		{name: "B1 false", v: Bool(false), hex: "02"},
		{name: "B1 true", v: Bool(true), hex: "03"},
		{name: "B2 integer 0", v: Number(0), hex: "04 00"},
		{name: "B3 integer 127", v: Number(127), hex: "04 7f"},
		{name: "B4 integer 128", v: Number(128), hex: "04 81 00"},
		{name: "B5 integer 16383", v: Number(16383), hex: "04 ff 7f"},
		{name: "B6 integer 16384", v: Number(16384), hex: "04 81 80 00"},
		{name: "B7 integer 2097151", v: Number(2097151), hex: "04 ff ff 7f"},
		{name: "B8 integer 2097152", v: Number(2097152), hex: "04 80 c0 80 00"},
		{name: "B9 integer 2^28-1", v: Number(268435455), hex: "04 bf ff ff ff"},
		{name: "B10 integer -1", v: Number(-1), hex: "04 ff ff ff ff"},
		{name: "B11 integer -2^28", v: Number(-268435456), hex: "04 c0 80 80 00"},
		{name: "B12 2^28 as double", v: Number(268435456), hex: "05 41 b0 00 00 00 00 00 00"},
		{name: "B13 2^29-1 as double", v: Number(536870911), hex: "05 41 bf ff ff ff 00 00 00"},
		{name: "B14 -2^28-1 as double", v: Number(-268435457), hex: "05 c1 b0 00 00 01 00 00 00"},
		{name: "B15 integer 70000", v: Number(70000), hex: "04 84 a2 70"},
		{name: "B16 double 1.5", v: Number(1.5), hex: "05 3f f8 00 00 00 00 00 00"},
		{name: "B16 double -0", v: Number(math.Copysign(0, -1)), hex: "05 80 00 00 00 00 00 00 00"},
		{name: "B17 string hi", v: String("hi"), hex: "06 05 68 69"},
		{name: "B17 empty string", v: String(""), hex: "06 01"},
		{name: "B18 string reference", v: StrictArray(String("hi"), String("hi"), String("")), hex: "09 07 01 06 05 68 69 06 00 06 01"},
		{name: "B19 date 0", v: Date(0), hex: "08 01 00 00 00 00 00 00 00 00"},
		{name: "B20 date 2006", v: Date(1136073600000), hex: "08 01 42 70 88 34 36 c0 00 00"},
		{name: "B21 dense array", v: StrictArray(Number(1), Number(2), Number(3)), hex: "09 07 01 04 01 04 02 04 03"},
		{name: "B22 mixed array", v: MixedArray([]Value{Number(1)}, p("a", String("b"))), hex: "09 03 03 61 06 03 62 01 04 01"},
		{name: "B23 anonymous object", v: Object(p("a", Number(1))), hex: "0a 0b 01 03 61 04 01 01"},
		{name: "B24 sealed and dynamic", v: ObjectWithTraits(&Traits{Class: "Point", Sealed: []string{"x", "y"}, Dynamic: true},
			p("x", Number(1)), p("y", Number(2)), p("label", String("p"))),
			hex: "0a 2b 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0b 6c 61 62 65 6c 06 03 70 01"},
		{name: "B25 traits reference", v: StrictArray(
			ObjectWithTraits(pt, p("x", Number(1)), p("y", Number(2))),
			ObjectWithTraits(pt, p("x", Number(3)), p("y", Number(4)))),
			hex: "09 05 01 0a 23 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0a 01 04 03 04 04"},
		{name: "B26 object reference", v: StrictArray(o, o), hex: "09 05 01 0a 0b 01 01 0a 02"},
		{name: "B27 self-containing array", v: self, hex: "09 03 01 09 00"},
		{name: "B28 sealed alias", v: ObjectWithTraits(&Traits{Class: "myAlias", Sealed: []string{"name", "age", "hidden"}},
			p("name", String("Ann")), p("age", Number(30)), p("hidden", String("h"))),
			hex: "0a 33 0f 6d 79 41 6c 69 61 73 09 6e 61 6d 65 07 61 67 65 0d 68 69 64 64 65 6e 06 07 41 6e 6e 04 1e 06 03 68"},
		{name: "B29 ArrayCollection", v: Externalizable(ClassArrayCollection, StrictArray(String("a"))),
			hex: "0a 07 43 66 6c 65 78 2e 6d 65 73 73 61 67 69 6e 67 2e 69 6f 2e 41 72 72 61 79 43 6f 6c 6c 65 63 74 69 6f 6e 09 03 01 06 03 61"},
		{name: "B30 ByteArray", v: ByteArray([]byte{1, 2, 3}), hex: "0c 07 01 02 03"},
		{name: "B31 XML", v: XML("<a/>"), hex: "0b 09 3c 61 2f 3e"},
		{name: "B31 XMLDocument", v: XMLDocument("<a/>"), hex: "07 09 3c 61 2f 3e"},
		{name: "B32 Vector.<int>", v: VectorInt(false, 1, 2), hex: "0d 05 00 00 00 00 01 00 00 00 02"},
		{name: "B33 Vector.<int> fixed", v: VectorInt(true, 1, -1), hex: "0d 05 01 00 00 00 01 ff ff ff ff"},
		{name: "B34 Vector.<uint>", v: VectorUint(false, 1, 4294967295), hex: "0e 05 00 00 00 00 01 ff ff ff ff"},
		{name: "B35 Vector.<Number>", v: VectorDouble(false, 1.5), hex: "0f 03 00 3f f8 00 00 00 00 00 00"},
		{name: "B36 Vector.<Object>", v: VectorObject(false, "String", String("a"), String("b")), hex: "10 05 00 0d 53 74 72 69 6e 67 06 03 61 06 03 62"},
		{name: "B37 Dictionary", v: Dictionary(false, DictEntry{String("k"), Number(1)}), hex: "11 03 00 06 03 6b 04 01"},
	}
}

func TestVectors(t *testing.T) {
	var all []vector
	all = append(all, amf0Vectors()...)
	for _, v := range amf3Vectors() {
		v.amf3 = true
		all = append(all, v)
	}
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			if !tc.noEnc {
				e := tc.enc
				if e == nil {
					e = &Encoder{}
				}
				prefix := []byte{0xee} // encoders append
				var got []byte
				var err error
				switch {
				case tc.amf3:
					got, err = e.AppendAMF3(prefix, tc.v)
				case e.SwitchAll:
					got, err = e.AppendAMF0Switched(prefix, tc.v)
				default:
					got, err = e.AppendAMF0(prefix, tc.v)
				}
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if !bytes.Equal(got[1:], want) || got[0] != 0xee {
					t.Fatalf("encode:\n got % x\nwant % x", got[1:], want)
				}
			}
			var d Decoder
			var v Value
			var n int
			var err error
			if tc.amf3 {
				v, n, err = d.DecodeAMF3(want)
			} else {
				v, n, err = d.DecodeAMF0(want)
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if n != len(want) {
				t.Fatalf("decode consumed %d of %d bytes", n, len(want))
			}
			if !Equal(v, tc.v) {
				t.Fatalf("decode:\n got %v\nwant %v", v, tc.v)
			}
		})
	}
}

// TestVectorSharing checks that references decode to the same instance.
func TestVectorSharing(t *testing.T) {
	var d Decoder
	v, _, err := d.DecodeAMF0(unhex(t, "0a 00 00 00 02 03 00 00 09 07 00 01"))
	if err != nil {
		t.Fatal(err)
	}
	if !Same(v.Elems()[0], v.Elems()[1]) {
		t.Error("A12: elements are not the same instance")
	}
	v, _, err = d.DecodeAMF3(unhex(t, "09 05 01 0a 0b 01 01 0a 02"))
	if err != nil {
		t.Fatal(err)
	}
	if !Same(v.Elems()[0], v.Elems()[1]) {
		t.Error("B26: elements are not the same instance")
	}
	v, _, err = d.DecodeAMF3(unhex(t, "09 03 01 09 00"))
	if err != nil {
		t.Fatal(err)
	}
	if !Same(v, v.Elems()[0]) {
		t.Error("B27: array does not contain itself")
	}
	v, _, err = d.DecodeAMF3(unhex(t, "09 05 01 0a 23 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0a 01 04 03 04 04"))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := v.Elems()[0].Traits(), v.Elems()[1].Traits(); a == nil || a != b {
		t.Error("B25: objects do not share traits")
	}
	if got := v.Elems()[1].Get("y").Num(); got != 4 {
		t.Errorf("B25: second y = %v", got)
	}
}

const connectHex = `
02 00 07 63 6f 6e 6e 65 63 74 00 3f f0 00 00 00
00 00 00 03 00 03 61 70 70 02 00 03 76 6f 64 00
08 66 6c 61 73 68 56 65 72 02 00 0e 57 49 4e 20
31 30 2c 30 2c 33 32 2c 31 38 00 06 73 77 66 55
72 6c 02 00 1d 68 74 74 70 3a 2f 2f 65 78 61 6d
70 6c 65 2e 63 6f 6d 2f 70 6c 61 79 65 72 2e 73
77 66 00 05 74 63 55 72 6c 02 00 16 72 74 6d 70
3a 2f 2f 65 78 61 6d 70 6c 65 2e 63 6f 6d 2f 76
6f 64 00 04 66 70 61 64 01 00 00 0c 63 61 70 61
62 69 6c 69 74 69 65 73 00 40 6d e0 00 00 00 00
00 00 0b 61 75 64 69 6f 43 6f 64 65 63 73 00 40
ab ee 00 00 00 00 00 00 0b 76 69 64 65 6f 43 6f
64 65 63 73 00 40 6f 80 00 00 00 00 00 00 0d 76
69 64 65 6f 46 75 6e 63 74 69 6f 6e 00 3f f0 00
00 00 00 00 00 00 07 70 61 67 65 55 72 6c 02 00
1d 68 74 74 70 3a 2f 2f 65 78 61 6d 70 6c 65 2e
63 6f 6d 2f 69 6e 64 65 78 2e 68 74 6d 6c 00 0e
6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e 67 00 00
00 00 00 00 00 00 00 00 00 09`

func connectValues() []Value {
	return []Value{String("connect"), Number(1), Object(
		p("app", String("vod")),
		p("flashVer", String("WIN 10,0,32,18")),
		p("swfUrl", String("http://example.com/player.swf")),
		p("tcUrl", String("rtmp://example.com/vod")),
		p("fpad", Bool(false)),
		p("capabilities", Number(239)),
		p("audioCodecs", Number(3575)),
		p("videoCodecs", Number(252)),
		p("videoFunction", Number(1)),
		p("pageUrl", String("http://example.com/index.html")),
		p("objectEncoding", Number(0)),
	)}
}

const resultHex = `
02 00 07 5f 72 65 73 75 6c 74 00 3f f0 00 00 00
00 00 00 03 00 06 66 6d 73 56 65 72 02 00 0d 46
4d 53 2f 33 2c 30 2c 31 2c 31 32 33 00 0c 63 61
70 61 62 69 6c 69 74 69 65 73 00 40 3f 00 00 00
00 00 00 00 04 6d 6f 64 65 00 3f f0 00 00 00 00
00 00 00 00 09 03 00 05 6c 65 76 65 6c 02 00 06
73 74 61 74 75 73 00 04 63 6f 64 65 02 00 1d 4e
65 74 43 6f 6e 6e 65 63 74 69 6f 6e 2e 43 6f 6e
6e 65 63 74 2e 53 75 63 63 65 73 73 00 0b 64 65
73 63 72 69 70 74 69 6f 6e 02 00 15 43 6f 6e 6e
65 63 74 69 6f 6e 20 73 75 63 63 65 65 64 65 64
2e 00 0e 6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e
67 00 00 00 00 00 00 00 00 00 00 00 09`

func resultValues() []Value {
	return []Value{String("_result"), Number(1),
		Object(p("fmsVer", String("FMS/3,0,1,123")), p("capabilities", Number(31)), p("mode", Number(1))),
		Object(p("level", String("status")), p("code", String("NetConnection.Connect.Success")),
			p("description", String("Connection succeeded.")), p("objectEncoding", Number(0)))}
}

// TestCommandBodies covers docs/amf.md#test-vectors.
func TestCommandBodies(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		vs   []Value
		size int
	}{
		{"C1 connect", connectHex, connectValues(), 298},
		{"C2 connect _result", resultHex, resultValues(), 205},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			if len(want) != tc.size {
				t.Fatalf("vector has %d bytes, want %d", len(want), tc.size)
			}
			got, err := AppendAMF0Values(nil, tc.vs...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got % x\nwant % x", got, want)
			}
			var d Decoder
			vs, err := d.DecodeAMF0All(want, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(StrictArray(vs...), StrictArray(tc.vs...)) {
				t.Fatalf("decode: got %v", vs)
			}
		})
	}
	t.Run("C1 objectEncoding 3", func(t *testing.T) {
		want := unhex(t, connectHex)
		copy(want[len(want)-12:], unhex(t, "00 40 08 00 00 00 00 00 00"))
		var d Decoder
		vs, err := d.DecodeAMF0All(want, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := vs[2].Get("objectEncoding").Num(); got != 3 {
			t.Fatalf("objectEncoding = %v", got)
		}
	})
	t.Run("C3 AMF3 call", func(t *testing.T) {
		want := unhex(t, "00 02 00 04 65 63 68 6f 00 40 00 00 00 00 00 00 00 05 11 06 05 68 69")
		e := Encoder{SwitchAll: true}
		b := []byte{0}
		var err error
		for _, v := range []Value{String("echo"), Number(2), Null()} {
			if b, err = e.AppendAMF0(b, v); err != nil {
				t.Fatal(err)
			}
		}
		if b, err = e.AppendAMF0Switched(b, String("hi")); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("encode:\n got % x\nwant % x", b, want)
		}
		var d Decoder
		vs, err := d.DecodeAMF0All(want[1:], nil)
		if err != nil {
			t.Fatal(err)
		}
		if !Equal(StrictArray(vs...), StrictArray(String("echo"), Number(2), Null(), String("hi"))) {
			t.Fatalf("decode: got %v", vs)
		}
	})
}

// TestNegativeVectors covers the failing inputs of docs/amf.md#test-vectors.
func TestNegativeVectors(t *testing.T) {
	deep := strings.Repeat("03 00 01 61 ", 65) + "05"
	for _, tc := range []struct {
		name   string
		hex    string
		amf3   bool
		err    error
		msg    string
		offset int
	}{
		{"truncated string", "02 00 05 61 62", false, ErrTruncated, "amf0: truncated string: length 5 exceeds remaining 2 bytes", 1},
		{"strict array count", "0a ff ff ff ff 05", false, ErrTruncated, "amf0: strict array count 4294967295 exceeds remaining 1 bytes", 1},
		{"reference into empty table", "07 00 00", false, ErrBadReference, "amf0: reference index 0 out of range (table has 0)", 0},
		{"empty key without object-end", "03 00 00 05", false, ErrMalformed, "amf0: empty key not followed by object-end", 1},
		{"movieclip", "04", false, ErrUnsupported, "amf0: unsupported marker 0x04 (movieclip)", 0},
		{"recordset", "0e", false, ErrUnsupported, "recordset", 0},
		{"unknown AMF0 marker", "12", false, ErrUnknownMarker, "amf0: unknown marker 0x12", 0},
		{"object-end as value", "09", false, ErrUnknownMarker, "object-end", 0},
		{"truncated AMF3 array", "11 09 03 01", false, ErrTruncated, "amf3: truncated value", 4},
		{"object reference out of range", "11 0a 00", false, ErrBadReference, "amf3: object reference 0 out of range (table has 0)", 1},
		{"string reference out of range", "11 06 02", false, ErrBadReference, "amf3: string reference 1 out of range (table has 0)", 2},
		{"externalizable", "11 0a 07 03 58", false, ErrUnsupported, `amf3: externalizable class "X" not supported`, 1},
		{"65 nested objects", deep, false, ErrTooDeep, "amf: nesting deeper than 64", 64 * 4},
		{"unknown AMF3 marker", "12", true, ErrUnknownMarker, "amf3: unknown marker 0x12", 0},
		{"traits reference out of range", "0a 05", true, ErrBadReference, "amf3: traits reference 1 out of range (table has 0)", 0},
		{"huge ByteArray", "0c ff ff ff ff 00", true, ErrTruncated, "ByteArray: length", 1},
		{"huge vector", "0f ff ff ff ff 00", true, ErrTruncated, "Vector.<Number> count", 1},
		{"huge dictionary", "11 ff ff ff ff 00 04 01", true, ErrTruncated, "Dictionary entry count", 1},
		{"huge sealed count", "0a ff ff ff f3 01", true, ErrTruncated, "sealed member count", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			var err error
			if tc.amf3 {
				_, _, err = d.DecodeAMF3(unhex(t, tc.hex))
			} else {
				_, _, err = d.DecodeAMF0(unhex(t, tc.hex))
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
			if !strings.Contains(de.Msg, tc.msg) {
				t.Errorf("msg = %q, want it to contain %q", de.Msg, tc.msg)
			}
			if de.Offset != tc.offset {
				t.Errorf("offset = %d, want %d (%v)", de.Offset, tc.offset, err)
			}
			if !strings.Contains(err.Error(), "at offset") {
				t.Errorf("Error() = %q lacks the offset", err)
			}
		})
	}
}
