package ssas

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/status"
)

// Recorded streams from scripts (docs/ssas.md#application-methods clearStreams, docs/ssas.md#stream
// Stream.record/clear/length): files live in the instance's streams folder
// (instance.ResolveStream, docs/flv.md#file-names-and-paths) and are written by the recorder of
// the RTMP publish path (media.Publication.Record).

// record implements Stream.record(mode): "record" (default) replaces
// streams/<instance>/<name>.flv, "append" continues it, false stops. It
// records whatever flows through the stream: the script's playlist or a
// client's publish. Asked while nothing publishes the stream (typically in
// application.onPublish, before the client's publication exists), the
// recording starts when the stream is published. Loop goroutine.
func (s *streamObj) record(arg goja.Value) bool {
	if isBool(arg, false) {
		s.recArm = ""
		if s.rec == nil {
			return true
		}
		s.stopRecord()
		return true
	}
	mode := "record"
	if !goja.IsUndefined(arg) && !goja.IsNull(arg) {
		mode = arg.String()
	}
	if mode != "record" && mode != "append" {
		s.status(status.RecordFailed, "Unknown record mode "+mode+".")
		return false
	}
	if _, _, err := instance.ParseStreamFile(s.name, true); err != nil {
		s.status(status.RecordNoAccess, s.name+" cannot be recorded: "+err.Error()+".")
		return false
	}
	if s.rec != nil {
		s.stopRecord() // a new mode: the next recording starts afresh
	}
	s.wmu.Lock()
	pub := s.pub
	s.wmu.Unlock()
	if pub == nil {
		pub = s.r.in.Publication(s.name)
	}
	if pub == nil {
		s.recArm = mode
		return true
	}
	return s.startRecord(pub, mode)
}

// startRecord records pub to the stream's file and reports Record.Start,
// or Record.NoAccess / Record.Failed. Loop goroutine.
func (s *streamObj) startRecord(pub *media.Publication, mode string) bool {
	r := s.r
	cfg := r.in.AppConfigOrDefaults()
	sf, err := r.in.ResolveStream(cfg, s.name, true)
	if err != nil {
		r.log.Info("record refused", "stream", s.name, "err", err)
		s.status(status.RecordNoAccess, s.name+" cannot be recorded: "+err.Error()+".")
		return false
	}
	if r.in.Streams().Files().Recording(sf.Path) {
		s.status(status.RecordFailed, s.name+" is already being recorded.")
		return false
	}
	m := media.RecordReplace
	if mode == "append" {
		m = media.RecordAppend
	}
	rec, err := pub.Record(sf.Path, media.RecordOptions{
		Mode:           m,
		KeyframesIndex: cfg.Record.KeyframesIndex,
		SyncInterval:   cfg.Record.SyncInterval,
		SyncBytes:      cfg.Record.SyncBytes,
		Log:            r.log,
		Quota:          r.in.RecordQuota(),
	})
	if err != nil {
		r.log.Warn("record failed", "stream", s.name, "file", sf.Rel, "err", err)
		if errors.Is(err, media.ErrQuota) {
			s.status(status.RecordNoAccess, "Recording "+s.name+" failed: the application's disk quota is reached.")
			return false
		}
		s.status(status.RecordFailed, "Recording "+s.name+" failed.")
		return false
	}
	s.rec = rec
	r.log.Info("record start", "stream", s.name, "file", sf.Rel, "append", m == media.RecordAppend, "by", "script")
	s.status(status.RecordStart, "Recording "+s.name+".")
	// The recording also ends by itself when the publisher stops.
	r.bg.Go(func() {
		select {
		case <-rec.Done():
		case <-r.stopBG:
			return
		}
		r.post(func() {
			if s.rec == rec {
				s.stopRecord()
			}
		})
	})
	return true
}

// stopRecord finalizes the recording and reports Record.Stop. Loop
// goroutine.
func (s *streamObj) stopRecord() {
	rec := s.rec
	if rec == nil {
		return
	}
	s.rec = nil
	if err := rec.Close(); err != nil {
		s.r.log.Warn("record failed", "stream", s.name, "err", err)
		s.status(status.RecordFailed, "Recording "+s.name+" failed.")
	}
	select {
	case <-s.r.stopBG:
		return // the runtime is ending: no more script events
	default:
	}
	s.status(status.RecordStop, "Stopped recording "+s.name+".")
}

