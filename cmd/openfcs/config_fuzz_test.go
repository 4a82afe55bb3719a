package main

import (
	"bytes"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParseConfig: no openfcs.yaml panics or hangs the loader; what loads
// can be validated and completed with defaults without panicking, and it
// loads the same once written back out.
func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("../../openfcs.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"rtmp: \":1\"\nno_such_key: 1\n",
		"rtmp: \":1\"\nhttp: \":2\"\nsession:\n  chunk:\n    max_message_size: 1000\n",
		"tls:\n  addr: :8443\n",
		"tunnel:\n  node_tag: \"bad tag!\"\n",
		"session: {idle_timeout: 5s, merge_write: -1ms}\nssas: {script_lib_path: [a, b]}\n",
		"a: &a {rtmp: x}\n<<: *a\n",
		"session:\n  max_conns: -5\n  chunk: {max_csids: 99999999999}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := defaultConfig()
		if err := parseConfig(raw, &cfg); err != nil {
			return
		}
		_ = cfg.validate()
		_ = cfg.effective()
		out, err := yaml.Marshal(&cfg)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back := defaultConfig()
		if err := parseConfig(out, &back); err != nil {
			t.Fatalf("written back as\n%s\ndoes not load: %v", out, err)
		}
		again, err := yaml.Marshal(&back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("written back as\n%s\nloads as\n%s", out, again)
		}
	})
}
