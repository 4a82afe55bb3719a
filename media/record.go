package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media/flv"
)

// RecordMode is how a recording treats an existing file (docs/flv.md#publish-modes).
type RecordMode uint8

// Record modes.
const (
	// RecordReplace creates the file, replacing any existing one ("record").
	RecordReplace RecordMode = iota
	// RecordAppend continues the file, its timestamps following the end of
	// the file; it creates the file when missing ("append").
	RecordAppend
	// RecordAppendWithGap appends like RecordAppend, then adds the
	// wall-clock time since the file was last written, so the recording's
	// timeline keeps the pause (FMS 3.5 "appendWithGap", docs/flv.md#publish-modes).
	RecordAppendWithGap
)

// RecordOptions configure a Recorder. A zero field means its default.
type RecordOptions struct {
	Mode RecordMode
	// KeyframesIndex reserves room for that many keyframes index entries
	// in the onMetaData (docs/flv.md#crash-safety); 0 writes no index.
	KeyframesIndex int
	// SyncInterval is the media time between fsyncs. Default 5 s.
	SyncInterval time.Duration
	// SyncBytes is the bytes written between fsyncs. Default 1 MiB.
	SyncBytes int
	// Log receives the recording's lifecycle lines; nil discards them.
	Log *slog.Logger
	// AMF bounds the decoding of metadata.
	AMF amf.Limits
	// Quota, when set, is charged every byte the recording adds (and a
	// file when it creates one); a full quota refuses the recording, or
	// ends it, with an error wrapping ErrQuota.
	Quota *Quota
	// OnFail, when set, is called once, on the recorder's goroutine, when
	// the recording ends by itself with an error (a write error, the
	// quota, a disk that could not keep up), so that the publisher can be
	// told (NetStream.Record.Failed). Not called for Close.
	OnFail func(err error)
}

// ErrRecordFailed: the file could not be created, opened for append, or
// written (NetStream.Record.Failed).
var ErrRecordFailed = errors.New("media: recording failed")

// Recorder writes one published stream to an FLV file (docs/flv.md#recording). It is a
// lossless subscriber of the stream with its own goroutine: it never drops
// a message; a burst (a file uploaded faster than real time) fills its
// queue and then makes the publisher wait, and a disk that does not keep
// up for Config.SlowConsumerAfter fails the recording with
// ErrRecordFailed.
type Recorder struct {
	files *FileCache // where the file is claimed while recording
	key   string     // the file's resolved path (resolvePath)
	sub   *Subscriber
	w     *recWriter
	log   *slog.Logger
	stop  chan struct{}
	done  chan struct{}

	once   sync.Once
	err    error   // set before done is closed
	totals *Totals // Config.Totals, nil without
}

// Record starts recording the publication to path. It fails with an error
// wrapping ErrRecordFailed when the file cannot be prepared or another
// recording of the registry's FileCache already writes it; nothing is
// subscribed then.
func (p *Publication) Record(path string, opts RecordOptions) (*Recorder, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	files := p.reg.cfg.Files
	rec := &Recorder{files: files, key: resolvePath(path), stop: make(chan struct{}), done: make(chan struct{}), log: opts.Log}
	// Claim the file first: two publications whose names lead to one file
	// ("foo", "foo.flv", "flv:foo", a symlinked folder) must not both write
	// it.
	if !files.claim(rec.key, rec) {
		return nil, fmt.Errorf("%w: %s is already being recorded", ErrRecordFailed, filepath.Base(path))
	}
	w, err := openRecWriter(path, opts)
	if err != nil {
		files.release(rec.key, rec)
		return nil, err
	}
	rec.w = w
	rec.sub = p.reg.Subscribe(p.st.name, SubscribeOptions{Lossless: true})
	rec.totals = p.reg.cfg.Totals
	if rec.totals != nil {
		rec.totals.recordings.Add(1)
		rec.totals.recording.Add(1)
	}
	go rec.run()
	return rec, nil
}

// Close stops recording: what the stream delivered so far is written, the
// metadata finalized and the file closed. It returns the first write error.
// Safe to call twice and from any goroutine.
func (r *Recorder) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	return r.err
}

