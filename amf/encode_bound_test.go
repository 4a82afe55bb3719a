package amf

import (
	"errors"
	"testing"
)

// inlineU29 is a length or count with the inline flag, as AMF3 writes it.
func inlineU29(n int) []byte { return appendU29(nil, uint32(n)<<1|1) }

// TestEncodeOutputBound: 104 KB of AMF3 (an array of 2,000 references to
// one 100 KB string) decodes to a value whose AMF0 form is 200 MB, as a
// shared object's send or change from a peer would be written. The encoder
// stops at MaxBytes of output with ErrTooLarge instead of allocating it;
// the AMF3 form (references kept) stays small and encodes.
func TestEncodeOutputBound(t *testing.T) {
	const n = 2000
	b := append([]byte{m3Array}, inlineU29(n)...)
	b = append(b, 0x01, m3String) // no associative part; element 0
	b = append(b, inlineU29(100_000)...)
	b = append(b, make([]byte, 100_000)...)
	for range n - 1 {
		b = append(b, m3String, 0x00) // string reference 0
	}
	var d Decoder
	v, _, err := d.DecodeAMF3(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		limit int
	}{{"default 16 MiB", 0}, {"1 MiB", 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			e := Encoder{Limits: Limits{MaxBytes: tc.limit}}
			prefix := []byte("already there")
			out, err := e.AppendAMF0(prefix, v)
			if !errors.Is(err, ErrTooLarge) || len(out) != len(prefix) {
				t.Fatalf("AMF0 of a 200 MB value: %d bytes, %v; want ErrTooLarge and b unchanged", len(out), err)
			}
			out, err = e.AppendAMF3(nil, v)
			if err != nil || len(out) > len(b)+16 {
				t.Fatalf("AMF3: %d bytes, %v", len(out), err)
			}
		})
	}
	e := Encoder{Limits: Limits{MaxBytes: -1}}
	if out, err := e.AppendAMF0(nil, v); err != nil || len(out) < n*100_000 {
		t.Fatalf("unlimited: %d bytes, %v", len(out), err)
	}
}
