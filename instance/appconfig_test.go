package instance

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAppConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want AppConfig
		err  bool
	}{
		{"empty", "", AppConfig{}.WithDefaults(), false},
		{"record live with index", "record:\n  live: record\n  keyframes_index: 500\nstreams: media\n",
			AppConfig{Streams: "media", Record: RecordConfig{Live: "record", KeyframesIndex: 500, SyncInterval: 5 * time.Second, SyncBytes: 1 << 20}, BandwidthDetection: BandwidthNative}, false},
		{"other features' keys ignored", "script: main.asc\nrecord:\n  live: append\n",
			AppConfig{Streams: "streams", Record: RecordConfig{Live: "append", SyncInterval: 5 * time.Second, SyncBytes: 1 << 20}, BandwidthDetection: BandwidthNative}, false},
		{"bandwidth detection off", "bandwidth_detection: off\n",
			AppConfig{Streams: "streams", Record: RecordConfig{SyncInterval: 5 * time.Second, SyncBytes: 1 << 20}, BandwidthDetection: BandwidthOff}, false},
		{"bad bandwidth detection", "bandwidth_detection: fast\n", AppConfig{}, true},
		{"misspelled record key", "record:\n  lvie: record\n", AppConfig{}, true},
		{"bad live mode", "record:\n  live: sometimes\n", AppConfig{}, true},
		{"huge index", "record:\n  keyframes_index: 10000000\n", AppConfig{}, true},
		{"script config as strings", "config:\n  greeting: hello\n  max: 10\n  open: true\n  none:\n",
			AppConfig{ScriptConfig: map[string]string{"greeting": "hello", "max": "10", "open": "true", "none": ""}}.WithDefaults(), false},
		{"empty script config", "config:\n", AppConfig{}.WithDefaults(), false},
		{"nested script config value", "config:\n  db:\n    host: x\n", AppConfig{}, true},
		{"script config not a mapping", "config: [a, b]\n", AppConfig{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAppConfig([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseStreamFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		publish bool
		c       Container
		rel     string
		err     error
	}{
		{"s1", false, ContainerFLV, "s1.flv", nil},
		{"flv:dir/s1.FLV", false, ContainerFLV, "dir/s1.FLV", nil},
		{"mp3:song", false, ContainerMP3, "song.mp3", nil},
		{"id3:song.mp3", false, ContainerID3, "song.mp3", nil},
		{"mp3:song", true, 0, "", ErrBadName},
		{"mp4:clip.f4v", false, 0, "", ErrUnsupportedContainer},
		{"rtmp:x", false, 0, "", ErrBadName},
		{"../x", false, 0, "", ErrBadName},
		{"a/../../x", false, 0, "", ErrBadName},
		{"/abs", false, 0, "", ErrBadName},
		{"a\\b", false, 0, "", ErrBadName},
		{"a\x00b", false, 0, "", ErrBadName},
		{"a\x7fb", false, 0, "", ErrBadName},
		{"c:/x", false, 0, "", ErrBadName},
		{"a//b", false, 0, "", ErrBadName},
		{"\xff\xfe", false, 0, "", ErrBadName},
		{strings.Repeat("a", 256), false, 0, "", ErrBadName},
		{strings.Repeat("a/", 600), false, 0, "", ErrBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rel, err := ParseStreamFile(tc.name, tc.publish)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if c != tc.c || rel != tc.rel {
				t.Errorf("got %v %q, want %v %q", c, rel, tc.c, tc.rel)
			}
		})
	}
}

// The instance keeps its parsed application.yaml while the file is
// unchanged (a playlist item does not re-read it) and parses it again when
// it changes.
func TestAppConfigParsedOncePerVersion(t *testing.T) {
	apps := t.TempDir()
	if err := os.Mkdir(filepath.Join(apps, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(apps, "app", AppConfigFile)
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	write("streams: aaaa\n", t0)
	m := NewManager(Config{AppsDir: apps}, slog.New(slog.DiscardHandler))
	defer m.Close()
	in, _, err := m.Connect("app", DefaultInstance, ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got := in.AppConfigOrDefaults().Streams; got != "aaaa" {
		t.Fatalf("streams %q, want aaaa", got)
	}
	// Same size and time: the parsed version is kept, the file not read.
	write("streams: bbbb\n", t0)
	if got := in.AppConfigOrDefaults().Streams; got != "aaaa" {
		t.Errorf("streams %q after a same-size, same-time rewrite: the file was parsed again", got)
	}
	// A changed file is parsed again.
	write("streams: cccc\n", t0.Add(time.Second))
	if got := in.AppConfigOrDefaults().Streams; got != "cccc" {
		t.Errorf("streams %q after an edit, want cccc", got)
	}
	write("record: [broken\n", t0.Add(2*time.Second))
	if _, err := in.AppConfig(); err == nil {
		t.Error("a broken file gives no error")
	}
	if got := in.AppConfigOrDefaults(); !reflect.DeepEqual(got, AppConfig{}.WithDefaults()) {
		t.Errorf("broken file: %+v, want the defaults", got)
	}
}
