//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/status"
	"github.com/openfcs/openfcs/tunnel"
)

// Shared objects against the real binary with the project's
// client. Every scenario runs over each transport soTransports lists.

// soTransport is one way for the project's client to reach the server.
type soTransport struct {
	name string
	// dial connects to app with objectEncoding enc.
	dial func(t testing.TB, ctx context.Context, app string, enc int) *rtmp.Client
	// connect is dial for a goroutine of the test: it returns the error
	// and the caller closes the client.
	connect func(ctx context.Context, app string, enc int) (*rtmp.Client, error)
}

// soRTMPTConfig is the polling client of the RTMPT transport. Its send
// buffer is about a socket's (64 KiB), so a client writing faster than the
// server reads is held back as TCP holds it over rtmp and rtmpws; the
// default 4 MiB let a flooder's goroutine run on for megabytes the server
// never reads, taking the test process's CPU from the clients measured.
var soRTMPTConfig = tunnel.DialConfig{IdleInterval: 5 * time.Millisecond, MaxBuffered: 64 << 10}

func soTransports(srv *server) []soTransport {
	return []soTransport{
		{name: "rtmp", dial: func(t testing.TB, ctx context.Context, app string, enc int) *rtmp.Client {
			t.Helper()
			return soDialURL(t, ctx, "rtmp://"+srv.rtmpAddr+"/"+app, rtmp.ClientConfig{ObjectEncoding: enc})
		}, connect: func(ctx context.Context, app string, enc int) (*rtmp.Client, error) {
			return rtmp.Dial(ctx, "rtmp://"+srv.rtmpAddr+"/"+app, rtmp.ClientConfig{ObjectEncoding: enc})
		}},
		// RTMPT: the same session over the HTTP tunnel on the HTTP port
		// (package tunnel's polling client).
		{name: "rtmpt", dial: func(t testing.TB, ctx context.Context, app string, enc int) *rtmp.Client {
			t.Helper()
			dial, cleanup := tunnel.Dialer(soRTMPTConfig)
			c := soDialURL(t, ctx, "rtmpt://"+srv.httpAddr+"/"+app, rtmp.ClientConfig{ObjectEncoding: enc, Dial: dial})
			t.Cleanup(cleanup)
			return c
		}, connect: func(ctx context.Context, app string, enc int) (*rtmp.Client, error) {
			// DialFunc's HTTP client closes with the client's session.
			return rtmp.Dial(ctx, "rtmpt://"+srv.httpAddr+"/"+app,
				rtmp.ClientConfig{ObjectEncoding: enc, Dial: tunnel.DialFunc(soRTMPTConfig)})
		}},
		// RTMP over WebSocket on the HTTP port (package bridge's client).
		{name: "rtmpws", dial: func(t testing.TB, ctx context.Context, app string, enc int) *rtmp.Client {
			t.Helper()
			dial := bridge.DialFunc(bridge.DialConfig{})
			return soDialURL(t, ctx, "rtmpws://"+srv.httpAddr+"/"+app, rtmp.ClientConfig{ObjectEncoding: enc, Dial: dial})
		}, connect: func(ctx context.Context, app string, enc int) (*rtmp.Client, error) {
			return rtmp.Dial(ctx, "rtmpws://"+srv.httpAddr+"/"+app,
				rtmp.ClientConfig{ObjectEncoding: enc, Dial: bridge.DialFunc(bridge.DialConfig{})})
		}},
	}
}

func soDialURL(t testing.TB, ctx context.Context, url string, cfg rtmp.ClientConfig) *rtmp.Client {
	t.Helper()
	c, err := rtmp.Dial(ctx, url, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// soWatch records what a client object's callbacks saw.
type soWatch struct {
	so    *rtmp.SharedObject
	mu    sync.Mutex
	items []rtmp.SyncItem
	sends [][]amf.Value
	stats []string
	// byVersion is the value of slot "slot" after each message, by the
	// message's version (for the consistency check of acceptance 3).
	byVersion map[uint32]amf.Value
	versions  []uint32
}

func watchSO(name string, persistent bool) *soWatch {
	w := &soWatch{so: rtmp.NewSharedObject(name, persistent), byVersion: map[uint32]amf.Value{}}
	w.so.OnSync = func(items []rtmp.SyncItem) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.items = append(w.items, items...)
		v := w.so.Version()
		w.versions = append(w.versions, v)
		w.byVersion[v] = w.so.Get("slot")
	}
	w.so.OnMessage = func(h string, args []amf.Value) {
		w.mu.Lock()
		w.sends = append(w.sends, append([]amf.Value{amf.String(h)}, args...))
		w.mu.Unlock()
	}
	w.so.OnStatus = func(code, level string) {
		w.mu.Lock()
		w.stats = append(w.stats, code)
		w.mu.Unlock()
	}
	return w
}

func (w *soWatch) has(code, name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range w.items {
		if it.Code == code && it.Name == name {
			return true
		}
	}
	return false
}

func (w *soWatch) reset() {
	w.mu.Lock()
	w.items, w.sends = nil, nil
	w.mu.Unlock()
}

func (w *soWatch) nsends() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sends)
}

