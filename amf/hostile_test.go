package amf

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// TestTruncationEveryOffset cuts every vector at every offset: decoding
// must fail with ErrTruncated (never panic, never succeed).
func TestTruncationEveryOffset(t *testing.T) {
	type item struct {
		name string
		b    []byte
		amf3 bool
	}
	var items []item
	for _, v := range amf0Vectors() {
		if strings.HasPrefix(v.name, "A17") {
			continue // 70 000 cuts of the same string add nothing
		}
		items = append(items, item{v.name, unhex(t, v.hex), false})
	}
	for _, v := range amf3Vectors() {
		items = append(items, item{v.name, unhex(t, v.hex), true})
	}
	items = append(items, item{"C1 command object", unhex(t, connectHex)[19:], false})
	for _, it := range items {
		for cut := range len(it.b) {
			var d Decoder
			var err error
			if it.amf3 {
				_, _, err = d.DecodeAMF3(it.b[:cut])
			} else {
				_, _, err = d.DecodeAMF0(it.b[:cut])
			}
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut at %d: err = %v", it.name, cut, err)
			}
		}
	}
}

// TestHostileInput covers the rules of docs/amf.md#limits.
func TestHostileInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hex    string
		amf3   bool
		lim    Limits
		err    error
		substr string
	}{
		{"AMF0 64 nested objects ok", strings.Repeat("03 00 01 61 ", 64) + "05 " + strings.Repeat("00 00 09 ", 64), false, Limits{}, nil, ""},
		{"AMF0 65 nested strict arrays", strings.Repeat("0a 00 00 00 01 ", 65) + "05", false, Limits{}, ErrTooDeep, "nesting deeper than 64"},
		{"AMF3 65 nested arrays", strings.Repeat("09 03 01 ", 65) + "01", true, Limits{}, ErrTooDeep, "nesting deeper than 64"},
		{"AMF3 64 nested arrays ok", strings.Repeat("09 03 01 ", 64) + "01", true, Limits{}, nil, ""},
		{"AMF3 65 nested objects", strings.Repeat("0a 0b 01 03 61 ", 65) + "01", true, Limits{}, ErrTooDeep, ""},
		{"AMF3 65 nested dictionaries", strings.Repeat("11 03 00 04 01 ", 65) + "01", true, Limits{}, ErrTooDeep, ""},
		{"switch keeps depth", strings.Repeat("03 00 01 61 ", 63) + "11 09 03 01 09 03 01 01", false, Limits{}, ErrTooDeep, ""},
		{"custom depth", strings.Repeat("03 00 01 61 ", 3) + "05", false, Limits{MaxDepth: 2}, ErrTooDeep, "nesting deeper than 2"},
		{"long string length", "0c ff ff ff ff 61", false, Limits{}, ErrTruncated, "long string: length 4294967295 exceeds remaining 1 bytes"},
		{"XML length", "0f 00 00 10 00 61", false, Limits{}, ErrTruncated, "XML document"},
		{"string over limit", "02 00 05 61 61 61 61 61", false, Limits{MaxStringLen: 4}, ErrTooLarge, "string length 5 exceeds limit 4"},
		{"key over limit", "03 00 05 61 61 61 61 61 05 00 00 09", false, Limits{MaxStringLen: 4}, ErrTooLarge, "key length 5"},
		{"key length", "03 00 09 61", false, Limits{}, ErrTruncated, "key: length 9"},
		{"class name length", "10 ff ff 61", false, Limits{}, ErrTruncated, "class name"},
		{"AMF3 string length", "06 ff ff ff ff", true, Limits{}, ErrTruncated, "string: length 268435455"},
		{"AMF3 XML length", "0b 0f 61", true, Limits{}, ErrTruncated, "XML: length 7"},
		{"AMF3 dense count", "09 ff ff ff ff 01", true, Limits{}, ErrTruncated, "array dense count 268435455"},
		{"Vector.<int> count", "0d 07 00 00 00 00 01", true, Limits{}, ErrTruncated, "Vector.<int> count 3 exceeds remaining 4 bytes"},
		{"Vector.<Object> count", "10 09 00 01 06 01", true, Limits{}, ErrTruncated, "Vector.<Object>"},
		{"elements over limit", "0a 00 00 00 05 05 05 05 05 05", false, Limits{MaxElems: 3}, ErrTooLarge, ""},
		{"count over limit", "0a 00 00 00 05 05 05 05 05 05", false, Limits{MaxElems: 4}, ErrTooLarge, "strict array count 5 exceeds limit 4"},
		{"vector over limit", "0f 05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", true, Limits{MaxElems: 2}, ErrTooLarge, ""},
		{"AMF0 table limit", "0a 00 00 00 03 03 00 00 09 03 00 00 09 03 00 00 09", false, Limits{MaxRefs: 2}, ErrTooLarge, "more than 2 complex values"},
		{"AMF3 string table limit", "09 07 01 06 03 61 06 03 62 06 03 63", true, Limits{MaxRefs: 2}, ErrTooLarge, "more than 2 strings"},
		{"AMF3 object table limit", "09 07 01 08 01 00 00 00 00 00 00 00 00 09 01 01 09 01 01", true, Limits{MaxRefs: 2}, ErrTooLarge, "more than 2 objects"},
		{"input over MaxBytes", "02 00 03 61 62 63", false, Limits{MaxBytes: 5}, ErrTooLarge, "input of 6 bytes exceeds limit 5"},
		{"AMF0 reference beyond table", "0a 00 00 00 02 03 00 00 09 07 00 02", false, Limits{}, ErrBadReference, "reference index 2 out of range (table has 2)"},
		{"AMF3 object reference beyond", "09 05 01 01 09 04", true, Limits{}, ErrBadReference, "object reference 2 out of range (table has 1)"},
		{"AMF3 date reference", "08 02", true, Limits{}, ErrBadReference, ""},
		{"AMF3 ByteArray reference", "0c 00", true, Limits{}, ErrBadReference, ""},
		{"AMF3 vector reference", "0d 00", true, Limits{}, ErrBadReference, ""},
		{"AMF3 dictionary reference", "11 00", true, Limits{}, ErrBadReference, ""},
		{"AMF3 XML reference", "07 00", true, Limits{}, ErrBadReference, ""},
		{"unknown ext class", "0a 07 03 58 01", true, Limits{}, ErrUnsupported, `"X"`},
		{"ext traits reference", "09 05 01 0a 07 " + "43 66 6c 65 78 2e 6d 65 73 73 61 67 69 6e 67 2e 69 6f 2e 41 72 72 61 79 43 6f 6c 6c 65 63 74 69 6f 6e 01 0a 01 01", true, Limits{}, nil, ""},
		{"over-long U29", "04 80 80 80 00", true, Limits{}, nil, ""},
		{"reference to parent", "09 01 03 61 09 00 01", true, Limits{}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{Limits: tc.lim}
			b := unhex(t, tc.hex)
			var err error
			var n int
			if tc.amf3 {
				_, n, err = d.DecodeAMF3(b)
			} else {
				_, n, err = d.DecodeAMF0(b)
			}
			if tc.err == nil {
				if err != nil || n != len(b) {
					t.Fatalf("n=%d/%d err=%v", n, len(b), err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("err = %q, want %q in it", err, tc.substr)
			}
		})
	}
}

