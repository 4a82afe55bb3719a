package sharedobject

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

// budgetReg is a registry of instance inst with a file store below dir,
// charged to b.
func budgetReg(t *testing.T, b *Budget, dir, inst string) *Registry {
	t.Helper()
	r := newReg(t, Config{FlushDelay: 1}, &FileStore{Dir: filepath.Join(dir, inst)})
	r.SetBudget(b)
	return r
}

// storedUsage sums the files below dir as ChargeStored does.
func storedUsage(t *testing.T, dir string) Usage {
	t.Helper()
	b := NewBudget("scan", BudgetLimits{MaxObjects: -1, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1})
	if err := b.ChargeStored(dir); err != nil {
		t.Fatal(err)
	}
	return b.Usage()
}

// Loaded objects count against the application's and the server's
// budgets across instances: past either, Get and a client's Use are
// refused; dropping objects makes room again.
func TestBudgetObjectsAcrossInstances(t *testing.T) {
	srv := NewBudget("server", BudgetLimits{MaxObjects: 5, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1})
	appA := srv.Child("a", BudgetLimits{MaxObjects: 3, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1})
	appB := srv.Child("b", BudgetLimits{MaxObjects: 3, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1})
	dir := t.TempDir()
	a1, a2 := budgetReg(t, appA, dir, "a1"), budgetReg(t, appA, dir, "a2")
	b1 := budgetReg(t, appB, dir, "b1")
	var held []*SharedObject
	get := func(r *Registry, name string) error {
		so, err := r.Get(name, false)
		if err == nil {
			held = append(held, so)
		}
		return err
	}
	for i, r := range []*Registry{a1, a2, a1} {
		if err := get(r, fmt.Sprint("o", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := get(a2, "o9"); !errors.Is(err, ErrBudget) || !errors.Is(err, ErrLimit) {
		t.Fatalf("fourth object of application a: err = %v, want ErrBudget", err)
	}
	// A client's Use is refused the same way.
	c := newClient(t, a2)
	if err := c.send(t, "fromclient", false, 0, use); err != nil {
		t.Fatal(err)
	}
	want(t, "client", c.rec, "v0: status SharedObject.ObjectCreationFailed")
	if err := get(b1, "x"); err != nil {
		t.Fatal(err)
	}
	if err := get(b1, "y"); err != nil {
		t.Fatal(err)
	}
	if err := get(b1, "z"); !errors.Is(err, ErrBudget) {
		t.Fatalf("sixth object of the server: err = %v, want ErrBudget", err)
	}
	if u := srv.Usage(); u.Objects != 5 {
		t.Fatalf("server usage %+v, want 5 objects", u)
	}
	held[0].Close() // a temporary object with no subscribers goes away
	if err := get(b1, "z"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

// Slot bytes count against the budgets: a change past them is refused
// (the writer gets its value back with a status), a delete makes room.
func TestBudgetBytes(t *testing.T) {
	srv := NewBudget("server", BudgetLimits{MaxObjects: -1, MaxBytes: 10_000, MaxFiles: -1, MaxDiskBytes: -1})
	app := srv.Child("app", BudgetLimits{MaxObjects: -1, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1})
	dir := t.TempDir()
	r1, r2 := budgetReg(t, app, dir, "i1"), budgetReg(t, app, dir, "i2")
	big := amf.String(strings.Repeat("x", 4000))
	s1, err := r1.Get("s", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	if err := s1.SetProperty("a", big); err != nil {
		t.Fatal(err)
	}
	if err := s1.SetProperty("b", big); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, r2)
	if err := c.send(t, "s", false, 0, use); err != nil {
		t.Fatal(err)
	}
	c.take()
	if err := c.send(t, "s", false, 1, set("c", big)); err != nil {
		t.Fatal(err)
	}
	r2.Lookup("s", false).mu.Lock()
	r2.Lookup("s", false).flushLocked()
	r2.Lookup("s", false).mu.Unlock()
	want(t, "writer past the server budget", c.rec, "v1: remove c status SharedObject.NoWriteAccess")
	if err := s1.SetProperty("c", big); !errors.Is(err, ErrBudget) {
		t.Fatalf("script change past the budget: %v", err)
	}
	if err := s1.SetProperty("a", amf.Null()); err != nil {
		t.Fatal(err)
	}
	if err := s1.SetProperty("c", big); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	if u := srv.Usage(); u.Bytes > 10_000 || u.Bytes < 8000 {
		t.Fatalf("server usage %+v", u)
	}
}

// Persistent objects' files count against the disk budget after their
// instance unloads, and after a restart (ChargeStored); what is charged
// equals the files' sizes.
func TestBudgetDisk(t *testing.T) {
	dir := t.TempDir()
	lim := BudgetLimits{MaxObjects: -1, MaxBytes: -1, MaxFiles: 3, MaxDiskBytes: 30_000}
	srv := NewBudget("server", BudgetLimits{MaxObjects: -1, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1})
	app := srv.Child("app", lim)
	val := amf.String(strings.Repeat("v", 9000))
	for i := range 3 {
		r := NewRegistry(Config{FlushDelay: 1}, &FileStore{Dir: filepath.Join(dir, fmt.Sprint("i", i))}, nil)
		r.SetBudget(app)
		so, err := r.Get("p", true)
		if err != nil {
			t.Fatal(err)
		}
		if err := so.SetProperty("k", val); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		if i == 2 {
			if err := so.SetProperty("k2", val); !errors.Is(err, ErrBudget) {
				t.Fatalf("past the disk budget: %v", err)
			}
			// A temporary object needs no disk.
			tmp, err := r.Get("t", false)
			if err != nil {
				t.Fatal(err)
			}
			if err := tmp.SetProperty("k2", val); err != nil {
				t.Fatal(err)
			}
			tmp.Close()
		}
		so.Close()
		if err := r.Close(); err != nil { // the instance unloads, saving p
			t.Fatal(err)
		}
	}
	stored := storedUsage(t, dir)
	if got := app.Usage(); got.Files != 3 || got.Disk != stored.Disk || got.Objects != 0 || got.Bytes != 0 {
		t.Fatalf("after unloading: charged %+v, files hold %+v", got, stored)
	}
	// A restart counts the files again; a fourth persistent object is
	// refused on its first change, a new client-created one at once
	// when clients may not create them.
	app2 := NewBudget("server", BudgetLimits{MaxObjects: -1, MaxBytes: -1, MaxFiles: -1, MaxDiskBytes: -1}).Child("app", lim)
	if err := app2.ChargeStored(dir); err != nil {
		t.Fatal(err)
	}
	r := budgetReg(t, app2, dir, "i3")
	so, err := r.Get("p", true)
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	if err := so.SetProperty("k", amf.Number(1)); !errors.Is(err, ErrBudget) {
		t.Fatalf("fourth file: %v", err)
	}
	// An existing object reloads and keeps its charge exact.
	r0 := budgetReg(t, app2, dir, "i0")
	p0, err := r0.Get("p", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := p0.SetProperty("k", amf.String("short")); err != nil {
		t.Fatal(err)
	}
	if err := p0.Flush(); err != nil {
		t.Fatal(err)
	}
	p0.Close()
	if got, files := app2.Usage().Disk, storedUsage(t, dir).Disk; got != files {
		t.Fatalf("charged %d disk bytes, files hold %d", got, files)
	}
}

// Deleted slots leave tombstones whose keys cost memory and disk: they
// count towards max_bytes with the live slots, so create-and-delete of
// long keys cannot grow an object past it.
func TestTombstoneKeysCount(t *testing.T) {
	r := newReg(t, Config{MaxBytes: 100_000}, nil)
	so, err := r.Get("s", false)
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	for i := 0; ; i++ {
		key := fmt.Sprintf("%05d%s", i, strings.Repeat("k", 10_000))
		if err := so.SetProperty(key, amf.Number(1)); err != nil {
			if i < 5 || i > 10 {
				t.Fatalf("refused after %d keys: %v", i, err)
			}
			break
		}
		if err := so.SetProperty(key, amf.Null()); err != nil {
			t.Fatal(err)
		}
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.tombKeys > 100_000 {
		t.Fatalf("tombstones hold %d key bytes", so.tombKeys)
	}
}

// A registry that does not let clients create persistent objects refuses
// a client's Use of a new one, lets it use a stored one, and lets the
// script create them.
func TestClientPersistentRefused(t *testing.T) {
	dir := t.TempDir()
	r := newReg(t, Config{}, &FileStore{Dir: dir})
	r.SetClientPersistent(false)
	c := newClient(t, r)
	if err := c.send(t, "new", true, 0, use); err != nil {
		t.Fatal(err)
	}
	want(t, "client", c.rec, "v0: status SharedObject.ObjectCreationFailed")
	if _, err := os.Stat(filepath.Join(dir, "new.fso")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused object was stored: %v", err)
	}
	so, err := r.Get("byscript", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := so.SetProperty("k", amf.Number(1)); err != nil {
		t.Fatal(err)
	}
	if err := so.Flush(); err != nil {
		t.Fatal(err)
	}
	so.Close()
	if err := c.send(t, "byscript", true, 0, use); err != nil {
		t.Fatal(err)
	}
	if got := summary(c.take()); len(got) != 1 || !strings.Contains(got[0], "use-success") {
		t.Fatalf("use of a stored object: %q", got)
	}
	// Temporary objects are not affected.
	if err := c.send(t, "temp", false, 0, use); err != nil {
		t.Fatal(err)
	}
	if got := summary(c.take()); len(got) != 1 || !strings.Contains(got[0], "use-success") {
		t.Fatalf("use of a temporary object: %q", got)
	}
}