// everyAMF0Type is a slot value holding every AMF0 type, nested.
func everyAMF0Type() amf.Value {
	return amf.Object(
		amf.Prop{Key: "num", Value: amf.Number(-12.25)},
		amf.Prop{Key: "bool", Value: amf.Bool(true)},
		amf.Prop{Key: "str", Value: amf.String("héllo")},
		amf.Prop{Key: "long", Value: amf.String(strings.Repeat("L", 70000))},
		amf.Prop{Key: "null", Value: amf.Null()},
		amf.Prop{Key: "undef", Value: amf.Undefined()},
		amf.Prop{Key: "date", Value: amf.Date(1.7e12)},
		amf.Prop{Key: "xml", Value: amf.XMLDocument("<a b='1'/>")},
		amf.Prop{Key: "ecma", Value: amf.ECMAArray(amf.Prop{Key: "k", Value: amf.Number(1)})},
		amf.Prop{Key: "strict", Value: amf.StrictArray(amf.Number(1), amf.StrictArray(amf.String("deep")))},
		amf.Prop{Key: "typed", Value: amf.TypedObject("com.example.Pt", amf.Prop{Key: "x", Value: amf.Number(3)})},
		amf.Prop{Key: "nested", Value: amf.Object(amf.Prop{Key: "o", Value: amf.Object(amf.Prop{Key: "p", Value: amf.Null()})})},
	)
}

// TestSOChat: acceptance 1 and 2.
func TestSOChat(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	for _, tr := range soTransports(srv) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			encs := []int{0, 0, 3} // A and B speak AMF0, C AMF3
			ws := make([]*soWatch, 3)
			for i, enc := range encs {
				ws[i] = watchSO("chat", false)
				if err := ws[i].so.Connect(ctx, tr.dial(t, ctx, "live/chat-"+tr.name, enc)); err != nil {
					t.Fatal(err)
				}
			}
			a, b, c := ws[0], ws[1], ws[2]
			if err := a.so.SetProperty("msg", amf.String("hi")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "A's success", func() bool { return a.has("success", "msg") })
			for _, w := range []*soWatch{b, c} {
				waitFor(t, 10*time.Second, "change", func() bool { return w.has("change", "msg") })
				if got := w.so.Get("msg"); got.Str() != "hi" {
					t.Fatalf("msg = %v", got)
				}
			}
			if a.has("change", "msg") {
				t.Fatal("the setter got a Change for its own write")
			}
			// Every AMF0 type, nested, from the AMF0 client to the others.
			v := everyAMF0Type()
			_ = a.so.SetProperty("all", v)
			for _, w := range []*soWatch{b, c} {
				waitFor(t, 10*time.Second, "all types", func() bool { return w.has("change", "all") })
				if !amf.Equal(w.so.Get("all"), v) {
					t.Fatalf("value did not round-trip:\n got %v\nwant %v", w.so.Get("all"), v)
				}
			}
			// The AMF3 client's writes, AMF3-only values included, reach the
			// AMF0 clients and back.
			v3 := amf.Object(amf.Prop{Key: "bytes", Value: amf.ByteArray([]byte{0, 1, 2})}, amf.Prop{Key: "n", Value: amf.Number(42)})
			_ = c.so.SetProperty("fromAMF3", v3)
			for _, w := range []*soWatch{a, b} {
				waitFor(t, 10*time.Second, "AMF3 change", func() bool { return w.has("change", "fromAMF3") })
				if !amf.Equal(w.so.Get("fromAMF3"), v3) {
					t.Fatalf("AMF3 value: got %v want %v", w.so.Get("fromAMF3"), v3)
				}
			}
			// Acceptance 2: send reaches every user, the sender included.
			if err := b.so.Send("newLine", amf.String("hi"), amf.Number(3)); err != nil {
				t.Fatal(err)
			}
			for i, w := range ws {
				waitFor(t, 10*time.Second, fmt.Sprintf("newLine at client %d", i), func() bool { return w.nsends() == 1 })
				w.mu.Lock()
				got := w.sends[0]
				w.mu.Unlock()
				if len(got) != 3 || got[0].Str() != "newLine" || got[1].Str() != "hi" || got[2].Num() != 3 {
					t.Fatalf("client %d got %v", i, got)
				}
			}
			ver := a.so.Version()
			waitFor(t, 10*time.Second, "same version", func() bool { return b.so.Version() == ver && c.so.Version() == ver })
		})
	}
}

