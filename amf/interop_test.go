package amf

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestInteropBytearrayNode cross-checks this package against bytearray-node,
// an independent AMF0/AMF3 implementation on npm:
//
//   - node encodes a corpus in AMF0 and AMF3 and describes each value; Go
//     decodes the bytes and compares with the description;
//   - Go encodes the same corpus (built from the descriptions), node decodes
//     it and compares with its own values.
//
// The corpus lives in interop/interop.js. bytearray-node cannot express, so
// the corpus leaves out: AMF0 strict arrays (it cannot read 0x0A and writes
// arrays as ECMA arrays) and XML; cycles (its values have no reference-aware
// description here, cycles are covered by the Go tests); AMF3 typed objects
// (it writes sealed members as name/value pairs instead of names first);
// Dictionary (written without the weak-keys byte) and Vector.<Object> (0x10
// is used for JS Sets); negative Vector.<int> elements (its writer rejects
// them); AMF3 -0 (written as integer 0); null/undefined inside arrays (read
// back as holes); and dates before references in AMF0 (it puts dates in the
// reference table, docs/amf.md#amf0-references).
//
// Needs node and npm; installs interop/node_modules with `npm ci` when
// missing. It fails, never skips, when they are unavailable.
func TestInteropBytearrayNode(t *testing.T) {
	dir := "interop"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the bytearray-node cross-check: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "bytearray-node", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("npm is required to install bytearray-node: %v", err)
		}
		// --ignore-scripts: bytearray-node's lzma-native dependency would
		// build a native addon the check does not use (interop.js stubs it).
		cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	runNode := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, node, append([]string{"interop.js"}, args...)...)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node interop.js %v: %v\n%s", args, err, stderr.Bytes())
		}
		return out
	}

	var cases []struct {
		Name string
		Enc  string
		Hex  string
		Desc any
	}
	if err := json.Unmarshal(runNode(nil, "encode"), &cases); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range cases {
		counts[c.Enc]++
	}
	if counts["amf0"] < 30 || counts["amf3"] < 30 {
		t.Fatalf("corpus too small: %v", counts)
	}

	type goCase struct {
		Name string `json:"name"`
		Enc  string `json:"enc"`
		Hex  string `json:"hex"`
	}
	var back []goCase
	for _, c := range cases {
		want, err := valueFromDesc(c.Desc)
		if err != nil {
			t.Fatalf("%s %s: description: %v", c.Enc, c.Name, err)
		}
		// (a) node encodes, Go decodes.
		b, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		var got Value
		var n int
		if c.Enc == "amf0" {
			got, n, err = d.DecodeAMF0(b)
		} else {
			got, n, err = d.DecodeAMF3(b)
		}
		switch {
		case err != nil:
			t.Errorf("node->go %s %s: decode % x: %v", c.Enc, c.Name, b, err)
		case n != len(b):
			t.Errorf("node->go %s %s: consumed %d of %d bytes", c.Enc, c.Name, n, len(b))
		case !Equal(got, want):
			t.Errorf("node->go %s %s:\n got %v\nwant %v", c.Enc, c.Name, got, want)
		}
		// (b) Go encodes the same value for node.
		if c.Enc == "amf0" {
			for _, share := range []bool{false, true} {
				e := Encoder{ShareRepeats: share}
				out, err := e.AppendAMF0(nil, want)
				if err != nil {
					t.Fatalf("go->node %s %s: encode: %v", c.Enc, c.Name, err)
				}
				back = append(back, goCase{c.Name, c.Enc, hex.EncodeToString(out)})
			}
		} else {
			out, err := AppendAMF3(nil, want)
			if err != nil {
				t.Fatalf("go->node %s %s: encode: %v", c.Enc, c.Name, err)
			}
			back = append(back, goCase{c.Name, c.Enc, hex.EncodeToString(out)})
		}
	}

	in, err := json.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	var verdicts []struct {
		Name string
		Enc  string
		OK   bool
		Why  string
		Got  string
		Want string
	}
	if err := json.Unmarshal(runNode(in, "decode"), &verdicts); err != nil {
		t.Fatal(err)
	}
	if len(verdicts) != len(back) {
		t.Fatalf("node returned %d verdicts for %d cases", len(verdicts), len(back))
	}
	for i, v := range verdicts {
		if !v.OK {
			t.Errorf("go->node %s %s (% x): %s\n got %s\nwant %s", v.Enc, v.Name, back[i].Hex, v.Why, v.Got, v.Want)
		}
	}
}

// valueFromDesc builds a Value from interop.js's description format.
func valueFromDesc(d any) (Value, error) {
	m, ok := d.(map[string]any)
	if !ok {
		return Value{}, fmt.Errorf("description %v is not an object", d)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	num := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	list := func(k string) ([]Value, error) {
		raw, _ := m[k].([]any)
		out := make([]Value, 0, len(raw))
		for _, r := range raw {
			v, err := valueFromDesc(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	props := func() ([]Prop, error) {
		raw, _ := m["props"].([]any)
		out := make([]Prop, 0, len(raw))
		for _, r := range raw {
			pair, ok := r.([]any)
			if !ok || len(pair) != 2 {
				return nil, fmt.Errorf("bad property %v", r)
			}
			k, _ := pair[0].(string)
			v, err := valueFromDesc(pair[1])
			if err != nil {
				return nil, err
			}
			out = append(out, Prop{Key: k, Value: v})
		}
		return out, nil
	}
	nums := func() ([]float64, error) {
		raw, _ := m["v"].([]any)
		out := make([]float64, 0, len(raw))
		for _, r := range raw {
			s, _ := r.(string)
			f, err := num(s)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	switch t := str("t"); t {
	case "undefined":
		return Undefined(), nil
	case "null":
		return Null(), nil
	case "bool":
		b, _ := m["v"].(bool)
		return Bool(b), nil
	case "number", "date":
		f, err := num(str("v"))
		if err != nil {
			return Value{}, err
		}
		if t == "date" {
			return Date(f), nil
		}
		return Number(f), nil
	case "string":
		return String(str("v")), nil
	case "object", "ecma":
		ps, err := props()
		if err != nil {
			return Value{}, err
		}
		if t == "ecma" {
			return ECMAArray(ps...), nil
		}
		if c := str("class"); c != "" {
			return TypedObject(c, ps...), nil
		}
		return Object(ps...), nil
	case "array", "mixed":
		es, err := list("elems")
		if err != nil {
			return Value{}, err
		}
		ps, err := props()
		if err != nil {
			return Value{}, err
		}
		return MixedArray(es, ps...), nil
	case "bytes":
		b, err := hex.DecodeString(str("v"))
		return ByteArray(b), err
	case "vint", "vuint", "vdouble":
		fs, err := nums()
		if err != nil {
			return Value{}, err
		}
		switch t {
		case "vint":
			is := make([]int32, len(fs))
			for i, f := range fs {
				is[i] = int32(f)
			}
			return VectorInt(false, is...), nil
		case "vuint":
			us := make([]uint32, len(fs))
			for i, f := range fs {
				us[i] = uint32(f)
			}
			return VectorUint(false, us...), nil
		}
		return VectorDouble(false, fs...), nil
	}
	return Value{}, fmt.Errorf("unknown description %v", d)
}
