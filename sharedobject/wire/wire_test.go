package wire

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzParse from the table tests")

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

const chatHdr = "00 04 63 68 61 74"

// docVectors are the byte examples of docs/shared-objects.md#byte-examples, bodies only
// (the chunk headers of (a), (b) and (c) are checked in the rtmp package).
func docVectors() []struct {
	name string
	amf3 bool
	hex  string
	msg  Message
} {
	return []struct {
		name string
		amf3 bool
		hex  string
		msg  Message
	}{
		{"doc 4a use temporary", false, chatHdr + " 00 00 00 00  00 00 00 00  00 00 00 00  01 00 00 00 00",
			Message{Name: "chat", Events: []Event{{Type: EventUse}}}},
		{"doc 4a use persistent", false, chatHdr + " 00 00 00 00  00 00 00 02  00 00 00 00  01 00 00 00 00",
			Message{Name: "chat", Flags: 2, Events: []Event{{Type: EventUse}}}},
		{"doc 4b use success", false, chatHdr + ` 00 00 00 02  00 00 00 00  00 00 00 00
			0b 00 00 00 00
			08 00 00 00 00
			04 00 00 00 0c  00 05 74 6f 70 69 63  02 00 02 47 6f
			04 00 00 00 10  00 05 63 6f 75 6e 74  00 40 08 00 00 00 00 00 00`,
			Message{Name: "chat", Version: 2, Events: []Event{{Type: EventUseSuccess}, {Type: EventClear},
				{Type: EventChange, Key: "topic", Value: amf.String("Go")},
				{Type: EventChange, Key: "count", Value: amf.Number(3)}}}},
		{"doc 4c request change", false, chatHdr + " 00 00 00 02  00 00 00 00  00 00 00 00  03 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69",
			Message{Name: "chat", Version: 2, Events: []Event{{Type: EventRequestChange, Key: "msg", Value: amf.String("hi")}}}},
		{"doc 4c request change type 16", true, "00 " + chatHdr + " 00 00 00 02  00 00 00 00  00 00 00 00  03 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69",
			Message{Name: "chat", Version: 2, Events: []Event{{Type: EventRequestChange, Key: "msg", Value: amf.String("hi")}}}},
		{"doc 4d success", false, chatHdr + " 00 00 00 03  00 00 00 00  00 00 00 00  05 00 00 00 05  00 03 6d 73 67",
			Message{Name: "chat", Version: 3, Events: []Event{{Type: EventSuccess, Key: "msg"}}}},
		{"doc 4d change", false, chatHdr + " 00 00 00 03  00 00 00 00  00 00 00 00  04 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69",
			Message{Name: "chat", Version: 3, Events: []Event{{Type: EventChange, Key: "msg", Value: amf.String("hi")}}}},
		{"doc 4e send message", false, chatHdr + " 00 00 00 03  00 00 00 00  00 00 00 00  06 00 00 00 12  02 00 07 6e 65 77 4c 69 6e 65  02 00 05 68 65 6c 6c 6f",
			Message{Name: "chat", Version: 3, Events: []Event{{Type: EventSendMessage, Key: "newLine", Args: []amf.Value{amf.String("hello")}}}}},
		{"doc 4f request remove", false, chatHdr + " 00 00 00 03  00 00 00 00  00 00 00 00  0a 00 00 00 05  00 03 6d 73 67",
			Message{Name: "chat", Version: 3, Events: []Event{{Type: EventRequestRemove, Key: "msg"}}}},
		{"doc 4f remove", false, chatHdr + " 00 00 00 04  00 00 00 00  00 00 00 00  09 00 00 00 05  00 03 6d 73 67",
			Message{Name: "chat", Version: 4, Events: []Event{{Type: EventRemove, Key: "msg"}}}},
		{"doc 4g status", false, chatHdr + ` 00 00 00 03  00 00 00 00  00 00 00 00
			07 00 00 00 23  00 1a 53 68 61 72 65 64 4f 62 6a 65 63 74 2e
			4e 6f 57 72 69 74 65 41 63 63 65 73 73  00 05 65 72 72 6f 72`,
			Message{Name: "chat", Version: 3, Events: []Event{{Type: EventStatus, Key: "SharedObject.NoWriteAccess", Level: "error"}}}},
		{"doc 4h release", false, chatHdr + " 00 00 00 04  00 00 00 00  00 00 00 00  02 00 00 00 00",
			Message{Name: "chat", Version: 4, Events: []Event{{Type: EventRelease}}}},
		{"empty event list", false, chatHdr + " 00 00 00 04  00 00 00 00  00 00 00 00",
			Message{Name: "chat", Version: 4}},
		{"unknown type 13 kept raw", false, chatHdr + " 00 00 00 04  00 00 00 00  00 00 00 00  0d 00 00 00 02 ab cd",
			Message{Name: "chat", Version: 4, Events: []Event{{Type: 13, Raw: []byte{0xab, 0xcd}}}}},
		{"send no args", false, chatHdr + " 00 00 00 01  00 00 00 00  00 00 00 00  06 00 00 00 04  02 00 01 66",
			Message{Name: "chat", Version: 1, Events: []Event{{Type: EventSendMessage, Key: "f"}}}},
	}
}

