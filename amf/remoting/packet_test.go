package remoting

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func prop(k string, v amf.Value) amf.Prop { return amf.Prop{Key: k, Value: v} }

type vector struct {
	name  string
	p     Packet
	hex   string
	noEnc bool // decode only: our encoder writes other (equivalent) bytes
}

// vectors are written by hand from the envelope layout in
// docs/remoting.md#the-envelope, byte by byte, not produced by Append.
func vectors() []vector {
	return []vector{
		{name: "flash player 8 request echo.add(2, 3)",
			p: Packet{Version: VersionAMF0, Messages: []Message{{Target: "echo.add", Response: "/1",
				Value: amf.StrictArray(amf.Number(2), amf.Number(3))}}},
			hex: `0000 0000 0001
				0008 6563686f2e616464 0002 2f31 00000017
				0a00000002 004000000000000000 004008000000000000`},
		{name: "fcs request with a Credentials header",
			p: Packet{Version: VersionFMS,
				Headers: []Header{{Name: "Credentials", Value: amf.Object(
					prop("userid", amf.String("alice")), prop("password", amf.String("secret")))}},
				Messages: []Message{{Target: "auth.whoami", Response: "/2", Value: amf.StrictArray()}}},
			hex: `0001 0001
				000b 43726564656e7469616c73 00 00000027
				03 0006 757365726964 02 0005 616c696365 0008 70617373776f7264 02 0006 736563726574 000009
				0001 000b 617574682e77686f616d69 0002 2f32 00000005 0a00000000`},
		{name: "gateway result",
			p:   Packet{Messages: []Message{{Target: "/1/onResult", Response: "null", Value: amf.Number(5)}}},
			hex: `0000 0000 0001 000b 2f312f6f6e526573756c74 0004 6e756c6c 00000009 004014000000000000`},
		{name: "gateway status of unmeasured length", noEnc: true,
			p: Packet{Messages: []Message{{Target: "/1/onStatus", Response: "null",
				Value: amf.Object(prop("code", amf.String("Server.Processing")))}}},
			hex: `0000 0000 0001 000b 2f312f6f6e537461747573 0004 6e756c6c ffffffff
				03 0004 636f6465 02 0011 5365727665722e50726f63657373696e67 000009`},
		{name: "gateway AppendToGatewayUrl header, no message",
			p:   Packet{Headers: []Header{{Name: "AppendToGatewayUrl", Value: amf.String("?s=1")}}},
			hex: `0000 0001 0012 417070656e64546f4761746577617955726c 00 00000007 02 0004 3f733d31 0000`},
		{name: "mustUnderstand header",
			p:   Packet{Headers: []Header{{Name: "h", MustUnderstand: true, Value: amf.Null()}}},
			hex: `0000 0001 0001 68 01 00000001 05 0000`},
		{name: "flash player 9 AMF3 result", noEnc: true,
			p:   Packet{Version: VersionAMF3, Messages: []Message{{Target: "/1/onResult", Value: amf.Number(5)}}},
			hex: `0003 0000 0001 000b 2f312f6f6e526573756c74 0000 00000003 110405`},
		{name: "length 0 (not measured)", noEnc: true,
			p:   Packet{Messages: []Message{{Target: "/1/onResult", Response: "null", Value: amf.Null()}}},
			hex: `0000 0000 0001 000b 2f312f6f6e526573756c74 0004 6e756c6c 00000000 05`},
	}
}