// TestSOConcurrentWriters: acceptance 3.
func TestSOConcurrentWriters(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	for _, tr := range soTransports(srv) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			const n = 50
			ws := make([]*soWatch, n)
			for i := range ws {
				ws[i] = watchSO("race", false)
				if err := ws[i].so.Connect(ctx, tr.dial(t, ctx, "live/race-"+tr.name, i%2*3)); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, w := range ws {
				wg.Go(func() {
					<-start
					if err := w.so.SetProperty("slot", amf.Number(float64(i))); err != nil {
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			// Settled: nobody pending, everyone at the same version.
			waitFor(t, 30*time.Second, "all writes answered and versions equal", func() bool {
				v := ws[0].so.Version()
				for _, w := range ws {
					if w.so.Pending() != 0 || w.so.Version() != v {
						return false
					}
				}
				return true
			})
			final, ver := ws[0].so.Get("slot"), ws[0].so.Version()
			accepted := 0
			for i, w := range ws {
				if !amf.Equal(w.so.Get("slot"), final) || w.so.Version() != ver {
					t.Fatalf("client %d ends with %v at v%d; client 0 with %v at v%d", i, w.so.Get("slot"), w.so.Version(), final, ver)
				}
				if w.has("success", "slot") {
					accepted++
				}
				w.mu.Lock()
				if !slices.IsSorted(w.versions) {
					t.Errorf("client %d saw versions out of order: %v", i, w.versions)
				}
				w.mu.Unlock()
			}
			// A consistent order: whenever two clients saw the same version,
			// they saw the same value.
			seen := map[uint32]amf.Value{}
			for i, w := range ws {
				w.mu.Lock()
				for v, val := range w.byVersion {
					if prev, ok := seen[v]; ok && !amf.Equal(prev, val) && !w.has("success", "slot") {
						t.Errorf("client %d saw %v at v%d, another client %v", i, val, v, prev)
					}
					seen[v] = val
				}
				w.mu.Unlock()
			}
			t.Logf("%d clients: final slot=%v version=%d, %d writes accepted, %d rejected as stale", n, final, ver, accepted, n-accepted)
		})
	}
}

// soClientPersistentApp makes an application without a script whose
// clients may create persistent shared objects (refused by default).
func soClientPersistentApp(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "application.yaml"), []byte("shared_objects:\n  client_persistent: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// soServer runs the binary on a given applications folder so that it can be
// restarted over the same persistent state, and killed.
type soServer struct {
	*server
	killed bool
}

func startSOServer(t *testing.T, apps, config string) *soServer {
	t.Helper()
	dir := t.TempDir()
	args := []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--apps", apps,
		"--log-format", "json", "--log-level", "debug"}
	if config != "" {
		p := filepath.Join(dir, "openfcs.yaml")
		if err := os.WriteFile(p, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	s := &soServer{server: &server{t: t, ready: make(chan struct{})}}
	t.Cleanup(func() {
		if t.Failed() {
			s.mu.Lock()
			t.Logf("openfcs log (%d lines):\n%s", len(s.lines), strings.Join(s.lines, "\n"))
			s.mu.Unlock()
		}
	})
	s.proc = startProc(t, procOpts{StderrLine: s.addLine, StdoutLine: s.addLine, Quiet: true}, openfcsBin, args...)
	t.Cleanup(func() {
		if !s.killed {
			s.stop()
		}
	})
	select {
	case <-s.ready:
	case <-s.proc.done:
		t.Fatalf("openfcs exited before listening: %v", s.proc.err)
	case <-time.After(30 * time.Second):
		t.Fatal("openfcs did not start")
	}
	return s
}

// kill9 kills the server without letting it save anything.
func (s *soServer) kill9() {
	s.killed = true
	_ = syscall.Kill(s.proc.cmd.Process.Pid, syscall.SIGKILL)
	<-s.proc.done
}

// graceful stops the server with SIGTERM and checks its exit.
func (s *soServer) graceful() {
	s.killed = true
	s.stop()
}

func soDial(t *testing.T, ctx context.Context, s *soServer, app string, enc int) *rtmp.Client {
	t.Helper()
	return soTransports(s.server)[0].dial(t, ctx, app, enc)
}

// TestSOPersistence: acceptance 4.
func TestSOPersistence(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	apps := filepath.Join(root, "applications")
	soClientPersistentApp(t, filepath.Join(apps, "live"))
	const cfg = "instance:\n  shared_objects:\n    flush_delay: 50ms\n"
	file := filepath.Join(apps, "live", "sharedobjects", "_definst_", "scores.fso")
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()

	// Run 1: write, stop gracefully. The flush delay is an hour, so what
	// reaches the disk is written by the shutdown (instance unload).
	s := startSOServer(t, apps, "instance:\n  shared_objects:\n    flush_delay: 1h\n")
	w := watchSO("scores", true)
	if err := w.so.Connect(ctx, soDial(t, ctx, s, "live", 0)); err != nil {
		t.Fatal(err)
	}
	_ = w.so.SetProperties(map[string]amf.Value{"alice": amf.Number(10), "bob": everyAMF0Type()})
	_ = w.so.SetProperty("carol", amf.String("x"))
	_ = w.so.SetProperty("carol", amf.Null())
	waitFor(t, 10*time.Second, "answers", func() bool { return w.so.Pending() == 0 && w.has("delete", "carol") })
	ver1 := w.so.Version()
	if readSnapshot(t, file) != nil {
		t.Fatal("saved before the flush delay")
	}
	s.graceful()
	if snap := readSnapshot(t, file); snap == nil || snap.Version != ver1 {
		t.Fatalf("after shutdown the file holds %+v, want version %d", snap, ver1)
	}

	// Run 2: state and version survived; change more, wait for the flush,
	// kill -9.
	s = startSOServer(t, apps, cfg)
	r := watchSO("scores", true)
	if err := r.so.Connect(ctx, soDial(t, ctx, s, "live", 3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "sync", func() bool { return r.has("change", "bob") })
	if r.so.Version() != ver1 || r.so.Get("alice").Num() != 10 || !amf.Equal(r.so.Get("bob"), everyAMF0Type()) || len(r.so.Data()) != 2 {
		t.Fatalf("after graceful restart: v%d (want v%d) data %v", r.so.Version(), ver1, r.so.Data())
	}
	_ = r.so.SetProperty("dave", amf.Number(4))
	waitFor(t, 10*time.Second, "success", func() bool { return r.has("success", "dave") })
	ver2 := r.so.Version()
	waitFor(t, 10*time.Second, "flush to disk", func() bool {
		snap := readSnapshot(t, file)
		return snap != nil && snap.Version == ver2
	})
	s.kill9()

	s = startSOServer(t, apps, cfg)
	r2 := watchSO("scores", true)
	if err := r2.so.Connect(ctx, soDial(t, ctx, s, "live", 0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "sync", func() bool { return r2.has("change", "dave") })
	if r2.so.Version() != ver2 || len(r2.so.Data()) != 3 {
		t.Fatalf("after kill -9: v%d (want v%d) data %v", r2.so.Version(), ver2, r2.so.Data())
	}

	// Write storm with a 1 ms flush delay, killed in the middle, three times:
	// the file always parses (CRC) and loads.
	const storm = "instance:\n  shared_objects:\n    flush_delay: 1ms\n    change_rate: 100000\n    change_burst: 100000\n"
	s.graceful()
	for round := range 3 {
		s = startSOServer(t, apps, storm)
		sw := watchSO("scores", true)
		if err := sw.so.Connect(ctx, soDial(t, ctx, s, "live", 0)); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				big := amf.String(strings.Repeat(fmt.Sprint(i%10), 5000+i%7000))
				if sw.so.SetProperties(map[string]amf.Value{fmt.Sprint("k", i%50): big, "round": amf.Number(float64(round))}) != nil {
					return
				}
			}
		}()
		var mtimes int
		waitFor(t, 20*time.Second, "saves during the storm", func() bool {
			if fi, err := os.Stat(file); err == nil && time.Since(fi.ModTime()) < 100*time.Millisecond {
				mtimes++
			}
			return mtimes >= 3
		})
		s.kill9()
		close(stop)
		<-done
		snap := readSnapshot(t, file)
		if snap == nil {
			t.Fatalf("round %d: no file", round)
		}
		t.Logf("round %d: killed during the storm; file holds v%d with %d slots", round, snap.Version, len(snap.Slots))
	}
	s = startSOServer(t, apps, cfg)
	last := watchSO("scores", true)
	if err := last.so.Connect(ctx, soDial(t, ctx, s, "live", 0)); err != nil {
		t.Fatalf("load after kills: %v", err)
	}
	waitFor(t, 10*time.Second, "sync", func() bool { return last.has("change", "dave") })
}

// readSnapshot parses a .fso file; a file that exists but does not parse
// fails the test (a half-written file).
func readSnapshot(t *testing.T, path string) *sharedobject.Snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := sharedobject.ParseSnapshot(b)
	if err != nil {
		t.Fatalf("%s is not a complete file: %v", path, err)
	}
	return s
}

// TestSODeltaReconnect: acceptance 5.
func TestSODeltaReconnect(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	for _, tr := range soTransports(srv) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			app := "live/delta-" + tr.name
			a, b := watchSO("doc", false), watchSO("doc", false)
			if err := a.so.Connect(ctx, tr.dial(t, ctx, app, 0)); err != nil {
				t.Fatal(err)
			}
			keys := map[string]amf.Value{}
			for i := range 20 {
				keys[fmt.Sprint("k", i)] = amf.Number(float64(i))
			}
			_ = a.so.SetProperties(keys)
			waitFor(t, 10*time.Second, "writes", func() bool { return a.so.Pending() == 0 && a.has("success", "k0") })
			bc := tr.dial(t, ctx, app, 3)
			if err := b.so.Connect(ctx, bc); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "B synced", func() bool { return len(b.so.Data()) == 20 })
			_ = bc.Close() // B goes away without Release
			_ = a.so.SetProperty("k3", amf.String("changed"))
			_ = a.so.SetProperty("k4", amf.Null())
			_ = a.so.SetProperty("new", amf.Bool(true))
			waitFor(t, 10*time.Second, "writes", func() bool { return a.so.Pending() == 0 && a.has("success", "new") && a.has("delete", "k4") })
			b.reset()
			msgs := b.so.Messages()
			if err := b.so.Connect(ctx, tr.dial(t, ctx, app, 0)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "delta", func() bool { return b.so.Version() == a.so.Version() && b.has("change", "new") })
			b.mu.Lock()
			got := slices.Clone(b.items)
			b.mu.Unlock()
			var codes []string
			for _, it := range got {
				codes = append(codes, it.Code+" "+it.Name)
			}
			sort.Strings(codes)
			want := []string{"change k3", "change new", "delete k4"}
			if !slices.Equal(codes, want) || b.so.Messages() != msgs+1 {
				t.Fatalf("reconnect got %v in %d messages, want only %v in 1", codes, b.so.Messages()-msgs, want)
			}
			if b.so.Get("k3").Str() != "changed" || len(b.so.Data()) != 20 {
				t.Fatalf("local copy after delta: %v", b.so.Data())
			}
		})
	}
}

