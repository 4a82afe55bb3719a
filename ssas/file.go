package ssas

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/instance"
)

// File (docs/ssas.md#globals-and-other-classes, FMS2), the parts scripts
// rely on. A File is confined to the application folder (virtual root
// "/"): no path, symlink or joined path leads out of it. The application's
// configuration files cannot be written, moved or removed by its script,
// since they decide where recordings and playback go. What a script adds
// on disk is charged to the application's file quota
// (Instance.FileQuota): a write past it fails.

// fileObj is the state behind one script File object.
type fileObj struct {
	path string // absolute, inside the app folder
	f    *os.File
	rd   *bufio.Reader
	eof  bool
	// appending: opened for append, where every write lands at the end.
	appending bool
}

// errProtected refuses a change to the application's configuration.
var errProtected = errors.New("the application's configuration is not writable by its script")

// appPath maps a File path (virtual root "/" = the application folder)
// to a real path, refusing escapes.
func (r *Runtime) appPath(p string) (string, error) {
	if strings.ContainsAny(p, "\x00\\") {
		return "", errors.New("bad path")
	}
	clean := filepath.Clean("/" + filepath.FromSlash(p))
	full := filepath.Join(r.dir, clean)
	rel, err := filepath.Rel(r.dir, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", errors.New("path escapes the application folder")
	}
	// Symlinks must not lead out either (the file may not exist yet:
	// check its folder).
	dir := full
	for {
		if _, err := os.Lstat(dir); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	if !within(r.dir, dir) {
		return "", errors.New("path leads outside the application folder")
	}
	return full, nil
}

// virtual returns the File path ("/a/b") of a real path inside the app
// folder.
func (r *Runtime) virtual(p string) string {
	rel, _ := filepath.Rel(r.dir, p)
	return path.Join("/", filepath.ToSlash(rel))
}

// writable refuses changes to the application's configuration files
// (application.yaml, Application.xml, in any case) and to the application
// folder itself (moving or removing it would take them along).
func (r *Runtime) writable(p string) error {
	if p == filepath.Clean(r.dir) {
		return errProtected
	}
	if filepath.Dir(p) == filepath.Clean(r.dir) {
		base := filepath.Base(p)
		if strings.EqualFold(base, instance.AppConfigFile) || strings.EqualFold(base, appXMLName) {
			return errProtected
		}
	}
	return nil
}

// fileBinding is the File class of one runtime: the constructor, the
// prototype, and one method per File method. Loop goroutine.
type fileBinding struct {
	r     *Runtime
	vm    *goja.Runtime
	ctor  *goja.Object
	proto *goja.Object
}

func (r *Runtime) setupFile() {
	b := &fileBinding{r: r, vm: r.vm, proto: r.vm.NewObject()}
	b.ctor = r.vm.ToValue(b.construct).(*goja.Object)
	_ = b.ctor.Set("prototype", b.proto)
	for _, a := range []struct {
		name string
		get  func(fo *fileObj) any
	}{
		{"exists", b.exists}, {"isDirectory", b.isDirectory}, {"isFile", b.isFile},
		{"isOpen", b.isOpen}, {"length", b.length}, {"eof", b.atEOF},
	} {
		_ = b.proto.DefineAccessorProperty(a.name, b.vm.ToValue(func(call goja.FunctionCall) goja.Value {
			return b.vm.ToValue(a.get(b.this(call.This)))
		}), nil, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	for _, m := range []struct {
		name string
		fn   func(fo *fileObj, call goja.FunctionCall) goja.Value
	}{
		{"open", b.open}, {"close", b.close}, {"flush", b.flush},
		{"readln", b.readln}, {"read", b.read}, {"readAll", b.readAll},
		{"write", b.write(false)}, {"writeln", b.write(true)},
		{"list", b.list}, {"mkdir", b.mkdir}, {"remove", b.remove},
		{"renameTo", b.renameTo}, {"copyTo", b.copyTo},
	} {
		_ = b.proto.DefineDataProperty(m.name, b.vm.ToValue(func(call goja.FunctionCall) goja.Value {
			return m.fn(b.this(call.This), call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	_ = r.vm.Set("File", b.ctor)
}

// construct implements new File(path).
func (b *fileBinding) construct(call goja.ConstructorCall) *goja.Object {
	p, err := b.r.appPath(call.Argument(0).String())
	if err != nil {
		b.r.throw("File: %v", err)
	}
	o := call.This
	_ = o.SetPrototype(b.proto)
	fo := &fileObj{path: p}
	_ = o.DefineDataProperty("\x00file", b.vm.ToValue(fo), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = o.Set("name", b.r.virtual(p))
	return nil
}

// this returns the File behind a method's this, or throws.
func (b *fileBinding) this(v goja.Value) *fileObj {
	if o, ok := v.(*goja.Object); ok {
		if f, ok := o.Get("\x00file").Export().(*fileObj); ok {
			return f
		}
	}
	b.r.throw("not a File")
	return nil
}

func (b *fileBinding) bool(v bool) goja.Value { return b.vm.ToValue(v) }

// refuse logs why a File operation failed, once per kind of reason and
// runtime, and returns false for the script.
func (b *fileBinding) refuse(op string, fo *fileObj, err error) goja.Value {
	if errors.Is(err, errProtected) || errors.Is(err, errFileQuota) {
		b.r.log.Warn("File."+op+" refused", "file", b.r.virtual(fo.path), "err", err)
	}
	return b.bool(false)
}

// Properties.

func (b *fileBinding) exists(fo *fileObj) any { _, err := os.Stat(fo.path); return err == nil }

func (b *fileBinding) isDirectory(fo *fileObj) any {
	fi, err := os.Stat(fo.path)
	return err == nil && fi.IsDir()
}

func (b *fileBinding) isFile(fo *fileObj) any {
	fi, err := os.Stat(fo.path)
	return err == nil && fi.Mode().IsRegular()
}

func (b *fileBinding) isOpen(fo *fileObj) any { return fo.f != nil }

func (b *fileBinding) atEOF(fo *fileObj) any { return fo.f == nil || fo.eof }

// length is a file's size or a folder's number of entries.
func (b *fileBinding) length(fo *fileObj) any {
	fi, err := os.Stat(fo.path)
	switch {
	case err != nil:
		return 0
	case fi.IsDir():
		ents, _ := os.ReadDir(fo.path)
		return len(ents)
	}
	return fi.Size()
}

// Opening and reading.

// open implements open(type, mode): "read" (default), "write" (from the
// start, keeping the rest), "append", "create" (truncating).
func (b *fileBinding) open(fo *fileObj, call goja.FunctionCall) goja.Value {
	mode := call.Argument(1).String()
	flag := os.O_RDONLY
	switch {
	case strings.Contains(mode, "append"):
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	case strings.Contains(mode, "create"):
		flag = os.O_RDWR | os.O_CREATE | os.O_TRUNC
	case strings.Contains(mode, "write"):
		flag = os.O_RDWR | os.O_CREATE
	}
	q := b.r.in.FileQuota()
	var old int64
	created := false
	if flag != os.O_RDONLY {
		if err := b.r.writable(fo.path); err != nil {
			return b.refuse("open", fo, err)
		}
		fi, err := os.Stat(fo.path)
		switch {
		case err == nil:
			old = fi.Size()
		case errors.Is(err, fs.ErrNotExist):
			if err := q.Reserve(1, 0); err != nil {
				return b.refuse("open", fo, fmt.Errorf("%w: %w", errFileQuota, err))
			}
			created = true
		}
	}
	f, err := os.OpenFile(fo.path, flag, 0o644)
	if err != nil {
		if created {
			q.Release(1, 0)
		}
		return b.bool(false)
	}
	if flag&os.O_TRUNC != 0 {
		q.Release(0, old)
	}
	if fo.f != nil {
		_ = fo.f.Close()
	}
	fo.f, fo.rd, fo.eof = f, bufio.NewReader(io.LimitReader(f, int64(b.r.cfg.MaxFileRead))), false
	fo.appending = flag&os.O_APPEND != 0
	return b.bool(true)
}

func (b *fileBinding) close(fo *fileObj, _ goja.FunctionCall) goja.Value {
	if fo.f == nil {
		return b.bool(false)
	}
	err := fo.f.Close()
	fo.f, fo.rd = nil, nil
	return b.bool(err == nil)
}

func (b *fileBinding) flush(fo *fileObj, _ goja.FunctionCall) goja.Value {
	return b.bool(fo.f != nil && fo.f.Sync() == nil)
}

func (b *fileBinding) readln(fo *fileObj, _ goja.FunctionCall) goja.Value {
	if fo.rd == nil {
		return goja.Null()
	}
	line, err := fo.rd.ReadString('\n')
	if err != nil {
		fo.eof = true
		if line == "" {
			return goja.Null()
		}
	}
	return b.vm.ToValue(strings.TrimRight(line, "\r\n"))
}

// read implements read(n): at most n characters (MaxFileRead).
func (b *fileBinding) read(fo *fileObj, call goja.FunctionCall) goja.Value {
	if fo.rd == nil {
		return goja.Null()
	}
	n := int(call.Argument(0).ToInteger())
	if n <= 0 || n > b.r.cfg.MaxFileRead {
		n = b.r.cfg.MaxFileRead
	}
	buf := make([]byte, n)
	k, err := io.ReadFull(fo.rd, buf)
	if err != nil {
		fo.eof = true
	}
	return b.vm.ToValue(string(buf[:k]))
}

// readAll returns the remaining lines.
func (b *fileBinding) readAll(fo *fileObj, _ goja.FunctionCall) goja.Value {
	if fo.rd == nil {
		return goja.Null()
	}
	data, _ := io.ReadAll(fo.rd)
	fo.eof = true
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	items := make([]any, len(lines))
	for i, l := range lines {
		items[i] = l
	}
	return b.vm.NewArray(items...)
}

// Writing.

// errFileQuota reports a File change past the application's file quota.
var errFileQuota = errors.New("file quota")

// write implements write(...) and writeln(...): the arguments as text,
// each followed by a newline for writeln. Only what makes the file longer
// is charged to the quota.
func (b *fileBinding) write(nl bool) func(fo *fileObj, call goja.FunctionCall) goja.Value {
	return func(fo *fileObj, call goja.FunctionCall) goja.Value {
		if fo.f == nil {
			return b.bool(false)
		}
		var sb strings.Builder
		for _, a := range call.Arguments {
			sb.WriteString(a.String())
			if nl {
				sb.WriteString("\n")
			}
		}
		grow := int64(sb.Len())
		if !fo.appending { // an append lands at the end, whatever the offset
			fi, err1 := fo.f.Stat()
			pos, err2 := fo.f.Seek(0, io.SeekCurrent)
			if err1 == nil && err2 == nil {
				grow = max(0, pos+grow-fi.Size())
			}
		}
		q := b.r.in.FileQuota()
		if err := q.Reserve(0, grow); err != nil {
			return b.refuse("write", fo, fmt.Errorf("%w: %w", errFileQuota, err))
		}
		n, err := fo.f.WriteString(sb.String())
		if short := int64(sb.Len() - n); short > 0 {
			q.Release(0, min(short, grow))
		}
		return b.bool(err == nil)
	}
}

// list implements list(filter): File objects, as FMS returns them, for
// the entries whose name filter(name) accepts (all without a filter).
func (b *fileBinding) list(fo *fileObj, call goja.FunctionCall) goja.Value {
	ents, err := os.ReadDir(fo.path)
	if err != nil {
		return goja.Null()
	}
	filter, _ := goja.AssertFunction(call.Argument(0))
	dir := b.r.virtual(fo.path)
	items := make([]any, 0, len(ents))
	for _, e := range ents {
		if filter != nil {
			ok, err := filter(goja.Undefined(), b.vm.ToValue(e.Name()))
			if err != nil {
				panic(err)
			}
			if !ok.ToBoolean() {
				continue
			}
		}
		f, err := b.vm.New(b.ctor, b.vm.ToValue(path.Join(dir, e.Name())))
		if err != nil {
			panic(err)
		}
		items = append(items, f)
	}
	return b.vm.NewArray(items...)
}

// mkdir implements mkdir(name): name below this File's folder. The joined
// path is checked again: this folder may be a symlink, and the name may
// climb out of it.
func (b *fileBinding) mkdir(fo *fileObj, call goja.FunctionCall) goja.Value {
	p, err := b.r.appPath(path.Join(b.r.virtual(fo.path), call.Argument(0).String()))
	if err != nil {
		return b.bool(false)
	}
	return b.bool(os.MkdirAll(p, 0o755) == nil)
}

// remove implements remove(recursive).
func (b *fileBinding) remove(fo *fileObj, call goja.FunctionCall) goja.Value {
	if err := b.r.writable(fo.path); err != nil {
		return b.refuse("remove", fo, err)
	}
	files, bytes := treeUsage(fo.path)
	var err error
	if call.Argument(0).ToBoolean() {
		err = os.RemoveAll(fo.path)
	} else {
		err = os.Remove(fo.path)
	}
	if err != nil {
		return b.bool(false)
	}
	b.r.in.FileQuota().Release(files, bytes)
	return b.bool(true)
}

// renameTo implements renameTo(path) inside the application folder; a
// file it replaces gives its bytes back.
func (b *fileBinding) renameTo(fo *fileObj, call goja.FunctionCall) goja.Value {
	p, err := b.r.appPath(call.Argument(0).String())
	if err != nil {
		return b.bool(false)
	}
	if err := errors.Join(b.r.writable(fo.path), b.r.writable(p)); err != nil {
		return b.refuse("renameTo", fo, err)
	}
	files, bytes := treeUsage(p)
	if os.Rename(fo.path, p) != nil {
		return b.bool(false)
	}
	b.r.in.FileQuota().Release(files, bytes)
	fo.path = p
	return b.bool(true)
}

// copyTo implements copyTo(path): the copy is charged to the quota.
func (b *fileBinding) copyTo(fo *fileObj, call goja.FunctionCall) goja.Value {
	p, err := b.r.appPath(call.Argument(0).String())
	if err != nil {
		return b.bool(false)
	}
	if err := b.r.writable(p); err != nil {
		return b.refuse("copyTo", fo, err)
	}
	data, err := os.ReadFile(fo.path)
	if err != nil || len(data) > b.r.cfg.MaxFileRead {
		return b.bool(false)
	}
	files, old := treeUsage(p)
	q := b.r.in.FileQuota()
	if err := q.Reserve(1-files, int64(len(data))-old); err != nil {
		return b.refuse("copyTo", fo, fmt.Errorf("%w: %w", errFileQuota, err))
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		q.Release(1-files, int64(len(data))-old)
		return b.bool(false)
	}
	return b.bool(true)
}

// treeUsage counts the regular files and their bytes at p (one file, or a
// folder's tree); 0 when p does not exist.
func treeUsage(p string) (files int, bytes int64) {
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return files, bytes
}