func packetEqual(a, b *Packet) bool {
	if a.Version != b.Version || len(a.Headers) != len(b.Headers) || len(a.Messages) != len(b.Messages) {
		return false
	}
	for i := range a.Headers {
		x, y := a.Headers[i], b.Headers[i]
		if x.Name != y.Name || x.MustUnderstand != y.MustUnderstand || !amf.Equal(x.Value, y.Value) {
			return false
		}
	}
	for i := range a.Messages {
		x, y := a.Messages[i], b.Messages[i]
		if x.Target != y.Target || x.Response != y.Response || !amf.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func TestVectors(t *testing.T) {
	for _, v := range vectors() {
		t.Run(v.name, func(t *testing.T) {
			want := unhex(t, v.hex)
			var got Packet
			if err := got.Unmarshal(want, Limits{}); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !packetEqual(&got, &v.p) {
				t.Fatalf("Unmarshal = %+v, want %+v", got, v.p)
			}
			if v.noEnc {
				return
			}
			b, err := v.p.Append([]byte("prefix"), Limits{})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(b[6:], want) || string(b[:6]) != "prefix" {
				t.Fatalf("Append =\n% x\nwant\n% x", b[6:], want)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	result := `0000 0000 0001 000b 2f312f6f6e526573756c74 0004 6e756c6c 00000009 004014000000000000`
	tests := []struct {
		name string
		hex  string
		lim  Limits
		want error
	}{
		{"empty", ``, Limits{}, amf.ErrTruncated},
		{"version only", `0000`, Limits{}, amf.ErrTruncated},
		{"header count past the input", `0000 0005 00`, Limits{}, amf.ErrTruncated},
		{"message count past the input", `0000 0000 ffff`, Limits{}, amf.ErrTruncated},
		{"header name past the input", `0000 0001 00ff 0000000000`, Limits{}, amf.ErrTruncated},
		{"value length past the input", `0000 0000 0001 0000 0000 00000010 05`, Limits{}, amf.ErrTruncated},
		{"value length past the input by far", `0000 0000 0001 0000 0000 fffffffe 05`, Limits{}, amf.ErrTruncated},
		{"value shorter than declared", `0000 0000 0001 0000 0000 00000002 0505`, Limits{}, amf.ErrMalformed},
		{"value longer than declared", `0000 0000 0001 0000 0000 00000001 0000`, Limits{}, amf.ErrTruncated},
		{"bad value", `0000 0000 0001 0000 0000 ffffffff 42`, Limits{}, amf.ErrUnknownMarker},
		{"bytes after the last message", result + ` 00`, Limits{}, amf.ErrMalformed},
		{"packet over the limit", result, Limits{MaxBytes: 20}, amf.ErrTooLarge},
		{"string over the value limit",
			`0000 0001 0001 68 00 00000007 02 0004 3f733d31 0000`, Limits{Value: amf.Limits{MaxStringLen: 2}}, amf.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			var p Packet
			err := p.Unmarshal(b, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal error %v, want %v", err, tc.want)
			}
			de, ok := errors.AsType[*amf.DecodeError](err)
			if !ok || de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("error %v: want an *amf.DecodeError with an offset in the input", err)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	long := strings.Repeat("x", 1<<16)
	tests := []struct {
		name string
		p    Packet
		lim  Limits
	}{
		{"header name too long", Packet{Headers: []Header{{Name: long}}}, Limits{}},
		{"target too long", Packet{Messages: []Message{{Target: long}}}, Limits{}},
		{"packet over the limit", Packet{Messages: []Message{{Target: "a.b", Value: amf.String(long)}}}, Limits{MaxBytes: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.p.Append([]byte("x"), tc.lim)
			if !errors.Is(err, amf.ErrTooLarge) {
				t.Fatalf("Append error %v, want ErrTooLarge", err)
			}
			if string(b) != "x" {
				t.Fatalf("Append left %q in the buffer on error", b)
			}
		})
	}
}

func TestSplitTarget(t *testing.T) {
	tests := []struct{ in, uri, outcome string }{
		{"/1/onResult", "/1", "onResult"},
		{"/12/onStatus", "/12", "onStatus"},
		{"/1/onDebugEvents", "/1", "onDebugEvents"},
		{"onResult", "", ""},
		{"/onResult", "", ""},
	}
	for _, tc := range tests {
		uri, outcome, ok := SplitTarget(tc.in)
		if uri != tc.uri || outcome != tc.outcome || ok != (tc.uri != "") {
			t.Errorf("SplitTarget(%q) = %q, %q, %v", tc.in, uri, outcome, ok)
		}
	}
	if got := ResponseTarget("/3", OnStatus); got != "/3/onStatus" {
		t.Errorf("ResponseTarget = %q", got)
	}
}

func TestUnmarshalReuses(t *testing.T) {
	var p Packet
	b := unhex(t, vectors()[1].hex)
	if err := p.Unmarshal(b, Limits{}); err != nil {
		t.Fatal(err)
	}
	b[len(b)-20] ^= 0xff // the decoded strings must not alias the input
	if p.Messages[0].Target != "auth.whoami" || p.Headers[0].Name != "Credentials" {
		t.Fatalf("decoded strings changed with the input: %+v", p)
	}
	if err := p.Unmarshal(unhex(t, vectors()[2].hex), Limits{}); err != nil {
		t.Fatal(err)
	}
	if len(p.Headers) != 0 || len(p.Messages) != 1 || p.Version != 0 {
		t.Fatalf("second Unmarshal kept state: %+v", p)
	}
}
