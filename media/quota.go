package media

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
)

// ErrQuota reports a file or bytes past a Quota: a recording refused or
// cut short (NetStream.Record.NoAccess at the start, Record.Failed during
// the recording), a script's File write refused.
var ErrQuota = errors.New("media: disk quota reached")

// Quota bounds the files and bytes one application keeps in a folder tree
// (its recordings, or the files its script writes). What is already on
// disk is counted once, the first time the quota is used, by walking the
// folder; from then on writers charge what they add and release what they
// remove. Files changed behind its back (an operator deleting recordings)
// are noticed at the next start. A nil *Quota accepts everything. Safe for
// concurrent use.
type Quota struct {
	name     string
	maxFiles int   // negative: no limit
	maxBytes int64 // negative: no limit
	dirs     func() []string

	once sync.Once
	mu   sync.Mutex
	// files and bytes are what is on disk and reserved, mu.
	files int
	bytes int64
	// skip is a folder below the walked ones not to count (its own
	// budget covers it), mu.
	skip []string
}

// NewQuota returns a quota named name (for messages) of at most maxFiles
// files and maxBytes bytes (negative: unlimited) below the folders dirs
// returns, which are walked on first use; skip lists folders below them
// that are not counted.
func NewQuota(name string, maxFiles int, maxBytes int64, dirs func() []string, skip ...string) *Quota {
	return &Quota{name: name, maxFiles: maxFiles, maxBytes: maxBytes, dirs: dirs, skip: skip}
}

func (q *Quota) load() {
	q.once.Do(func() {
		if q.dirs == nil {
			return
		}
		var files int
		var bytes int64
		for _, dir := range q.dirs() {
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil //nolint:nilerr // an unreadable entry counts nothing
				}
				if d.IsDir() {
					if slices.Contains(q.skip, p) {
						return filepath.SkipDir
					}
					return nil
				}
				if d.Type().IsRegular() {
					if fi, err := d.Info(); err == nil {
						files++
						bytes += fi.Size()
					}
				}
				return nil
			})
		}
		q.mu.Lock()
		q.files += files
		q.bytes += bytes
		q.mu.Unlock()
	})
}

// Reserve charges files new files and bytes more bytes, or fails with
// ErrQuota and charges nothing.
func (q *Quota) Reserve(files int, bytes int64) error {
	if q == nil {
		return nil
	}
	q.load()
	q.mu.Lock()
	defer q.mu.Unlock()
	if files > 0 && q.maxFiles >= 0 && q.files+files > q.maxFiles {
		return fmt.Errorf("%w: %s: %d files", ErrQuota, q.name, q.maxFiles)
	}
	if bytes > 0 && q.maxBytes >= 0 && q.bytes+bytes > q.maxBytes {
		return fmt.Errorf("%w: %s: %d bytes", ErrQuota, q.name, q.maxBytes)
	}
	q.files += files
	q.bytes += bytes
	return nil
}

// Release gives back files and bytes (removed, truncated or replaced).
func (q *Quota) Release(files int, bytes int64) {
	if q == nil {
		return
	}
	q.load()
	q.mu.Lock()
	q.files = max(0, q.files-files)
	q.bytes = max(0, q.bytes-bytes)
	q.mu.Unlock()
}

// Room reports whether need more bytes (and, with newFile, one more file)
// fit, once freed bytes are given back.
func (q *Quota) Room(newFile bool, need, freed int64) bool {
	if q == nil {
		return true
	}
	q.load()
	q.mu.Lock()
	defer q.mu.Unlock()
	if newFile && q.maxFiles >= 0 && q.files >= q.maxFiles {
		return false
	}
	return q.maxBytes < 0 || q.bytes-freed+need <= q.maxBytes
}

// Usage returns the files and bytes counted.
func (q *Quota) Usage() (files int, bytes int64) {
	if q == nil {
		return 0, 0
	}
	q.load()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.files, q.bytes
}