// soHostileNames are refused (docs/shared-objects.md#limits).
var soHostileNames = []string{
	"..", "../escape", "../../../../tmp/x", "a/../../b", "/abs", "a//b", "./a", "a\\b", "..\\..\\x", "a\x00b",
	"c:x", "C:\\Windows\\x", "x.", "CON", "nul.txt", "COM1", "x.fso", "x.tmp", "a/b/c/d/e/f/g/h/i",
	strings.Repeat("a", 256), "\xff\xfe", "a\nb", "a b", "%2e%2e/x", "~root", "a?b", "a#b",
}

// TestSOHostileNames: acceptance 6, first half.
func TestSOHostileNames(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	apps := filepath.Join(root, "applications")
	soClientPersistentApp(t, filepath.Join(apps, "live"))
	s := startSOServer(t, apps, "instance:\n  shared_objects:\n    flush_delay: 1ms\n")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c := soDial(t, ctx, s, "live/room", 0)
	for _, name := range soHostileNames {
		for _, persistent := range []bool{true, false} {
			w := watchSO(name, persistent)
			err := w.so.Connect(ctx, c)
			if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.ObjectCreationFailed {
				t.Fatalf("%q: %v, want %s", name, err, status.ObjectCreationFailed)
			}
		}
	}
	// A legal nested name lands in its folder.
	ok := watchSO("work/addresses", true)
	if err := ok.so.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	_ = ok.so.SetProperty("x", amf.Number(1))
	inst := filepath.Join(apps, "live", "sharedobjects", "room")
	waitFor(t, 10*time.Second, "file", func() bool { return readSnapshot(t, filepath.Join(inst, "work", "addresses.fso")) != nil })
	s.graceful()
	// Nothing anywhere under the temp root but the application folder and
	// the instance's shared objects.
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case p == root, rel == "applications", rel == filepath.Join("applications", "live"),
			rel == filepath.Join("applications", "live", "application.yaml"),
			rel == filepath.Join("applications", "live", "sharedobjects"),
			p == inst || strings.HasPrefix(p, inst+string(filepath.Separator)),
			strings.HasPrefix(rel, "openfcs.yaml"):
			return nil
		}
		t.Errorf("unexpected file %s", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	_ = filepath.WalkDir(inst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(inst, p)
			files = append(files, rel)
		}
		return nil
	})
	if !slices.Equal(files, []string{filepath.Join("work", "addresses.fso")}) {
		t.Fatalf("files in the instance folder: %v", files)
	}
}

