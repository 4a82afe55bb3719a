package sharedobject

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Store keeps persistent shared objects. The file store writes one file per
// object; a clustered store can replace it. Implementations must be safe
// for concurrent use; calls for one name are never concurrent.
type Store interface {
	// Load returns the saved state of name, or an error wrapping
	// ErrNotFound when there is none. It never returns partial state.
	Load(name string) (*Snapshot, error)
	// Save replaces the saved state of s.Name atomically: after a crash
	// the store holds the old or the new state, never a mix.
	Save(s *Snapshot) error
	// Delete removes the saved state of name (no error when absent).
	Delete(name string) error
}

// ErrNotFound is returned by Store.Load for a name that was never saved.
var ErrNotFound = errors.New("sharedobject: not found in store")

// ErrCorrupt reports a stored file that fails its checks (magic, format
// version, lengths, CRC).
var ErrCorrupt = errors.New("sharedobject: corrupt file")

// Snapshot is the persistent state of one shared object. Values are kept
// encoded, exactly as they appear in a Change event (AMF0, or 0x11 + AMF3),
// so saving and loading never re-encode.
type Snapshot struct {
	Name    string
	Version uint32
	// Horizon is the oldest client version that can still be resynced by
	// delta (docs/shared-objects.md#versions-and-resync): tombstones older than it were dropped.
	Horizon    uint32
	Slots      []SnapshotSlot
	Tombstones []Tombstone
}

// SnapshotSlot is one slot of a Snapshot.
type SnapshotSlot struct {
	Key     string
	Version uint32 // version that last changed the slot
	Value   []byte // one encoded value
}

// Tombstone records a deleted slot for delta resync.
type Tombstone struct {
	Key     string
	Version uint32 // version that deleted the slot
}

// File format (version 1), all integers big-endian:
//
//	magic "OFSO" | u16 format (1) | u16 reserved (0)
//	u16 name length | name
//	u32 version | u32 horizon
//	u32 slot count | per slot: u16 key length, key, u32 slot version,
//	                           u32 value length, value (AMF0 or 11 + AMF3)
//	u32 tombstone count | per tombstone: u16 key length, key, u32 version
//	u32 CRC-32 (IEEE) of every byte before it
const (
	fileMagic   = "OFSO"
	fileFormat  = 1
	fileTrailer = 4
)

// AppendSnapshot appends the file encoding of s.
func AppendSnapshot(b []byte, s *Snapshot) ([]byte, error) {
	start := len(b)
	b = append(b, fileMagic...)
	b = binary.BigEndian.AppendUint16(b, fileFormat)
	b = binary.BigEndian.AppendUint16(b, 0)
	var err error
	if b, err = appendStr(b, s.Name); err != nil {
		return b[:start], err
	}
	b = binary.BigEndian.AppendUint32(b, s.Version)
	b = binary.BigEndian.AppendUint32(b, s.Horizon)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Slots)))
	for i := range s.Slots {
		sl := &s.Slots[i]
		if b, err = appendStr(b, sl.Key); err != nil {
			return b[:start], err
		}
		b = binary.BigEndian.AppendUint32(b, sl.Version)
		b = binary.BigEndian.AppendUint32(b, uint32(len(sl.Value)))
		b = append(b, sl.Value...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Tombstones)))
	for _, t := range s.Tombstones {
		if b, err = appendStr(b, t.Key); err != nil {
			return b[:start], err
		}
		b = binary.BigEndian.AppendUint32(b, t.Version)
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:])), nil
}

func appendStr(b []byte, s string) ([]byte, error) {
	if len(s) > 0xffff {
		return b, fmt.Errorf("sharedobject: string of %d bytes in snapshot", len(s))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...), nil
}

