package sharedobject

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzParseSnapshot")

func sampleSnapshot() *Snapshot {
	v, _ := amf.AppendAMF0(nil, amf.Object(amf.Prop{Key: "a", Value: amf.Number(1)}))
	b := append([]byte{0x11}, 0x0c, 0x05, 1, 2) // switched ByteArray
	return &Snapshot{Name: "work/addresses", Version: 9, Horizon: 3,
		Slots:      []SnapshotSlot{{Key: "o", Version: 4, Value: v}, {Key: "bin", Version: 9, Value: b}},
		Tombstones: []Tombstone{{Key: "gone", Version: 5}}}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := sampleSnapshot()
	b, err := AppendSnapshot(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(s) {
		t.Fatalf("got %+v\nwant %+v", got, s)
	}
	// Every truncation and every single-byte corruption is refused whole.
	for i := range b {
		if _, err := ParseSnapshot(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, err := ParseSnapshot(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	st := &FileStore{Dir: dir}
	if _, err := st.Load("none"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	s := sampleSnapshot()
	if err := st.Save(s); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "work", "addresses.fso")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temp file left behind")
	}
	got, err := st.Load("work/addresses")
	if err != nil || got.Version != 9 {
		t.Fatalf("%v %v", got, err)
	}
	// A half-written temp file (a crash mid-save) does not matter.
	if err := os.WriteFile(p+".tmp", []byte("OFSO\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load("work/addresses"); err != nil || got.Version != 9 {
		t.Fatal(err)
	}
	// A corrupt file fails the load.
	if err := os.WriteFile(p, []byte("OFSO\x00\x01garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load("work/addresses"); !errors.Is(err, ErrCorrupt) {
		t.Fatal(err)
	}
	// A file renamed under another name is refused.
	s.Name = "other"
	_ = st.Save(s)
	_ = os.Rename(filepath.Join(dir, "other.fso"), filepath.Join(dir, "third.fso"))
	if _, err := st.Load("third"); !errors.Is(err, ErrCorrupt) {
		t.Fatal(err)
	}
	if err := st.Delete("third"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete("third"); err != nil {
		t.Fatal(err)
	}
	for _, n := range hostileNames {
		if err := st.Save(&Snapshot{Name: n}); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v", n, err)
		}
	}
}

// TestPersistence: versions and slots survive a registry restart; saves
// are debounced, happen on last release and on Close; a corrupt file
// refuses the Use.
func TestPersistence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := &countingStore{FileStore: FileStore{Dir: dir}}
		cfg := Config{FlushDelay: time.Second}
		r := NewRegistry(cfg, st, nil)
		a := newClient(t, r)
		_ = a.send(t, "scores", true, 0, use)
		_ = a.send(t, "scores", true, 1, set("x", amf.Number(1)), set("y", amf.String("s")))
		for i := range 50 {
			time.Sleep(10 * time.Millisecond)
			_ = a.send(t, "scores", true, uint32(2+i), set("x", amf.Number(float64(i))))
		}
		if st.saves() != 0 {
			t.Fatal("saved before the flush delay")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if st.saves() != 1 {
			t.Fatalf("%d saves after the delay, want 1 (debounced)", st.saves())
		}
		_ = a.send(t, "scores", true, 52, del("y"))
		ver := r.Lookup("scores", true).Version()
		a.s.Close() // last subscriber: saved now
		if st.saves() != 2 {
			t.Fatalf("%d saves after release", st.saves())
		}
		so, _ := r.Get("scores", true)
		_ = so.SetProperty("z", amf.Bool(true))
		if err := so.Flush(); err != nil || st.saves() != 3 {
			t.Fatalf("flush: %v, %d saves", err, st.saves())
		}
		_ = so.SetProperty("w", amf.Bool(true))
		if err := r.Close(); err != nil || st.saves() != 4 {
			t.Fatalf("close: %v, %d saves", err, st.saves())
		}

		r2 := newReg(t, cfg, st)
		b := newClient(t, r2)
		_ = b.send(t, "scores", true, ver, use)
		want(t, "delta after restart", b.rec, "v55: use-success change z=true change w=true")
		if got := r2.Lookup("scores", true); got.GetProperty("x").Num() != 49 || got.Size() != 3 {
			t.Fatalf("restored %v", got.PropertyNames())
		}
		c := newClient(t, r2)
		_ = c.send(t, "scores", true, 3, use)
		want(t, "old client", c.rec, "v55: use-success change x=49 change z=true change w=true remove y")

		// Corrupt file: ObjectCreationFailed, nothing loaded.
		if err := os.WriteFile(filepath.Join(dir, "bad.fso"), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = c.send(t, "bad", true, 0, use)
		want(t, "corrupt", c.rec, "v0: status SharedObject.ObjectCreationFailed")
		b.s.Close()
		c.s.Close()
	})
}

type countingStore struct {
	FileStore
	n atomic.Int32
}

func (c *countingStore) Save(s *Snapshot) error {
	c.n.Add(1)
	return c.FileStore.Save(s)
}

func (c *countingStore) saves() int { return int(c.n.Load()) }

func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseSnapshot")
	b, _ := AppendSnapshot(nil, sampleSnapshot())
	empty, _ := AppendSnapshot(nil, &Snapshot{Name: "e", Version: 1, Horizon: 1})
	seeds := map[string][]byte{"sample": b, "empty": empty, "bad_magic": []byte("XFSO\x00\x01\x00\x00")}
	if *updateCorpus {
		_ = os.MkdirAll(dir, 0o755)
		for n, b := range seeds {
			if err := os.WriteFile(filepath.Join(dir, n), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := range seeds {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("seed %s: %v", n, err)
		}
	}
}

// FuzzParseSnapshot: no panic; what parses re-encodes to the same bytes.
func FuzzParseSnapshot(f *testing.F) {
	b, _ := AppendSnapshot(nil, sampleSnapshot())
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSnapshot(in)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		out, err := AppendSnapshot(nil, s)
		if err != nil || string(out) != string(in) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// TestDocServerAnswers: docs/shared-objects.md#byte-examples (d), byte for byte from the
// engine: Success to the setter, Change to the others.
func TestDocServerAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		var setter, other capture
		s1, s2 := r.NewSession(&setter), r.NewSession(&other)
		m := wire.Message{Name: "chat", Events: []wire.Event{{Type: wire.EventUse}, set("a", amf.Number(1))}}
		_ = s1.Handle(&m) // version 1 -> 2
		m = wire.Message{Name: "chat", Events: []wire.Event{{Type: wire.EventUse}}}
		_ = s2.Handle(&m)
		time.Sleep(time.Second)
		setter.msgs, other.msgs = nil, nil
		m = wire.Message{Name: "chat", Version: 2, Events: []wire.Event{set("msg", amf.String("hi"))}}
		_ = s1.Handle(&m)
		hex := func(s string) string { return strings.Join(strings.Fields(s), "") }
		got := fmt.Sprintf("%x", setter.msgs[0].AMF0())
		if got != hex("00 04 63 68 61 74  00 00 00 03  00 00 00 00  00 00 00 00  05 00 00 00 05  00 03 6d 73 67") {
			t.Fatalf("success % s", got)
		}
		got = fmt.Sprintf("%x", other.msgs[0].AMF0())
		if got != hex("00 04 63 68 61 74  00 00 00 03  00 00 00 00  00 00 00 00  04 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69") {
			t.Fatalf("change %s", got)
		}
		s1.Close()
		s2.Close()
	})
}

type capture struct{ msgs []Outgoing }

func (c *capture) Deliver(o Outgoing) { c.msgs = append(c.msgs, o) }

// TestFileStoreSymlinkEscape: a symlink inside the store's folder (a
// sub-folder, the file itself, or a stale .tmp) never makes a save write,
// or a load read, outside it.
func TestFileStoreSymlinkEscape(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "so")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.fso")
	good := sampleSnapshot()
	good.Name = "secret"
	b, _ := AppendSnapshot(nil, good)
	if err := os.WriteFile(secret, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "secret.fso")); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "t.fso.tmp")); err != nil {
		t.Fatal(err)
	}
	f := &FileStore{Dir: dir}
	s := sampleSnapshot()
	s.Name = "sub/x"
	if err := f.Save(s); err == nil {
		t.Error("save through a symlinked folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "x.fso")); err == nil {
		t.Error("x.fso written outside the store")
	}
	if _, err := f.Load("sub/x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("load through a symlinked folder: %v", err)
	}
	if _, err := f.Load("secret"); err == nil {
		t.Error("load of a file symlinked outside succeeded")
	}
	s.Name = "t"
	if err := f.Save(s); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep" {
		t.Errorf("save wrote through a symlinked .tmp: victim holds %q", got)
	}
	if _, err := f.Load("t"); err != nil {
		t.Error(err)
	}
}