// TestHugeCountAllocatesLittle: a declared count that fits the input but
// whose values are missing must not reserve memory for the claim.
func TestHugeCountAllocatesLittle(t *testing.T) {
	// 1 MiB of input claiming a strict array of ~1M elements, the last of
	// which is cut off.
	b := make([]byte, 5, 1<<20)
	b[0] = 0x0a
	b[1], b[2], b[3], b[4] = 0x00, 0x10, 0x00, 0x00 // 1 048 576 elements
	b = append(b, bytes.Repeat([]byte{0x05}, 1<<20-6)...)
	var d Decoder
	if _, _, err := d.DecodeAMF0(b); !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeAMF0AtBounds(t *testing.T) {
	var d Decoder
	if _, _, err := d.DecodeAMF0At([]byte{5}, 2); !errors.Is(err, ErrTruncated) {
		t.Fatalf("offset past end: %v", err)
	}
	// Error offsets are absolute within the body.
	_, _, err := d.DecodeAMF0At(unhex(t, "05 05 02 00 09 61"), 2)
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 3 {
		t.Fatalf("err = %v", err)
	}
}

// stringRefBomb is an AMF3 strict array of n references to one string of
// size bytes: a few bytes per element on the wire, n×size when every
// reference is copied.
func stringRefBomb(n, size int) []byte {
	b := []byte{0x09}
	b = appendU29(b, uint32(n<<1|1))
	b = append(b, 0x01, 0x06)
	b = appendU29(b, uint32(size<<1|1))
	b = append(b, bytes.Repeat([]byte{'x'}, size)...)
	for range n - 1 {
		b = append(b, 0x06, 0x00) // string reference 0
	}
	return b
}

// TestCloneStringReferences: Clone copies a string that AMF3 references
// repeat once, so a 300 KB body cannot make it allocate 256 MB.
func TestCloneStringReferences(t *testing.T) {
	const n, size = 1000, 256 << 10
	v, _, err := new(Decoder).DecodeAMF3(stringRefBomb(n, size))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := Clone(v)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8*size {
		t.Fatalf("Clone allocated %d bytes for a %d-byte string referenced %d times", got, size, n)
	}
	el := c.Elems()
	if len(el) != n || el[n-1].Str() != el[0].Str() || len(el[0].Str()) != size {
		t.Fatalf("clone has %d elements", len(el))
	}
}