// TestSOFlood: acceptance 6, second half: one client flooding changes does
// not delay the others' deliveries beyond the coalescing interval.
//
// The server cuts a flooder off after change_burst refused events, a
// tenth of a second into its flood, so the flooder connects again and
// floods on, as an attacker would: every measured change is made under a
// flood, and the server must cut the flooder off each time. A second
// writer and observer do the same on an instance nobody floods, at the
// same moments: on a shared 2-core machine running -race binaries the
// flood's CPU and the machine's load delay both pairs alike (by tens of
// milliseconds at the median, hundreds for a few deliveries), while a
// backlog behind the flood, or a shared object held by it, delays only the
// flooded one. The check is on the median and the 90th percentile, which
// a backlog raises, not on the single slowest delivery, which scheduling
// alone decides.
func TestSOFlood(t *testing.T) {
	t.Parallel()
	const coalesce = 20 * time.Millisecond
	srv := startServer(t, serverOpts{Config: "instance:\n  shared_objects:\n    coalesce: 20ms\n"})
	for _, tr := range soTransports(srv) {
		func() { // transports one after the other: parallel floods would measure each other
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			flooded := newTickPair(t, ctx, tr, "live/flood-"+tr.name)
			calm := newTickPair(t, ctx, tr, "live/calm-"+tr.name)

			stop := make(chan struct{})
			floodDone := make(chan floodResult, 1)
			go func() { floodDone <- floodSO(ctx, tr, "live/flood-"+tr.name, stop) }()
			const ticks = 30
			for i := 1; i <= ticks; i++ {
				// Alternate which pair goes first, so neither always waits
				// for the other's write.
				pairs := []*tickPair{flooded, calm}
				if i%2 == 0 {
					pairs[0], pairs[1] = calm, flooded
				}
				for _, p := range pairs {
					p.tick(t, i)
				}
				time.Sleep(50 * time.Millisecond) // pacing the writers, not waiting for a result
			}
			waitFor(t, 10*time.Second, "the last tick observed on both instances", func() bool {
				return flooded.seen(ticks) && calm.seen(ticks)
			})
			close(stop)
			res := <-floodDone
			if res.err != nil {
				t.Fatalf("%s: %v", tr.name, res.err)
			}
			fl, cl := flooded.latencies(), calm.latencies()
			pct := func(lat []time.Duration, p int) time.Duration { return lat[(len(lat)-1)*p/100] }
			t.Logf("%s: observer latency of another writer's changes (coalesce %v): flooded instance p50 %v p90 %v max %v over %d; "+
				"calm instance p50 %v p90 %v max %v over %d; the flooder sent %d changes and was cut off %d times",
				tr.name, coalesce, pct(fl, 50), pct(fl, 90), fl[len(fl)-1], len(fl),
				pct(cl, 50), pct(cl, 90), cl[len(cl)-1], len(cl), res.changes, res.cutOff)
			if res.cutOff == 0 {
				t.Fatalf("%s: the flooder was never cut off: the ticks were not made under a flood", tr.name)
			}
			// The margins are those the check had when it was absolute: 50 ms
			// on the median and 300 ms on the tail, above the interval.
			if p50 := pct(fl, 50); p50 > pct(cl, 50)+coalesce+50*time.Millisecond {
				t.Errorf("%s: flood delayed other clients: median %v, %v on the calm instance", tr.name, p50, pct(cl, 50))
			}
			if p90 := pct(fl, 90); p90 > pct(cl, 90)+coalesce+300*time.Millisecond {
				t.Errorf("%s: flood delayed other clients: p90 %v, %v on the calm instance", tr.name, p90, pct(cl, 90))
			}
		}()
	}
}