// Done is closed when the recording has ended (Close, unpublish, a write
// error or a cut-off).
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Path returns the file being written.
func (r *Recorder) Path() string { return r.w.path }

func (r *Recorder) run() {
	defer close(r.done)
	if r.totals != nil {
		defer func() {
			r.totals.recording.Add(-1)
			if r.err != nil {
				r.totals.recordFailures.Add(1)
			}
		}()
	}
	var evs []Event
	stopping := false
	for {
		if !stopping {
			select {
			case <-r.sub.Ready():
			case <-r.stop:
				stopping = true
			}
		}
		evs = r.sub.Drain(evs[:0])
		ended := stopping
		for _, ev := range evs {
			switch ev.Type {
			case EventPacket:
				if err := r.w.write(ev.Packet); err != nil && r.err == nil {
					r.err = err
					ended = true
				}
			case EventUnpublishNotify:
				ended = true
			}
			if ended && r.err != nil {
				break
			}
		}
		clear(evs)
		if err := r.sub.Err(); err != nil && r.err == nil {
			r.err = fmt.Errorf("%w: %w", ErrRecordFailed, err)
			ended = true
		}
		if ended {
			break
		}
	}
	r.sub.Close()
	defer r.files.release(r.key, r)
	if err := r.w.close(); err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		r.log.Error("record failed", "file", r.w.path, "err", r.err)
		if !stopping && r.w.opts.OnFail != nil {
			r.w.opts.OnFail(r.err)
		}
	}
	r.log.Info("record stop", "file", r.w.path, "bytes", r.w.off, "duration_ms", r.w.lastOut-r.w.base)
}

// recWriter is the file side of a recording: no goroutine, no locking.
type recWriter struct {
	path string
	f    *os.File
	// buf holds whole tags not yet written; a write never ends inside a
	// tag, so a process killed mid-recording leaves a file that ends on a
	// tag boundary (docs/flv.md#crash-safety).
	buf  []byte
	opts RecordOptions
	log  *slog.Logger

	off      int64 // bytes written (file offset of the next tag)
	unsynced int   // bytes since the last fsync
	syncedAt int64 // output timestamp of the last fsync

	started   bool      // the first media message has been written
	pending   []*Packet // metadata and configuration before the first media message
	meta      *flv.MetaTemplate
	metaAt    int64 // file offset of the metadata payload
	base      int64 // output time of the first message
	first     int64 // input time of the first media message
	shift     int64 // offset added after discontinuities
	lastOut   int64 // last output timestamp written
	interval  int64 // one frame, for discontinuities and append
	warnedGap bool
	appending bool

	keyframes    []flv.SeekPoint
	lastKey      flv.SeekPoint
	vcodec, acod float64
}

// openRecWriter prepares the file (docs/flv.md#crash-safety).
func openRecWriter(path string, opts RecordOptions) (*recWriter, error) {
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 5 * time.Second
	}
	if opts.SyncBytes <= 0 {
		opts.SyncBytes = 1 << 20
	}
	w := &recWriter{path: path, opts: opts, log: opts.Log, interval: 1, vcodec: -1, acod: -1}
	if opts.Mode == RecordAppend || opts.Mode == RecordAppendWithGap {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		switch {
		case err == nil:
			if !opts.Quota.Room(false, recMinRoom, 0) {
				_ = f.Close()
				return nil, fmt.Errorf("%w: %w", ErrRecordFailed, ErrQuota)
			}
			if err := w.openAppend(f); err != nil {
				_ = f.Close()
				return nil, err
			}
			return w, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%w: %w", ErrRecordFailed, err)
		}
	}
	// A replaced file gives its bytes back once the new one is in place.
	var old int64
	newFile := true
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		old, newFile = fi.Size(), false
	}
	if !opts.Quota.Room(newFile, recMinRoom, old) {
		return nil, fmt.Errorf("%w: %w", ErrRecordFailed, ErrQuota)
	}
	hdr := flv.AppendHeader(nil, flv.FlagAudio|flv.FlagVideo)
	files := 0
	if newFile {
		files = 1
	}
	if err := opts.Quota.Reserve(files, int64(len(hdr))); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecordFailed, err)
	}
	fail := func(err error) (*recWriter, error) {
		opts.Quota.Release(files, int64(len(hdr)))
		return nil, fmt.Errorf("%w: %w", ErrRecordFailed, err)
	}
	// Build the new file under a temporary name and rename it over the old
	// one: readers that have the old file open keep its contents.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	if _, err := f.Write(hdr); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fail(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fail(err)
	}
	opts.Quota.Release(0, old)
	_ = f.Chmod(0o644) // CreateTemp makes 0600; recordings are served to others
	w.f, w.off = f, int64(len(hdr))
	w.buf = make([]byte, 0, recBufSize)
	return w, nil
}

