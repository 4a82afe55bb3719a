package amf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus under testdata/fuzz from the table tests")

// fuzzSeeds returns the table-test inputs (docs/amf.md#test-vectors and hostile cases) for
// each fuzz target.
func fuzzSeeds(tb testing.TB) (amf0, amf3 map[string][]byte) {
	tb.Helper()
	amf0, amf3 = map[string][]byte{}, map[string][]byte{}
	name := func(s string) string {
		return strings.NewReplacer(" ", "_", "/", "_", "<", "", ">", "", ".", "").Replace(strings.ToLower(s))
	}
	for _, v := range amf0Vectors() {
		if !strings.HasPrefix(v.name, "A17") {
			amf0[name(v.name)] = unhex(tb, v.hex)
		}
	}
	for _, v := range amf3Vectors() {
		amf3[name(v.name)] = unhex(tb, v.hex)
	}
	amf0["c1_connect"] = unhex(tb, connectHex)
	amf0["c2_result"] = unhex(tb, resultHex)
	amf0["c3_amf3_call"] = unhex(tb, "02 00 04 65 63 68 6f 00 40 00 00 00 00 00 00 00 05 11 06 05 68 69")
	amf0["cyclic_object"] = unhex(tb, "03 00 04 73 65 6c 66 07 00 00 00 00 09")
	amf0["switched_shared"] = unhex(tb, "11 06 05 68 69 11 06 00 11 0a 0b 01 01 11 0a 00")
	amf0["switched_in_object"] = unhex(tb, "03 00 02 62 61 11 0c 03 07 00 00 09")
	amf0["deep"] = unhex(tb, strings.Repeat("03 00 01 61 ", 65)+"05")
	amf0["metadata"], _ = AppendAMF0Values(nil, ffmpegMetadata()...)
	amf3["ext_traits_ref"] = unhex(tb, "09 05 01 0a 07 43 66 6c 65 78 2e 6d 65 73 73 61 67 69 6e 67 2e 69 6f 2e 41 72 72 61 79 43 6f 6c 6c 65 63 74 69 6f 6e 01 0a 01 01")
	amf3["parent_ref"] = unhex(tb, "09 01 03 61 09 00 01")
	amf3["deep"] = unhex(tb, strings.Repeat("09 03 01 ", 65)+"01")
	return amf0, amf3
}

func writeCorpus(tb testing.TB, target string, seeds map[string][]byte) {
	tb.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for n, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestSeedCorpus checks that the committed corpus exists; with
// -update-corpus it rewrites it from the table tests.
func TestSeedCorpus(t *testing.T) {
	amf0, amf3 := fuzzSeeds(t)
	if *updateCorpus {
		writeCorpus(t, "FuzzDecodeAMF0", amf0)
		writeCorpus(t, "FuzzDecodeAMF3", amf3)
	}
	for target, seeds := range map[string]map[string][]byte{"FuzzDecodeAMF0": amf0, "FuzzDecodeAMF3": amf3} {
		for n := range seeds {
			if _, err := os.Stat(filepath.Join("testdata", "fuzz", target, n)); err != nil {
				t.Errorf("seed missing (run go test -run TestSeedCorpus -update-corpus): %v", err)
			}
		}
	}
}

// FuzzDecodeAMF0 decodes a body; whatever decodes must re-encode (AMF0 with
// shared references, switching to AMF3 where AMF0 has no form) and decode
// again to an equal value.
func FuzzDecodeAMF0(f *testing.F) {
	amf0, _ := fuzzSeeds(f)
	for _, b := range amf0 {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, lenient := range []bool{false, true} {
			d := Decoder{AllowUnterminated: lenient}
			vs, err := d.DecodeAMF0All(b, nil)
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(b) {
					t.Fatalf("bad error %v", err)
				}
				continue
			}
			e := Encoder{ShareRepeats: true}
			var out []byte
			for _, v := range vs {
				if out, err = e.AppendAMF0Switched(out, v); err != nil {
					t.Fatalf("re-encode %v: %v", v, err)
				}
			}
			again, err := d.DecodeAMF0All(out, nil)
			if err != nil {
				t.Fatalf("re-decode: %v\n% x", err, out)
			}
			if !Equal(StrictArray(vs...), StrictArray(again...)) {
				t.Fatalf("round trip changed the value:\n%v\n%v", vs, again)
			}
			_ = StrictArray(vs...).String()
		}
	})
}

// FuzzDecodeAMF3 decodes one AMF3 value; whatever decodes must re-encode and
// decode again to an equal value.
func FuzzDecodeAMF3(f *testing.F) {
	_, amf3 := fuzzSeeds(f)
	for _, b := range amf3 {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		v, n, err := d.DecodeAMF3(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		out, err := AppendAMF3(nil, v)
		if err != nil {
			t.Fatalf("re-encode %v: %v", v, err)
		}
		again, _, err := d.DecodeAMF3(out)
		if err != nil {
			t.Fatalf("re-decode: %v\n% x", err, out)
		}
		if !Equal(v, again) {
			t.Fatalf("round trip changed the value:\n%v\n%v", v, again)
		}
		_ = v.String()
	})
}
