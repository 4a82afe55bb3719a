package sharedobject

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// BudgetLimits bound the shared objects of a group of registries: an
// application's instances, or the whole server. A zero field means its
// default (Config.AppBudget, Config.ServerBudget); a negative one, no
// limit.
type BudgetLimits struct {
	// MaxObjects bounds the shared objects loaded at once.
	MaxObjects int `yaml:"max_objects"`
	// MaxBytes bounds the slot bytes (encoded keys and values, and the
	// keys of deleted-slot records) of the loaded objects.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxFiles bounds the persistent objects kept in the stores, loaded
	// or not.
	MaxFiles int `yaml:"max_files"`
	// MaxDiskBytes bounds the bytes of those files.
	MaxDiskBytes int64 `yaml:"max_disk_bytes"`
}

func (l BudgetLimits) withDefaults(d BudgetLimits) BudgetLimits {
	if l.MaxObjects == 0 {
		l.MaxObjects = d.MaxObjects
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxFiles == 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxDiskBytes == 0 {
		l.MaxDiskBytes = d.MaxDiskBytes
	}
	return l
}

// ErrBudget reports a change or an object that would pass an application
// or server budget (BudgetLimits). It wraps ErrLimit.
var ErrBudget = fmt.Errorf("%w: shared object budget", ErrLimit)

// Usage is what a Budget has charged.
type Usage struct {
	Objects int   // loaded objects
	Bytes   int64 // slot bytes of the loaded objects
	Files   int   // stored persistent objects
	Disk    int64 // bytes of their files
}

func (u Usage) add(d Usage) Usage {
	return Usage{u.Objects + d.Objects, u.Bytes + d.Bytes, u.Files + d.Files, u.Disk + d.Disk}
}

func (u Usage) sub(d Usage) Usage {
	return Usage{u.Objects - d.Objects, u.Bytes - d.Bytes, u.Files - d.Files, u.Disk - d.Disk}
}

// fileExt is the suffix of FileStore files.
const fileExt = ".fso"

// Budget counts the shared objects of every registry charged to it against
// its limits and those of its parent: an application's Budget has the
// server's as parent. Registries charge it when they load an object, when
// a slot grows and when a persistent object gets a file; growth that would
// pass a limit at any level is refused. All budgets of one tree share a
// lock, taken after SharedObject.mu and Registry.mu.
type Budget struct {
	name   string
	lim    BudgetLimits
	parent *Budget
	mu     *sync.Mutex // the root's
	used   Usage       // mu
}

// NewBudget returns a root budget (the server's).
func NewBudget(name string, lim BudgetLimits) *Budget {
	return &Budget{name: name, lim: lim, mu: new(sync.Mutex)}
}

// Child returns a budget whose charges also count against b.
func (b *Budget) Child(name string, lim BudgetLimits) *Budget {
	return &Budget{name: name, lim: lim, parent: b, mu: b.mu}
}

// Usage returns what is charged to b (and its children).
func (b *Budget) Usage() Usage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// over names the first limit d would pass at level b, or "".
func (b *Budget) over(d Usage) string {
	n := b.used.add(d)
	switch {
	case d.Objects > 0 && b.lim.MaxObjects >= 0 && n.Objects > b.lim.MaxObjects:
		return fmt.Sprintf("%d objects loaded (%s limit)", b.lim.MaxObjects, b.name)
	case d.Bytes > 0 && b.lim.MaxBytes >= 0 && n.Bytes > b.lim.MaxBytes:
		return fmt.Sprintf("%d bytes loaded (%s limit)", b.lim.MaxBytes, b.name)
	case d.Files > 0 && b.lim.MaxFiles >= 0 && n.Files > b.lim.MaxFiles:
		return fmt.Sprintf("%d stored objects (%s limit)", b.lim.MaxFiles, b.name)
	case d.Disk > 0 && b.lim.MaxDiskBytes >= 0 && n.Disk > b.lim.MaxDiskBytes:
		return fmt.Sprintf("%d bytes stored (%s limit)", b.lim.MaxDiskBytes, b.name)
	}
	return ""
}

// charge adds d to b and its ancestors. Growth past a limit at any level
// fails with ErrBudget and charges nothing; a release (negative field)
// always succeeds. A nil Budget accepts everything.
func (b *Budget) charge(d Usage) error {
	if b == nil || d == (Usage{}) {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for x := b; x != nil; x = x.parent {
		if why := x.over(d); why != "" {
			return fmt.Errorf("%w: %s", ErrBudget, why)
		}
	}
	for x := b; x != nil; x = x.parent {
		x.used = x.used.add(d)
	}
	return nil
}

// force adds d without checking the limits: files that are already on
// disk count whatever the budget says.
func (b *Budget) force(d Usage) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for x := b; x != nil; x = x.parent {
		x.used = x.used.add(d)
	}
}

// ChargeStored counts the persistent objects already stored below dir
// (every *.fso file, as FileStore writes them) against b. Call it once per
// folder when the budget is made, before registries use it.
func (b *Budget) ChargeStored(dir string) error {
	var u Usage
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), fileExt) {
			fi, err := d.Info()
			if err != nil {
				return nil //nolint:nilerr // removed meanwhile: nothing to count
			}
			u.Files++
			u.Disk += fi.Size()
		}
		return nil
	})
	if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
		err = nil
	}
	b.force(u)
	return err
}