// recBufSize is how many bytes of whole tags a recording gathers before
// it writes them.
const recBufSize = 64 << 10

// recMinRoom is the room a quota must have left for a recording to start:
// less would not hold a second of video.
const recMinRoom = 256 << 10

// openAppend validates (and if needed trims) an existing file and positions
// the writer at its end, timestamps continuing after its last one.
func (w *recWriter) openAppend(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecordFailed, err)
	}
	size, err := RepairFLV(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRecordFailed, filepath.Base(w.path), err)
	}
	rd, err := flv.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecordFailed, err)
	}
	ix, err := flv.Scan(f, size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecordFailed, err)
	}
	// Existing onMetaData: updated in place where it holds the numbers.
	if t, err := rd.Next(nil); err == nil && t.Type == flv.TagScript {
		if m, err := flv.NumberOffsets(t.Payload, w.opts.AMF); err == nil {
			w.meta, w.metaAt = m, t.Offset+flv.TagHeaderSize
			if md, err := flv.ParseMetadata(t.Payload, w.opts.AMF); err == nil {
				for _, p := range md.Props {
					if p.Key == "framerate" && p.Value.Num() >= 1 && p.Value.Num() <= 240 {
						w.interval = int64(1000 / p.Value.Num())
					}
				}
			}
		}
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("%w: %w", ErrRecordFailed, err)
	}
	w.f, w.off = f, size
	w.buf = make([]byte, 0, recBufSize)
	w.lastKey = ix.LastKeyframe
	if ix.Tags > 0 {
		w.base = int64(ix.LastTime) + w.interval
		if gap := time.Since(fi.ModTime()); w.opts.Mode == RecordAppendWithGap && gap > 0 {
			w.base += gap.Milliseconds()
		}
	}
	w.lastOut = w.base
	w.appending = true
	return nil
}

// RepairFLV checks the tail of an FLV file opened for writing and, when the
// last tag is incomplete (a crash while recording), truncates the file
// after the last complete tag, adding its PreviousTagSize when only that
// is missing (docs/flv.md#crash-safety). It returns the resulting size. A file
// that is not an FLV is left alone and reported.
func RepairFLV(f *os.File, size int64) (int64, error) {
	if flv.TailOK(f, size) {
		return size, nil
	}
	ix, err := flv.Scan(f, size)
	if err != nil {
		return 0, err
	}
	end := ix.End
	if rd, _ := flv.NewReader(f, size); end > size || end < rd.FirstTag() {
		// Not even PreviousTagSize0 survived.
		end = rd.FirstTag() - flv.PrevSizeLen
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
		if _, err := f.WriteAt(make([]byte, flv.PrevSizeLen), end); err != nil {
			return 0, err
		}
		return end + flv.PrevSizeLen, f.Sync()
	}
	if err := f.Truncate(end); err != nil {
		return 0, err
	}
	if ix.NoPrevSize {
		var b [flv.PrevSizeLen]byte
		binary.BigEndian.PutUint32(b[:], ix.LastTagSize)
		if _, err := f.WriteAt(b[:], end); err != nil {
			return 0, err
		}
		end += flv.PrevSizeLen
	}
	return end, f.Sync()
}

// Discontinuity thresholds (docs/flv.md#recording-timestamps).
const (
	maxBackward = 1000  // ms a message may be older than the last one
	maxForward  = 10000 // ms of real pause kept in the file
)

