package instance

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplitApp(t *testing.T) {
	for _, tc := range []struct {
		in, app, inst, query string
		bad                  bool
	}{
		{in: "live", app: "live", inst: DefaultInstance},
		{in: "live/", app: "live", inst: DefaultInstance},
		{in: "live/room1", app: "live", inst: "room1"},
		{in: "live/room1/sub", app: "live", inst: "room1/sub"},
		{in: "live?key=x", app: "live", inst: DefaultInstance, query: "key=x"},
		{in: "live/_definst_?a=1&b=2", app: "live", inst: DefaultInstance, query: "a=1&b=2"},
		{in: "", bad: true},
		{in: "..", bad: true},
		{in: "live/..", bad: true},
		{in: "live/a/../../etc", bad: true},
		{in: `live\x`, bad: true},
		{in: "c:", bad: true},
		{in: "live/a\x00b", bad: true},
	} {
		app, inst, q, err := SplitApp(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadName) {
				t.Errorf("SplitApp(%q) err = %v, want ErrBadName", tc.in, err)
			}
			continue
		}
		if err != nil || app != tc.app || inst != tc.inst || q != tc.query {
			t.Errorf("SplitApp(%q) = %q %q %q %v, want %q %q %q", tc.in, app, inst, q, err, tc.app, tc.inst, tc.query)
		}
	}
}

func TestStreamName(t *testing.T) {
	for _, tc := range []struct {
		in, name, query string
		bad             bool
	}{
		{in: "s1", name: "s1"},
		{in: "s1?token=1", name: "s1", query: "token=1"},
		{in: "dir/s1", name: "dir/s1"},
		{in: "mp3:song", name: "mp3:song"},
		{in: "mp4:dir/clip.f4v", name: "mp4:dir/clip.f4v"},
		{in: "../s1", bad: true},
		{in: "mp3:../x", bad: true},
		{in: "/etc/passwd", bad: true},
		{in: `a\b`, bad: true},
		{in: "C:/x", bad: true},
		{in: "a\x00", bad: true},
		{in: "", bad: true},
		{in: string(make([]byte, MaxNameLen+1)), bad: true},
	} {
		name, q, err := StreamName(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadName) {
				t.Errorf("StreamName(%q) err = %v, want ErrBadName", tc.in, err)
			}
			continue
		}
		if err != nil || name != tc.name || q != tc.query {
			t.Errorf("StreamName(%q) = %q %q %v", tc.in, name, q, err)
		}
	}
}

func newTestManager(t *testing.T, idle time.Duration) *Manager {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notadir"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{AppsDir: dir, IdleUnload: idle}, slog.New(slog.DiscardHandler))
	t.Cleanup(m.Close)
	return m
}

func TestConnectUnknownApp(t *testing.T) {
	m := newTestManager(t, time.Minute)
	for _, app := range []string{"nosuch", "notadir", "..", ""} {
		if _, _, err := m.Connect(app, DefaultInstance, ClientInfo{}); !errors.Is(err, ErrInvalidApp) {
			t.Errorf("Connect(%q) err = %v, want ErrInvalidApp", app, err)
		}
	}
	if n := len(m.Instances()); n != 0 {
		t.Errorf("%d instances loaded for applications that do not exist", n)
	}
}

func TestInstanceRegistryAndIdleUnload(t *testing.T) {
	m := newTestManager(t, 20*time.Millisecond)
	in1, c1, err := m.Connect("live", "room", ClientInfo{Protocol: "rtmp"})
	if err != nil {
		t.Fatal(err)
	}
	in2, c2, err := m.Connect("live", "room", ClientInfo{Protocol: "rtmpt"})
	if err != nil {
		t.Fatal(err)
	}
	if in1 != in2 || c1.ID == c2.ID || len(in1.Clients()) != 2 {
		t.Fatalf("same instance expected with two clients; got %p %p %d", in1, in2, len(in1.Clients()))
	}
	in1.Disconnect(c1)
	in1.Disconnect(c1) // idempotent
	if len(m.Instances()) != 1 {
		t.Fatal("instance unloaded while a client remains")
	}
	in2.Disconnect(c2)
	testutil.WaitFor(t, 5*time.Second, "the idle instance to unload", func() bool { return len(m.Instances()) == 0 })
	// A new connect loads a fresh instance.
	in3, c3, err := m.Connect("live", "room", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if in3 == in1 {
		t.Fatal("unloaded instance was reused")
	}
	in3.Disconnect(c3)
}

func TestConnectAfterCloseIsShutdown(t *testing.T) {
	m := newTestManager(t, time.Minute)
	m.Close()
	if _, _, err := m.Connect("live", DefaultInstance, ClientInfo{}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("err = %v, want ErrShutdown", err)
	}
}

// Nested instances get folders of their own: instance "room" publishing
// "sub/x" must not reach the files of instance "room/sub".
func TestFolderNameKeepsNestedInstancesApart(t *testing.T) {
	for in, want := range map[string]string{
		"_definst_": "_definst_",
		"room/sub":  "room%2Fsub",
		"a%2Fb":     "a%252Fb",
	} {
		if got := FolderName(in); got != want {
			t.Errorf("FolderName(%q) = %q, want %q", in, got, want)
		}
	}
	m := newTestManager(t, time.Minute)
	outer, c1, err := m.Connect("live", "room", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Disconnect(c1)
	inner, c2, err := m.Connect("live", "room/sub", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Disconnect(c2)
	var cfg AppConfig
	a, err := outer.ResolveStream(cfg, "sub/x", true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := inner.ResolveStream(cfg, "x", true)
	if err != nil {
		t.Fatal(err)
	}
	if a.Path == b.Path {
		t.Fatalf("instance room stream sub/x and instance room/sub stream x share %s", a.Path)
	}
}

// TestApps: the application folders, sorted, without hidden folders,
// files, or names no client could connect to.
func TestApps(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"live", "chat", ".git", "a b"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "live"), filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{AppsDir: dir}, slog.New(slog.DiscardHandler))
	defer m.Close()
	got, err := m.Apps()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a b", "chat", "linked", "live"}; !slices.Equal(got, want) {
		t.Fatalf("Apps() = %q, want %q", got, want)
	}
}
