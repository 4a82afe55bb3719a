package instance

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
)

// Two applications storing streams in one folder record into one file
// system: the server's FileCache, shared by every instance, refuses a
// second recorder of a file whichever instance asks.
func TestRecordingsAreTheServers(t *testing.T) {
	apps, shared := t.TempDir(), t.TempDir()
	for _, app := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(apps, app), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(apps, app, AppConfigFile), []byte("streams: "+shared+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := NewManager(Config{AppsDir: apps}, slog.New(slog.DiscardHandler))
	defer m.Close()
	var recs []*media.Recorder
	for i, app := range []string{"a", "b"} {
		in, _, err := m.Connect(app, DefaultInstance, ClientInfo{})
		if err != nil {
			t.Fatal(err)
		}
		sf, err := in.ResolveStream(in.AppConfigOrDefaults(), "x", true)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := in.Streams().Publish("x")
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		rec, err := pub.Record(sf.Path, media.RecordOptions{})
		if i == 0 {
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
			continue
		}
		if !errors.Is(err, media.ErrRecordFailed) {
			t.Errorf("app %s recorded the file app a records: err = %v", app, err)
		}
		// And it knows the file is being written (playback must not trim it).
		if !in.Streams().Files().Recording(sf.Path) {
			t.Errorf("app %s does not see the recording of app a", app)
		}
	}
	for _, r := range recs {
		_ = r.Close()
	}
}

// RecordedFile tells a missing file (ErrNoFile: the rules may wait for a
// live publisher) from a refused name, and names with a container prefix
// as explicit.
func TestRecordedFile(t *testing.T) {
	m := newTestManager(t, 0)
	in, _, err := m.Connect("live", DefaultInstance, ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	dir := in.StreamsDir(in.AppConfigOrDefaults())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "song.mp3"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		explicit bool
		noFile   bool
		refused  bool
		format   media.VODFormat
	}{
		{name: "song", noFile: true},
		{name: "mp3:song", explicit: true, format: media.VODMP3},
		{name: "id3:song", explicit: true, format: media.VODID3},
		{name: "flv:song", explicit: true, noFile: true},
		{name: "../x", refused: true},
		{name: "mp4:clip", refused: true},
	} {
		f, explicit, err := in.RecordedFile(tc.name)
		switch {
		case explicit != tc.explicit:
			t.Errorf("%s: explicit %v, want %v", tc.name, explicit, tc.explicit)
		case tc.noFile && !errors.Is(err, playback.ErrNoFile):
			t.Errorf("%s: err %v, want ErrNoFile", tc.name, err)
		case tc.refused && (err == nil || errors.Is(err, playback.ErrNoFile)):
			t.Errorf("%s: err %v, want a refusal", tc.name, err)
		case !tc.noFile && !tc.refused && (err != nil || f.Format != tc.format || f.Rel != "song.mp3"):
			t.Errorf("%s: %+v %v", tc.name, f, err)
		}
	}
}