// write records one message.
func (w *recWriter) write(pkt *Packet) error {
	switch pkt.Kind {
	case Audio, Video:
		if len(pkt.Payload) == 0 {
			return nil // no flag byte: nothing a player can use (docs/flv.md#audio-tags)
		}
	case Data:
	default:
		return nil
	}
	if !w.started {
		if pkt.Config || pkt.Kind == Data {
			if pkt.Kind == Data && isMetadata(pkt.Payload) {
				// Only the latest metadata before the media counts.
				for i, q := range w.pending {
					if q.Kind == Data && isMetadata(q.Payload) {
						w.pending = append(w.pending[:i], w.pending[i+1:]...)
						break
					}
				}
			}
			if pkt.Config {
				// Only the latest configuration of each kind counts.
				w.pending = replaceConfig(w.pending, pkt)
				return nil
			}
			if pkt.Kind == Data && !isMetadata(pkt.Payload) && w.pendingData() >= maxPendingData {
				// A publisher that never sends a frame must not make the
				// recorder hold every data message: keep the latest.
				for i, q := range w.pending {
					if q.Kind == Data && !isMetadata(q.Payload) {
						w.pending = append(w.pending[:i], w.pending[i+1:]...)
						break
					}
				}
			}
			w.pending = append(w.pending, pkt)
			return nil
		}
		if pkt.Kind == Video && !pkt.Keyframe {
			return nil // start on a keyframe (docs/flv.md#recording-timestamps)
		}
		return w.begin(pkt)
	}
	return w.writeTag(pkt, w.outTime(pkt.Time))
}

// maxPendingData bounds the data messages (other than onMetaData) held
// before the first media message.
const maxPendingData = 16

// pendingData counts the held data messages other than onMetaData.
func (w *recWriter) pendingData() int {
	n := 0
	for _, q := range w.pending {
		if q.Kind == Data && !isMetadata(q.Payload) {
			n++
		}
	}
	return n
}

func isMetadata(p []byte) bool {
	return len(p) >= 13 && p[0] == 2 && p[1] == 0 && p[2] == 10 && string(p[3:13]) == "onMetaData"
}

// begin writes the metadata, the configuration and the first media
// message, all at the start time.
func (w *recWriter) begin(first *Packet) error {
	w.started = true
	w.first = int64(first.Time)
	var pubMeta []amf.Prop
	var others []*Packet
	for _, p := range w.pending {
		if p.Kind == Data && isMetadata(p.Payload) {
			if md, err := flv.ParseMetadata(p.Payload, w.opts.AMF); err == nil {
				pubMeta = md.Props
				for _, pr := range md.Props {
					if pr.Key == "framerate" && pr.Value.Num() >= 1 && pr.Value.Num() <= 240 {
						w.interval = int64(1000 / pr.Value.Num())
					}
				}
			}
			continue
		}
		others = append(others, p)
		w.codecs(p)
	}
	w.codecs(first)
	if !w.appending || w.meta == nil {
		sm := flv.ServerMeta{VideoCodecID: w.vcodec, AudioCodecID: w.acod}
		t, err := flv.NewMetaTemplate(pubMeta, sm, w.opts.KeyframesIndex)
		if err != nil {
			w.log.Warn("publisher metadata not recorded", "file", w.path, "err", err)
			t, _ = flv.NewMetaTemplate(nil, sm, w.opts.KeyframesIndex)
		}
		if !w.appending {
			w.meta, w.metaAt = t, w.off+flv.TagHeaderSize
			if err := w.writeTag(&Packet{Kind: Data, Payload: t.Payload}, w.base); err != nil {
				return err
			}
		}
	}
	for _, p := range others {
		if err := w.writeTag(p, w.base); err != nil {
			return err
		}
	}
	w.pending = nil
	return w.writeTag(first, w.base)
}

// codecs notes the codec ids for the metadata (docs/flv.md#script-data-and-onmetadata).
func (w *recWriter) codecs(p *Packet) {
	if len(p.Payload) == 0 {
		return
	}
	switch p.Kind {
	case Video:
		if w.vcodec < 0 && p.Payload[0]&0x80 == 0 {
			w.vcodec = float64(p.Payload[0] & 0x0f)
		}
	case Audio:
		if w.acod < 0 && p.Payload[0]>>4 != 9 {
			w.acod = float64(p.Payload[0] >> 4)
		}
	}
}