// clear implements Stream.clear(): the stream's recorded file is deleted
// (NetStream.Clear.Success), unless it is missing or being recorded
// (NetStream.Clear.Failed).
func (s *streamObj) clear() bool {
	r := s.r
	sf, err := r.in.ResolveStream(r.in.AppConfigOrDefaults(), s.name, false)
	switch {
	case err != nil:
		s.status(status.ClearFailed, "No recorded file for "+s.name+".")
		return false
	case r.in.Streams().Files().Recording(sf.Path):
		s.status(status.ClearFailed, s.name+" is being recorded.")
		return false
	}
	size := fileSize(sf.Path)
	if err := os.Remove(sf.Path); err != nil {
		r.log.Warn("clear failed", "stream", s.name, "err", err)
		s.status(status.ClearFailed, "Could not delete "+s.name+".")
		return false
	}
	r.in.RecordQuota().Release(1, size)
	r.log.Info("stream file cleared", "stream", s.name, "file", sf.Rel)
	s.status(status.ClearSuccess, "Cleared "+s.name+".")
	return true
}

// streamLength implements Stream.length(name): the duration in seconds of
// the recorded stream ("name" FLV, "mp3:name" MP3), 0 when missing.
func (r *Runtime) streamLength(raw string) float64 {
	name, _, err := instance.StreamName(raw)
	if err != nil {
		return 0
	}
	return r.in.StreamLength(name)
}

// maxClearPattern bounds a clearStreams pattern.
const maxClearPattern = 1024

// errBadPattern refuses a clearStreams pattern that is malformed or could
// name files outside the instance's streams folder.
var errBadPattern = errors.New("bad stream pattern")

// parseClearPattern splits a clearStreams argument (docs/ssas.md#application-methods) into
// the file extensions it selects and a pattern for the names relative to
// the streams folder ("" = every file): "/" all recorded files,
// "name" or "flv:name" FLV files, "mp3:name" MP3 files; the pattern may use
// * and ? and also selects the files below a matching folder.
func parseClearPattern(p string) (exts []string, pattern string, err error) {
	if len(p) > maxClearPattern || !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\\") {
		return nil, "", errBadPattern
	}
	p = strings.TrimLeft(p, "/")
	exts = []string{".flv", ".mp3"}
	if pre, rest, ok := strings.Cut(p, ":"); ok && !strings.Contains(pre, "/") {
		switch pre {
		case "flv":
			exts = []string{".flv"}
		case "mp3":
			exts = []string{".mp3"}
		default:
			return nil, "", errBadPattern // mp4: and others are not recorded here
		}
		p = rest
	} else if strings.Trim(p, "/") != "" {
		exts = []string{".flv"}
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return exts, "", nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsRune(seg, ':') {
			return nil, "", errBadPattern
		}
	}
	if _, err := path.Match(p, ""); err != nil {
		return nil, "", errBadPattern
	}
	for _, ext := range exts {
		if strings.HasSuffix(strings.ToLower(p), ext) {
			p = p[:len(p)-len(ext)] // "name.flv" names the same file as "name"
			break
		}
	}
	return exts, p, nil
}

// clearStreams implements application.clearStreams(path): the recorded
// files matching path are deleted from the instance's streams folder, and
// nothing outside it (hostile patterns are refused, symlinks are not
// followed). Files being recorded stay. It reports whether every matching
// file was deleted.
func (r *Runtime) clearStreams(p string) bool {
	exts, pattern, err := parseClearPattern(p)
	if err != nil {
		r.log.Info("clearStreams refused", "path", p, "err", err)
		return false
	}
	dir := r.in.StreamsDir(r.in.AppConfigOrDefaults())
	root, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true // nothing recorded yet
	}
	if err != nil {
		return false
	}
	match := func(rel string) bool {
		if pattern == "" {
			return true
		}
		// The name itself, or a folder above it.
		for cur := rel; cur != "."; cur = path.Dir(cur) {
			if ok, _ := path.Match(pattern, cur); ok {
				return true
			}
		}
		return false
	}
	ok := true
	_ = filepath.WalkDir(root, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			ok = false
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // folders are walked; symlinks are neither followed nor deleted
		}
		ext := ""
		for _, e := range exts {
			if strings.EqualFold(filepath.Ext(full), e) {
				ext = filepath.Ext(full)
			}
		}
		if ext == "" {
			return nil
		}
		rel, err := filepath.Rel(root, full)
		if err != nil || !match(strings.TrimSuffix(filepath.ToSlash(rel), ext)) {
			return nil
		}
		if r.in.Streams().Files().Recording(full) {
			ok = false
			return nil
		}
		size := fileSize(full)
		if err := os.Remove(full); err != nil {
			ok = false
			return nil
		}
		r.in.RecordQuota().Release(1, size)
		r.log.Info("stream file cleared", "file", filepath.ToSlash(rel))
		return nil
	})
	return ok
}

// fileSize returns the size of a regular file, 0 when it has none.
func fileSize(p string) int64 {
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
		return fi.Size()
	}
	return 0
}
