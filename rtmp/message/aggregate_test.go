package message

import (
	"errors"
	"reflect"
	"testing"
)

var aggregateCases = []struct {
	name  string
	wire  string
	ts    uint32
	parts []AggregatePart
	err   error
}{
	{name: "empty", wire: "", ts: 5, parts: nil},
	{
		name: "FMS 3.5 VOD: audio and video, rebased",
		// audio at tag time 1000 (0x3e8), video at 1040 (0x410); the
		// message is at 40: parts at 40 and 80.
		wire: "08 000002 0003e8 00 000000 af01 0000000d" +
			"09 000003 000410 00 000000 170100 0000000e",
		ts: 40,
		parts: []AggregatePart{
			{Type: 8, Timestamp: 40, Body: []byte{0xaf, 0x01}},
			{Type: 9, Timestamp: 80, Body: []byte{0x17, 0x01, 0x00}},
		},
	},
	{
		name: "extended time byte, message clock behind the tags",
		// tag time 0x01000010; message at 0x10: the parts keep their
		// distance, modulo 2^32.
		wire: "12 000001 000010 01 000000 05 0000000c" +
			"12 000001 000020 01 000000 06 0000000c",
		ts: 0x10,
		parts: []AggregatePart{
			{Type: 18, Timestamp: 0x10, Body: []byte{5}},
			{Type: 18, Timestamp: 0x20, Body: []byte{6}},
		},
	},
	{name: "zero-length body", wire: "08 000000 000000 00 000000 0000000b", parts: []AggregatePart{{Type: 8, Body: []byte{}}}},
	{name: "truncated tag header", wire: "08 000002 0003e8 00 00", err: ErrAggregate},
	{name: "body past the end", wire: "08 000010 000000 00 000000 af01 0000000d", err: ErrAggregate},
	{name: "missing back pointer", wire: "08 000002 000000 00 000000 af01 0000", err: ErrAggregate},
	{name: "second part truncated", wire: "08 000002 000000 00 000000 af01 0000000d 09 0000", err: ErrAggregate},
}

func TestAggregate(t *testing.T) {
	for _, tc := range aggregateCases {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(t, tc.wire)
			got, err := SplitAggregate(nil, wire, tc.ts)
			if !errors.Is(err, tc.err) || (tc.err != nil && err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				if len(got) != 0 {
					t.Fatalf("a malformed aggregate returned %d parts", len(got))
				}
				return
			}
			if !reflect.DeepEqual(got, tc.parts) {
				t.Fatalf("got %+v\nwant %+v", got, tc.parts)
			}
			// Encode: the same parts again (the tag times are the message
			// clock's now, so the bytes differ when the test rebased).
			out, err := AppendAggregate(nil, tc.parts)
			if err != nil {
				t.Fatal(err)
			}
			var ts uint32
			if len(tc.parts) > 0 {
				ts = tc.parts[0].Timestamp
			}
			back, err := SplitAggregate(nil, out, ts)
			if err != nil || !reflect.DeepEqual(back, tc.parts) {
				t.Fatalf("re-encoded: %+v, %v", back, err)
			}
		})
	}
}

func TestAggregateAppendsToDst(t *testing.T) {
	wire := unhex(t, "08 000002 0003e8 00 000000 af01 0000000d")
	dst := []AggregatePart{{Type: 1}}
	dst, err := SplitAggregate(dst, wire, 0)
	if err != nil || len(dst) != 2 || dst[0].Type != 1 || dst[1].Type != 8 {
		t.Fatalf("%+v %v", dst, err)
	}
	dst, err = SplitAggregate(dst, unhex(t, "08 0000"), 0)
	if err == nil || len(dst) != 2 {
		t.Fatalf("a failed split changed dst: %+v %v", dst, err)
	}
	if _, err := AppendAggregate(nil, []AggregatePart{{Body: make([]byte, 1<<24)}}); !errors.Is(err, ErrAggregatePart) {
		t.Fatalf("a 16 MiB part: %v", err)
	}
}

// TestSplitAggregateAllocs: splitting into a caller's slice allocates
// nothing (the connection splits every aggregate a publisher sends).
func TestSplitAggregateAllocs(t *testing.T) {
	wire := unhex(t, aggregateCases[1].wire)
	var arr [4]AggregatePart
	if n := testing.AllocsPerRun(100, func() { _, _ = SplitAggregate(arr[:0], wire, 40) }); n != 0 {
		t.Fatalf("%v allocations per split", n)
	}
}

// FuzzSplitAggregate: no panic; what splits re-encodes to what splits the
// same; the parts' bodies lie inside the input.
func FuzzSplitAggregate(f *testing.F) {
	for _, tc := range aggregateCases {
		f.Add(unhex(f, tc.wire), tc.ts)
	}
	f.Fuzz(func(t *testing.T, p []byte, ts uint32) {
		parts, err := SplitAggregate(nil, p, ts)
		if err != nil {
			if len(parts) != 0 {
				t.Fatalf("error %v with %d parts", err, len(parts))
			}
			return
		}
		total := 0
		for _, pt := range parts {
			total += aggregateTagHeader + len(pt.Body) + aggregateBackPointer
		}
		if total != len(p) {
			t.Fatalf("parts cover %d of %d bytes", total, len(p))
		}
		if len(parts) > 0 && parts[0].Timestamp != ts {
			t.Fatalf("first part at %d, message at %d", parts[0].Timestamp, ts)
		}
		out, err := AppendAggregate(nil, parts)
		if err != nil {
			t.Fatal(err)
		}
		var ts2 uint32
		if len(parts) > 0 {
			ts2 = parts[0].Timestamp
		}
		back, err := SplitAggregate(nil, out, ts2)
		if err != nil || len(back) != len(parts) {
			t.Fatalf("re-encoded does not split: %v", err)
		}
		for i := range back {
			if back[i].Type != parts[i].Type || back[i].Timestamp != parts[i].Timestamp || string(back[i].Body) != string(parts[i].Body) {
				t.Fatalf("part %d: %+v, want %+v", i, back[i], parts[i])
			}
		}
	})
}