// outTime rebases an input timestamp and keeps the output monotonic
// (docs/flv.md#recording-timestamps).
func (w *recWriter) outTime(in uint32) int64 {
	out := w.base + int64(in) - w.first + w.shift
	switch d := out - w.lastOut; {
	case d < -maxBackward || d > maxForward:
		// The publisher restarted its clock: continue one frame later.
		w.shift += w.lastOut + w.interval - out
		if !w.warnedGap {
			w.warnedGap = true
			w.log.Info("record timestamp discontinuity", "file", w.path, "jump_ms", d)
		}
		return w.lastOut + w.interval
	case d < 0:
		return w.lastOut
	}
	return out
}

// writeTag appends one tag at output time ts.
func (w *recWriter) writeTag(p *Packet, ts int64) error {
	if len(p.Payload) > flv.MaxDataSize {
		return nil
	}
	if p.Kind == Video && p.Keyframe {
		k := flv.SeekPoint{Time: uint32(ts), Offset: w.off}
		w.lastKey = k
		if w.opts.KeyframesIndex > 0 && len(w.keyframes) <= w.opts.KeyframesIndex {
			w.keyframes = append(w.keyframes, k)
		}
	}
	n := flv.TagHeaderSize + len(p.Payload) + flv.PrevSizeLen
	if err := w.opts.Quota.Reserve(0, int64(n)); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRecordFailed, filepath.Base(w.path), err)
	}
	if len(w.buf) > 0 && len(w.buf)+n > recBufSize {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.buf = flv.AppendTagHeader(w.buf, uint8(p.Kind), len(p.Payload), uint32(ts))
	w.buf = append(w.buf, p.Payload...)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(flv.TagHeaderSize+len(p.Payload)))
	if len(w.buf) >= recBufSize {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.off += int64(n)
	w.unsynced += n
	if ts > w.lastOut {
		w.lastOut = ts
	}
	if w.unsynced >= w.opts.SyncBytes || ts-w.syncedAt >= w.opts.SyncInterval.Milliseconds() {
		if err := w.sync(); err != nil {
			return err
		}
		w.syncedAt = ts
	}
	return nil
}

func (w *recWriter) fail(err error) error {
	return fmt.Errorf("%w: writing %s at offset %d: %w", ErrRecordFailed, filepath.Base(w.path), w.off, err)
}

// flush writes the gathered tags with one write: a kill can stop the
// process between two writes, never inside one tag's bytes.
func (w *recWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	if cap(w.buf) > recBufSize {
		w.buf = make([]byte, 0, recBufSize) // do not keep a huge tag's buffer
	} else {
		w.buf = w.buf[:0]
	}
	if err != nil {
		return w.fail(err)
	}
	return nil
}

// sync writes what is gathered, refreshes the metadata's duration and
// sizes (so a recording cut short by a crash still tells its length) and
// fsyncs.
func (w *recWriter) sync() error {
	if err := w.flush(); err != nil {
		return err
	}
	w.unsynced = 0
	if err := w.patchMeta(); err != nil {
		return w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	return nil
}

// patchMeta rewrites the numbers of the file's onMetaData in place
// (docs/flv.md#crash-safety) for what has been written so far.
func (w *recWriter) patchMeta() error {
	if w.meta == nil || (!w.started && !w.appending) {
		return nil
	}
	dur := float64(w.lastOut) / 1000
	fm := flv.FinalMeta{
		Duration:              dur,
		LastTimestamp:         dur,
		LastKeyframeTimestamp: float64(w.lastKey.Time) / 1000,
		LastKeyframeLocation:  float64(w.lastKey.Offset),
		FileSize:              float64(w.off),
		Keyframes:             w.keyframes,
	}
	for _, p := range w.meta.Patches(fm) {
		if _, err := w.f.WriteAt(p.Data, w.metaAt+int64(p.Offset)); err != nil {
			return err
		}
	}
	return nil
}

// close flushes, finalizes the metadata in place and closes the file
// (docs/flv.md#crash-safety).
func (w *recWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.flush()
	if err == nil {
		err = w.patchMeta()
	}
	if err2 := w.f.Sync(); err2 != nil && err == nil {
		err = err2
	}
	if err2 := w.f.Close(); err2 != nil && err == nil {
		err = err2
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("%w: closing %s: %w", ErrRecordFailed, filepath.Base(w.path), err)
	}
	return nil
}