// tickPair is a writer that sets slot "tick" of shared object "room" and
// an observer that records when each value arrives.
type tickPair struct {
	writer, obs *soWatch
	mu          sync.Mutex
	sent        map[float64]time.Time // writer: set before each tick
	arrived     map[float64]time.Time
}

func newTickPair(t *testing.T, ctx context.Context, tr soTransport, app string) *tickPair {
	t.Helper()
	p := &tickPair{writer: watchSO("room", false), obs: watchSO("room", false),
		sent: map[float64]time.Time{}, arrived: map[float64]time.Time{}}
	p.obs.so.OnSync = func(items []rtmp.SyncItem) {
		now := time.Now()
		for _, it := range items {
			if it.Name == "tick" {
				p.mu.Lock()
				p.arrived[p.obs.so.Get("tick").Num()] = now
				p.mu.Unlock()
			}
		}
	}
	for i, w := range []*soWatch{p.writer, p.obs} {
		if err := w.so.Connect(ctx, tr.dial(t, ctx, app, i*3)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *tickPair) tick(t *testing.T, i int) {
	t.Helper()
	p.mu.Lock()
	p.sent[float64(i)] = time.Now()
	p.mu.Unlock()
	if err := p.writer.so.SetProperty("tick", amf.Number(float64(i))); err != nil {
		t.Fatal(err)
	}
}

func (p *tickPair) seen(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.arrived[float64(i)]
	return ok
}

// latencies returns, sorted, the latency of each tick the observer saw
// (a tick coalesced into the next one's delivery is not seen).
func (p *tickPair) latencies() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	lat := make([]time.Duration, 0, len(p.arrived))
	for k, at := range p.arrived {
		lat = append(lat, at.Sub(p.sent[k]))
	}
	slices.Sort(lat)
	return lat
}

type floodResult struct {
	changes, cutOff int
	err             error
}

// floodSO changes 20 slots of "room" in app as fast as the transport
// takes them until stop is closed, connecting again each time the server
// cuts it off.
func floodSO(ctx context.Context, tr soTransport, app string, stop <-chan struct{}) floodResult {
	var res floodResult
	batch := map[string]amf.Value{}
	for {
		select {
		case <-stop:
			return res
		default:
		}
		c, err := tr.connect(ctx, app, 0)
		if err != nil {
			res.err = fmt.Errorf("flooder connect: %w", err)
			return res
		}
		so := rtmp.NewSharedObject("room", false)
		if err := so.Connect(ctx, c); err != nil {
			_ = c.Close()
			res.err = fmt.Errorf("flooder use: %w", err)
			return res
		}
		for {
			select {
			case <-stop:
				_ = c.Close()
				return res
			default:
			}
			clear(batch)
			for j := range 20 {
				batch[fmt.Sprint("f", j)] = amf.Number(float64(res.changes))
			}
			if so.SetProperties(batch) != nil {
				break // cut off for flooding: connect again
			}
			res.changes += len(batch)
		}
		res.cutOff++
		_ = c.Close()
	}
}
