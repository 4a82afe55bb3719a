package instance

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParseAppConfig: an application.yaml is written by whoever deploys
// an application, maybe by a script that can write files: no input
// panics or hangs the parser, what parses is valid (the checks hold), and
// it parses the same once written back out.
func FuzzParseAppConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"record:\n  live: record\n  keyframes_index: 500\nstreams: media\n",
		"script: main.asc\nrecord:\n  live: append\n",
		"record:\n  lvie: record\n",
		"record:\n  sync_interval: 2s\n  sync_bytes: 4096\n",
		"streams: /srv/media\nrecord: {live: append, keyframes_index: 0}\n",
		"a: &a [1, 2]\nb: *a\nrecord: *a\n",
		"record: !!binary aGVsbG8=\n",
		"config:\n  greeting: hello\n  max: 10\n  open: true\n  none:\n",
		"config: {a: {b: 1}}\n",
		"config: {}\nrecord: {live: record}\n",
		"access:\n  allow: [10.0.0.0/8, 192.0.2.1]\n  deny: [\"10.1.0.0/16\"]\n  publish_keys: [k1]\n  jwt: {secret: 0123456789abcdef0123456789abcdef, play: true}\n  hook: {url: \"http://127.0.0.1:1/h\", timeout: 2s, events: [publish]}\n",
		"access:\n  alow: [10.0.0.0/8]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseAppConfig(raw)
		if err != nil {
			return
		}
		switch c.Record.Live {
		case "", "record", "append":
		default:
			t.Fatalf("record.live %q accepted", c.Record.Live)
		}
		if c.Record.KeyframesIndex < 0 || c.Record.KeyframesIndex > MaxKeyframesIndex {
			t.Fatalf("record.keyframes_index %d accepted", c.Record.KeyframesIndex)
		}
		if c.Streams == "" || c.Record.SyncInterval <= 0 || c.Record.SyncBytes <= 0 {
			t.Fatalf("defaults not applied: %+v", c)
		}
		out, err := yaml.Marshal(&c)
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		back, err := ParseAppConfig(out)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("written back as\n%s\nparses to %+v, %v; want %+v", out, back, err, c)
		}
	})
}