func msgEqual(a, b *Message) error {
	if a.Name != b.Name || a.Version != b.Version || a.Flags != b.Flags || len(a.Events) != len(b.Events) {
		return fmt.Errorf("header or event count differ: %+v vs %+v", a, b)
	}
	for i := range a.Events {
		x, y := &a.Events[i], &b.Events[i]
		if x.Type != y.Type || x.Key != y.Key || x.Level != y.Level || !amf.Equal(x.Value, y.Value) ||
			len(x.Args) != len(y.Args) || string(x.Raw) != string(y.Raw) {
			return fmt.Errorf("event %d: %+v vs %+v", i, *x, *y)
		}
		for j := range x.Args {
			if !amf.Equal(x.Args[j], y.Args[j]) {
				return fmt.Errorf("event %d arg %d: %v vs %v", i, j, x.Args[j], y.Args[j])
			}
		}
	}
	return nil
}

func TestDocVectors(t *testing.T) {
	var d amf.Decoder
	var e amf.Encoder
	for _, v := range docVectors() {
		t.Run(v.name, func(t *testing.T) {
			want := unhex(t, v.hex)
			var m Message
			if err := Parse(want, v.amf3, &d, &m); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := msgEqual(&m, &v.msg); err != nil {
				t.Fatal(err)
			}
			got, err := v.msg.Append(nil, v.amf3, &e)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if string(got) != string(want) {
				t.Fatalf("append:\n got % x\nwant % x", got, want)
			}
			// Type 16 is 00 + the type-19 body.
			if !v.amf3 {
				g16, _ := v.msg.Append(nil, true, &e)
				if g16[0] != 0 || string(g16[1:]) != string(want) {
					t.Fatalf("type 16 form % x", g16)
				}
			}
		})
	}
}

