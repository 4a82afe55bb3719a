package instance

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
)

// startScript is a script whose start fails with startErr (nil:
// succeeds): like the SSAS runtime, it then rejects the client that
// connected and reports the failure.
type startScript struct {
	startErr error
}

func (s *startScript) Connect(c *Client, _ []amf.Value) {
	if s.startErr == nil {
		c.Instance().Accept(c)
		return
	}
	c.Instance().Reject(c, ScriptErrorDescription, amf.String(ScriptErrorApplication))
	c.Instance().FailStart(s.startErr)
}
func (s *startScript) Disconnect(*Client) {}
func (s *startScript) Call(_ *Client, _ string, _ []amf.Value, res Result) {
	res(amf.Null(), true)
}
func (s *startScript) Publish(*Client, PublishRequest) error { return nil }
func (s *startScript) Unpublish(*Client, string)             {}
func (s *startScript) Stop(string)                           {}

// startLoader counts loads and hands out startScripts failing with fail
// (compile: Load itself fails).
type startLoader struct {
	loads   atomic.Int32
	mu      sync.Mutex
	fail    error
	compile bool
	files   []string
}

func (l *startLoader) Load(*Instance) (Script, error) {
	l.loads.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil && l.compile {
		return nil, &ScriptLoadError{Err: l.fail, Files: l.files}
	}
	var err error
	if l.fail != nil {
		err = &ScriptLoadError{Err: l.fail, Files: l.files}
	}
	return &startScript{startErr: err}, nil
}

type nopPeer struct{}

func (nopPeer) Accept(*Client)                        {}
func (nopPeer) Reject(*Client, amf.Value)             {}
func (nopPeer) Call(string, []amf.Value, Result) bool { return true }
func (nopPeer) Close(amf.Value)                       {}
func (nopPeer) Ping() bool                            { return true }
func (nopPeer) Stats() PeerStats                      { return PeerStats{} }

func newLoadManager(t *testing.T, retry time.Duration, l *startLoader) (*Manager, string) {
	t.Helper()
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	l.files = []string{filepath.Join(app, "main.asc")}
	if err := os.WriteFile(l.files[0], []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{AppsDir: dir, ScriptRetry: retry}, slog.New(slog.DiscardHandler))
	m.SetScriptLoader(l)
	t.Cleanup(m.Close)
	return m, l.files[0]
}

// A failed load is remembered: connects are refused without loading again
// until a script file changes or ScriptRetry has passed.
func TestFailedLoadRetry(t *testing.T) {
	for _, compile := range []bool{true, false} {
		name := "start error"
		if compile {
			name = "compile error"
		}
		t.Run(name, func(t *testing.T) {
			l := &startLoader{fail: errors.New("main.asc:3:1: broken"), compile: compile}
			m, main := newLoadManager(t, time.Hour, l)
			if !compile {
				// The first connect loads the script, whose start fails
				// after the connect was handed over: the script rejects it.
				if _, _, err := m.Connect("app", DefaultInstance, ClientInfo{Peer: nopPeer{}}); err != nil {
					t.Fatal(err)
				}
				waitFailed(t, m)
			}
			for range 3 {
				_, _, err := m.Connect("app", DefaultInstance, ClientInfo{Peer: nopPeer{}})
				if !errors.Is(err, ErrScript) || !strings.Contains(err.Error(), "main.asc:3:1") {
					t.Fatalf("err = %v, want ErrScript naming main.asc:3:1", err)
				}
			}
			if _, _, err := m.Connect("app", "other", ClientInfo{Peer: nopPeer{}}); !errors.Is(err, ErrScript) {
				t.Fatalf("another instance of the app: err = %v, want ErrScript", err)
			}
			if n := l.loads.Load(); n != 1 {
				t.Fatalf("%d loads for four connects to a failed app, want 1", n)
			}
			// The fix: the file changes, the next connect loads it.
			l.mu.Lock()
			l.fail = nil
			l.mu.Unlock()
			if err := os.WriteFile(main, []byte("v2, fixed"), 0o644); err != nil {
				t.Fatal(err)
			}
			in, c, err := m.Connect("app", DefaultInstance, ClientInfo{Peer: nopPeer{}})
			if err != nil {
				t.Fatalf("connect after the fix: %v", err)
			}
			in.Disconnect(c)
			if n := l.loads.Load(); n != 2 {
				t.Errorf("%d loads, want 2", n)
			}
		})
	}
	t.Run("retry interval", func(t *testing.T) {
		l := &startLoader{fail: errors.New("database unreachable")}
		m, _ := newLoadManager(t, 30*time.Millisecond, l)
		if _, _, err := m.Connect("app", DefaultInstance, ClientInfo{Peer: nopPeer{}}); err != nil {
			t.Fatal(err)
		}
		waitFailed(t, m)
		l.mu.Lock()
		l.fail = nil // what failed was outside the script files
		l.mu.Unlock()
		deadline := time.Now().Add(10 * time.Second)
		for {
			in, c, err := m.Connect("app", DefaultInstance, ClientInfo{Peer: nopPeer{}})
			if err == nil {
				in.Disconnect(c)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still failing 10s after a 30ms retry interval: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// waitFailed waits until the failed instance has been unloaded.
func waitFailed(t *testing.T, m *Manager) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(m.Instances()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the instance whose start failed is still loaded")
		}
		time.Sleep(time.Millisecond)
	}
}

// A play of a stream in an instance that never recorded anything is a
// missing stream, not a file-system error (the streams folder is absent).
func TestResolveStreamMissingFolder(t *testing.T) {
	m := newTestManager(t, time.Minute)
	in, c, err := m.Connect("live", "fresh", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Disconnect(c)
	cfg := AppConfig{}.WithDefaults()
	check := func(name string) {
		t.Helper()
		_, err := in.ResolveStream(cfg, name, false)
		if !errors.Is(err, ErrStreamNotFound) {
			t.Errorf("%s: err = %v, want ErrStreamNotFound", name, err)
			return
		}
		if strings.Contains(err.Error(), "lstat") || strings.Contains(err.Error(), m.cfg.AppsDir) {
			t.Errorf("%s: err = %q, want no file-system detail", name, err)
		}
	}
	for _, name := range []string{"never", "sub/never", "mp3:song"} {
		check(name)
	}
	// The folder exists, a sub-folder does not.
	if err := os.MkdirAll(in.StreamsDir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	check("sub/never")
}
