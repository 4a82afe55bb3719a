package message

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Payloads of docs/rtmp.md#header-examples (the bytes after the 12-byte chunk header).
func TestControlPayloads(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"set chunk size 4096", AppendU32(nil, 4096), "00 00 10 00"},
		{"window ack 2500000", AppendU32(nil, 2500000), "00 26 25 a0"},
		{"peer bandwidth dynamic", SetPeerBandwidth{Window: 2500000, Limit: LimitDynamic}.Append(nil), "00 26 25 a0 02"},
		{"ack 123456", AppendU32(nil, 123456), "00 01 e2 40"},
		{"stream begin 1", UserControl{Event: EventStreamBegin, Value: 1}.Append(nil), "00 00 00 00 00 01"},
		{"ping request 1000", UserControl{Event: EventPingRequest, Value: 1000}.Append(nil), "00 06 00 00 03 e8"},
		{"set buffer length 1 3000", UserControl{Event: EventSetBufferLength, Value: 1, Extra: 3000}.Append(nil), "00 03 00 00 00 01 00 00 0b b8"},
	} {
		if want := unhex(t, tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s: % x, want % x", tc.name, tc.got, want)
		}
	}
	uc, err := ParseUserControl(unhex(t, "00 03 00 00 00 01 00 00 0b b8"))
	if err != nil || uc != (UserControl{Event: EventSetBufferLength, Value: 1, Extra: 3000}) {
		t.Errorf("ParseUserControl = %+v, %v", uc, err)
	}
	if _, err := ParseUserControl(unhex(t, "00 00 00")); !errors.Is(err, ErrShort) {
		t.Errorf("short StreamBegin: %v", err)
	}
	if uc, err := ParseUserControl(unhex(t, "00 63")); err != nil || uc.Event != 99 {
		t.Errorf("unknown event must be ignored, got %+v %v", uc, err)
	}
	bw, err := ParseSetPeerBandwidth(unhex(t, "00 26 25 a0 02"))
	if err != nil || bw != (SetPeerBandwidth{2500000, LimitDynamic}) {
		t.Errorf("ParseSetPeerBandwidth = %+v %v", bw, err)
	}
}

// The createStream _result of docs/rtmp.md#header-examples, byte for byte.
func TestCommandCreateStreamResult(t *testing.T) {
	var e amf.Encoder
	cmd := Command{Name: "_result", Txn: 2, Object: amf.Null(), Args: []amf.Value{amf.Number(1)}}
	got, err := cmd.Append(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00")
	if !bytes.Equal(got, want) {
		t.Fatalf("% x\nwant % x", got, want)
	}
	var d amf.Decoder
	for _, typ := range []Type{TypeCommand, TypeCommandAMF3} {
		body := got
		if typ == TypeCommandAMF3 {
			body = append([]byte{0x00}, got...)
		}
		back, err := ParseCommand(body, typ, &d, nil)
		if err != nil || back.Name != "_result" || back.Txn != 2 || !back.Object.IsNull() || back.Arg(0).Num() != 1 || !back.Arg(5).IsUndefined() {
			t.Errorf("type %d: ParseCommand = %+v, %v", typ, back, err)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	var d amf.Decoder
	for name, body := range map[string][]byte{
		"empty amf3":    {},
		"no txn":        unhex(t, "02 00 01 61"),
		"number first":  unhex(t, "00 3f f0 00 00 00 00 00 00 00 3f f0 00 00 00 00 00 00"),
		"truncated amf": unhex(t, "02 00 09 61"),
		"bad marker":    unhex(t, "02 00 01 61 00 3f f0 00 00 00 00 00 00 04"),
	} {
		typ := TypeCommand
		if name == "empty amf3" {
			typ = TypeCommandAMF3
		}
		if _, err := ParseCommand(body, typ, &d, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDataAndHandler(t *testing.T) {
	var e amf.Encoder
	m := Data{Handler: "@setDataFrame", Args: []amf.Value{amf.String("onMetaData"), amf.ECMAArray(amf.Prop{Key: "duration", Value: amf.Number(0)})}}
	body, err := m.Append(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	h, n, ok := Handler(body)
	if !ok || h != "@setDataFrame" || n != 16 {
		t.Fatalf("Handler = %q %d %v", h, n, ok)
	}
	var d amf.Decoder
	rest, err := ParseData(body[n:], TypeData, &d, nil)
	if err != nil || rest.Handler != "onMetaData" || rest.Args[0].Get("duration").Kind() != amf.KindNumber {
		t.Fatalf("stripped body = %+v %v", rest, err)
	}
	amf3 := append([]byte{0x00}, body...)
	back, err := ParseData(amf3, TypeDataAMF3, &d, nil)
	if err != nil || back.Handler != "@setDataFrame" || len(back.Args) != 2 {
		t.Fatalf("AMF3 data = %+v %v", back, err)
	}
	for _, bad := range [][]byte{nil, {0x02, 0x00}, {0x02, 0x00, 0x05, 'a'}, {0x00}} {
		if _, _, ok := Handler(bad); ok {
			t.Errorf("Handler(% x) ok", bad)
		}
	}
}

// FuzzParse feeds arbitrary payloads to every parser of the package: no
// panic, and a command that parses re-encodes to one that parses the same.
func FuzzParse(f *testing.F) {
	var e amf.Encoder
	seed, _ := (&Command{Name: "connect", Txn: 1, Object: amf.Object(amf.Prop{Key: "app", Value: amf.String("live")})}).Append(nil, &e)
	f.Add(seed)
	f.Add(unhex(f, "00 03 00 00 00 01 00 00 0b b8"))
	f.Add(unhex(f, "02 00 0d 40 73 65 74 44 61 74 61 46 72 61 6d 65"))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = ParseU32(p)
		_, _ = ParseSetPeerBandwidth(p)
		_, _ = ParseUserControl(p)
		_, _, _ = Handler(p)
		var d amf.Decoder
		_, _ = ParseData(p, TypeData, &d, nil)
		cmd, err := ParseCommand(p, TypeCommand, &d, nil)
		if err != nil {
			return
		}
		var e amf.Encoder
		out, err := cmd.Append(nil, &e)
		if err != nil {
			return // values AMF0 cannot carry without a switch are allowed to fail
		}
		back, err := ParseCommand(out, TypeCommand, &d, nil)
		if err != nil || back.Name != cmd.Name || len(back.Args) != len(cmd.Args) {
			t.Fatalf("re-encoded command does not parse back: %v", err)
		}
	})
}