// TestReadLoops covers writers that put several pairs or keys in one event
// (crtmpserver, docs/shared-objects.md#event-encodings), AMF3-switched values and skipped data of empty events.
func TestReadLoops(t *testing.T) {
	var d amf.Decoder
	tests := []struct {
		name string
		amf3 bool
		hex  string
		want []Event
	}{
		{"crtmpserver two pairs in one change", false, chatHdr + ` 00 00 00 03 00 00 00 00 00 00 00 00
			04 00 00 00 10  00 01 61 00 3f f0 00 00 00 00 00 00  00 01 62 05`,
			[]Event{{Type: EventChange, Key: "a", Value: amf.Number(1)}, {Type: EventChange, Key: "b", Value: amf.Null()}}},
		{"crtmpserver two keys in one success", false, chatHdr + ` 00 00 00 03 00 00 00 00 00 00 00 00
			05 00 00 00 06  00 01 61 00 01 62`,
			[]Event{{Type: EventSuccess, Key: "a"}, {Type: EventSuccess, Key: "b"}}},
		{"red5 amf3 switched value, format byte 3", true, "03 " + chatHdr + ` 00 00 00 03 00 00 00 00 00 00 00 00
			03 00 00 00 0a  00 03 6d 73 67  11 06 05 68 69`,
			[]Event{{Type: EventRequestChange, Key: "msg", Value: amf.String("hi")}}},
		{"use with stray data", false, chatHdr + ` 00 00 00 00 00 00 00 00 00 00 00 00  01 00 00 00 02 ff ff`,
			[]Event{{Type: EventUse}}},
		{"use then offline changes", false, chatHdr + ` 00 00 00 05 00 00 00 02 00 00 00 00
			01 00 00 00 00  03 00 00 00 08  00 01 78 01 01  00 00 00  0a 00 00 00 03 00 01 79`,
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := Parse(unhex(t, tt.hex), tt.amf3, &d, &m)
			if tt.want == nil {
				// The last case has a 3-byte trailer inside the change event.
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Message{Name: "chat", Version: 3, Events: tt.want}
			if tt.want[0].Type == EventUse {
				want.Version = 0
			}
			if err := msgEqual(&m, &want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	var d amf.Decoder
	tests := []struct {
		name string
		hex  string
		err  error
	}{
		{"empty", "", ErrTruncated},
		{"name past end", "00 10 61", ErrTruncated},
		{"header short", chatHdr + " 00 00 00 00 00", ErrTruncated},
		{"event header short", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00", ErrTruncated},
		{"event length past end", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 03 ff ff ff ff 00", ErrTruncated},
		{"key past event end", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 05 00 00 00 03 00 05 61", ErrMalformed},
		{"value past event end", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 05 00 01 61 02 00", ErrMalformed},
		{"change without pair", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 00", ErrMalformed},
		{"status trailing bytes", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 07 00 00 00 05 00 00 00 00 01", ErrMalformed},
		{"handler not a string", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 06 00 00 00 01 05", ErrMalformed},
		{"bad marker", chatHdr + " 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 04 00 01 61 12", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := Parse(unhex(t, tt.hex), false, &d, &m); !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
		})
	}
	var m Message
	if err := Parse(nil, true, &d, &m); !errors.Is(err, ErrTruncated) {
		t.Fatalf("empty type 16: %v", err)
	}
}

// allTypes is a message with every event type and every AMF0 value kind.
func allTypes() Message {
	obj := amf.Object(amf.Prop{Key: "x", Value: amf.Number(1)}, amf.Prop{Key: "nested",
		Value: amf.StrictArray(amf.String("a"), amf.ECMAArray(amf.Prop{Key: "k", Value: amf.Bool(true)}))})
	return Message{Name: "room/people", Version: 7, Flags: FlagPersistent, Events: []Event{
		{Type: EventUse}, {Type: EventRelease},
		{Type: EventRequestChange, Key: "n", Value: amf.Number(-0.5)},
		{Type: EventChange, Key: "o", Value: obj},
		{Type: EventChange, Key: "d", Value: amf.Date(1.7e12)},
		{Type: EventChange, Key: "x", Value: amf.XMLDocument("<a/>")},
		{Type: EventChange, Key: "t", Value: amf.TypedObject("Pt", amf.Prop{Key: "y", Value: amf.Undefined()})},
		{Type: EventChange, Key: "ba", Value: amf.ByteArray([]byte{1, 2})},
		{Type: EventChange, Key: "long", Value: amf.String(strings.Repeat("z", 70000))},
		{Type: EventSuccess, Key: "n"},
		{Type: EventSendMessage, Key: "newLine", Args: []amf.Value{amf.String("hi"), amf.Number(3)}},
		{Type: EventStatus, Key: "SharedObject.NoWriteAccess", Level: "error"},
		{Type: EventClear}, {Type: EventRemove, Key: "n"}, {Type: EventRequestRemove, Key: ""},
		{Type: EventUseSuccess}, {Type: 14, Raw: []byte{9}},
	}}
}

func TestRoundTripAllTypes(t *testing.T) {
	var d amf.Decoder
	var e amf.Encoder
	m := allTypes()
	for _, amf3 := range []bool{false, true} {
		b, err := m.Append(nil, amf3, &e)
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := Parse(b, amf3, &d, &got); err != nil {
			t.Fatal(err)
		}
		if err := msgEqual(&got, &m); err != nil {
			t.Fatal(err)
		}
		again, _ := got.Append(nil, amf3, &e)
		if string(again) != string(b) {
			t.Fatal("re-encoding differs")
		}
	}
}

func TestAppendErrors(t *testing.T) {
	var e amf.Encoder
	long := strings.Repeat("k", 70000)
	for _, m := range []Message{
		{Name: long},
		{Name: "a", Events: []Event{{Type: EventChange, Key: long, Value: amf.Null()}}},
		{Name: "a", Events: []Event{{Type: EventStatus, Key: "c", Level: long}}},
	} {
		if b, err := m.Append([]byte{1}, false, &e); !errors.Is(err, ErrTooLong) || len(b) != 1 {
			t.Errorf("%.20s: err %v, len %d", m.Name, err, len(b))
		}
	}
}

func TestPutVersion(t *testing.T) {
	var e amf.Encoder
	m := Message{Name: "chat", Version: 1, Events: []Event{{Type: EventClear}}}
	b, _ := m.Append(nil, false, &e)
	PutVersion(b, 0x01020304)
	m.Version = 0x01020304
	want, _ := m.Append(nil, false, &e)
	if string(b) != string(want) || HeaderSize(4) != 18 {
		t.Fatalf("% x", b)
	}
}

func TestEventTypeString(t *testing.T) {
	if EventUseSuccess.String() != "use-success" || EventType(12).String() != "event(12)" || EventType(0).Known() {
		t.Fatal("names")
	}
	if !EventSendMessage.ClientToServer() || EventChange.ClientToServer() {
		t.Fatal("direction")
	}
}

func TestAppendEventAllocs(t *testing.T) {
	var e amf.Encoder
	buf := make([]byte, 0, 256)
	ev := Event{Type: EventChange, Key: "msg", Value: amf.String("hi")}
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendEvent(buf[:0], &ev, &e) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func fuzzSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	seeds := map[string][]byte{}
	for _, v := range docVectors() {
		b := unhex(tb, v.hex)
		if v.amf3 {
			b = append([]byte{1}, b...) // first byte of the fuzz input: type 16
		} else {
			b = append([]byte{0}, b...)
		}
		seeds[strings.NewReplacer(" ", "_").Replace(v.name)] = b
	}
	var e amf.Encoder
	m := allTypes()
	m.Events[8].Value = amf.String("long") // keep the seed small
	b, _ := m.Append(nil, true, &e)
	seeds["all_types"] = append([]byte{1}, b...)
	return seeds
}

func TestSeedCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, b := range seeds {
			if err := os.WriteFile(filepath.Join(dir, n), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := range seeds {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("seed %s missing (run with -update-corpus): %v", n, err)
		}
	}
}

// FuzzParse: the first byte selects type 16 (odd) or 19. Parsing must not
// panic; what parses re-encodes, and the re-encoding parses to the same
// message and encodes to the same bytes.
func FuzzParse(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		amf3 := in[0]&1 == 1
		var d amf.Decoder
		var e amf.Encoder
		var m Message
		if err := Parse(in[1:], amf3, &d, &m); err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		b, err := m.Append(nil, amf3, &e)
		if err != nil {
			// Values that decode but cannot be re-encoded (e.g. references
			// past the expansion limit) are acceptable failures.
			return
		}
		var m2 Message
		if err := Parse(b, amf3, &d, &m2); err != nil {
			t.Fatalf("re-encoded body does not parse: %v\n% x", err, b)
		}
		if err := msgEqual(&m, &m2); err != nil {
			t.Fatal(err)
		}
		b2, err := m2.Append(nil, amf3, &e)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("second encoding differs: %v", err)
		}
	})
}
