package remoting

import (
	"errors"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

// FuzzUnmarshal checks that no input panics, that errors carry an offset in
// the input, and that what decodes re-encodes to a packet that decodes to
// the same thing. Seeds: the vectors of TestVectors (and testdata/fuzz).
func FuzzUnmarshal(f *testing.F) {
	for _, v := range vectors() {
		f.Add(unhex(f, v.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxBytes: 1 << 16}
		var p Packet
		if err := p.Unmarshal(b, lim); err != nil {
			de, ok := errors.AsType[*amf.DecodeError](err)
			if !ok || de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		out, err := p.Append(nil, Limits{MaxBytes: 1 << 20})
		if err != nil {
			// A shared subgraph written without references may expand
			// past the limit; anything else decoded must encode.
			if errors.Is(err, amf.ErrExpand) || errors.Is(err, amf.ErrTooLarge) {
				return
			}
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		var again Packet
		if err := again.Unmarshal(out, Limits{MaxBytes: 1 << 20}); err != nil {
			t.Fatalf("re-decode: %v\n% x", err, out)
		}
		if !packetEqual(&p, &again) {
			t.Fatalf("round trip changed the packet:\n%+v\n%+v", p, again)
		}
	})
}

func benchPacket() Packet {
	row := func(i float64) amf.Value {
		return amf.Object(prop("id", amf.Number(i)), prop("name", amf.String("user name")), prop("active", amf.Bool(true)))
	}
	rows := amf.StrictArray()
	for i := range 50 {
		rows.Append(row(float64(i)))
	}
	return Packet{Version: VersionFMS,
		Headers:  []Header{{Name: "Credentials", Value: amf.Object(prop("userid", amf.String("alice")), prop("password", amf.String("secret")))}},
		Messages: []Message{{Target: "/1/onResult", Response: "null", Value: rows}},
	}
}

// BenchmarkUnmarshal decodes a gateway answer of 50 records.
func BenchmarkUnmarshal(b *testing.B) {
	p := benchPacket()
	in, err := p.Marshal(Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var out Packet
	for b.Loop() {
		if err := out.Unmarshal(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend encodes the same packet into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	p := benchPacket()
	buf, err := p.Append(nil, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = p.Append(buf[:0], Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