// ParseSnapshot decodes a file written by AppendSnapshot. Values alias b.
// Any defect (magic, format version, a length past the end, trailing
// bytes, CRC) fails with ErrCorrupt and no partial state.
func ParseSnapshot(b []byte) (*Snapshot, error) {
	if len(b) < len(fileMagic)+4+fileTrailer || string(b[:4]) != fileMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if f := binary.BigEndian.Uint16(b[4:]); f != fileFormat {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, f)
	}
	body := b[:len(b)-fileTrailer]
	if sum := binary.BigEndian.Uint32(b[len(b)-fileTrailer:]); sum != crc32.ChecksumIEEE(body) {
		return nil, fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	}
	r := reader{b: body, off: 8}
	s := &Snapshot{Name: r.str(), Version: r.u32(), Horizon: r.u32()}
	n := r.count(2 + 4 + 4)
	if r.err == nil && n > 0 {
		s.Slots = make([]SnapshotSlot, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		sl := SnapshotSlot{Key: r.str(), Version: r.u32()}
		sl.Value = r.bytes(int(r.u32()))
		s.Slots = append(s.Slots, sl)
	}
	n = r.count(2 + 4)
	for i := 0; i < n && r.err == nil; i++ {
		s.Tombstones = append(s.Tombstones, Tombstone{Key: r.str(), Version: r.u32()})
	}
	if r.err == nil && r.off != len(body) {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(body)-r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// reader reads big-endian fields and remembers the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: %d bytes needed at offset %d, %d remain", ErrCorrupt, n, r.off, len(r.b)-r.off)
		return false
	}
	return true
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

func (r *reader) str() string {
	if !r.need(2) {
		return ""
	}
	n := int(binary.BigEndian.Uint16(r.b[r.off:]))
	r.off += 2
	return string(r.bytes(n))
}

// count reads a u32 count and checks it against the bytes left, given the
// minimum size of one item.
func (r *reader) count(minItem int) int {
	n := r.u32()
	if r.err == nil && uint64(n)*uint64(minItem) > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("%w: count %d exceeds remaining %d bytes at offset %d", ErrCorrupt, n, len(r.b)-r.off, r.off-4)
		return 0
	}
	return int(n)
}

// FileStore keeps each persistent shared object in its own file,
// Dir/<name>.fso, where "/" in the name makes sub-folders (docs/shared-objects.md#persistence). Dir is
// normally applications/<app>/sharedobjects/<instance>.
type FileStore struct {
	// Dir is the folder of this instance's objects; created on first save.
	Dir string
	// MaxNameBytes is the name limit applied to paths (default 255).
	MaxNameBytes int
}

func (f *FileStore) path(name string) (string, error) {
	max := f.MaxNameBytes
	if max <= 0 {
		max = 255
	}
	p, err := filePath(f.Dir, name, max)
	if err != nil {
		return "", err
	}
	if err := confine(f.Dir, p); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadName, name, err)
	}
	return p, nil
}

// confine checks that p, a path below dir, resolves inside dir: the
// deepest existing ancestor of its folder, and p itself when it is a
// symlink. A symlink placed in the store's folder must not make a save
// write, or a load read, outside it (docs/shared-objects.md#limits).
func confine(dir, p string) error {
	dir = filepath.Clean(dir)
	realDir, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing exists yet: MkdirAll makes real folders
	}
	if err != nil {
		return err
	}
	inside := func(q string) bool {
		return q == realDir || strings.HasPrefix(q, realDir+string(filepath.Separator))
	}
	anc := filepath.Dir(p)
	for len(anc) > len(dir) {
		if _, err := os.Lstat(anc); err == nil {
			break
		}
		anc = filepath.Dir(anc)
	}
	if real, err := filepath.EvalSymlinks(anc); err != nil || !inside(real) {
		return errors.New("folder resolves outside the store")
	}
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if real, err := filepath.EvalSymlinks(p); err != nil || !inside(real) {
			return errors.New("file resolves outside the store")
		}
	}
	return nil
}

// Path returns the file that holds name.
func (f *FileStore) Path(name string) (string, error) { return f.path(name) }

// Load implements Store.
func (f *FileStore) Load(name string) (*Snapshot, error) {
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("sharedobject: load %s: %w", name, err)
	}
	s, err := ParseSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("sharedobject: load %s: %w", p, err)
	}
	if s.Name != name {
		return nil, fmt.Errorf("sharedobject: load %s: %w: holds %q", p, ErrCorrupt, s.Name)
	}
	return s, nil
}

// Save implements Store: it writes <name>.fso.tmp in the same folder,
// fsyncs it, renames it over <name>.fso and fsyncs the folder.
func (f *FileStore) Save(s *Snapshot) error {
	p, err := f.path(s.Name)
	if err != nil {
		return err
	}
	b, err := AppendSnapshot(nil, s)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sharedobject: save %s: %w", s.Name, err)
	}
	tmp := p + ".tmp"
	// A stale .tmp (or a symlink there) is removed, not written through.
	_ = os.Remove(tmp)
	if err := writeSync(tmp, b); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("sharedobject: save %s: %w", s.Name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("sharedobject: save %s: %w", s.Name, err)
	}
	return syncDir(dir)
}

func writeSync(path string, b []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		_ = fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		_ = fh.Close()
		return err
	}
	return fh.Close()
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete implements Store.
func (f *FileStore) Delete(name string) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sharedobject: delete %s: %w", name, err)
	}
	return nil
}
