package media

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/mp3"
)

// VODFormat is the container of a recorded stream.
type VODFormat uint8

// VOD formats.
const (
	VODFLV VODFormat = iota
	VODMP3           // MP3 frames as FLV audio (docs/flv.md#mp3)
	VODID3           // only the MP3's onId3 message (docs/flv.md#onid3)
)

// ErrVODNotFound: the file does not exist or is not of its format
// (NetStream.Play.StreamNotFound).
var ErrVODNotFound = errors.New("media: recorded stream not found")

// VODLimits bound what a file may make a player hold.
type VODLimits struct {
	// MaxTagSize skips larger tags (docs/flv.md#broken-and-hostile-files). Default 16 MiB − 1.
	MaxTagSize int
	// AMF bounds metadata decoding.
	AMF amf.Limits
}

// fileKey identifies one version of a file: a file replaced or grown is a
// new entry (docs/flv.md#finding-keyframes).
type fileKey struct {
	path  string
	size  int64
	mtime time.Time
}

// vodFile is what every player of one file version shares: parsed header
// data and, built at most once and only when a seek needs it, the index.
type vodFile struct {
	key    fileKey
	format VODFormat

	// FLV
	meta       *Packet // first onMetaData (duration added when missing), or nil
	metaOffset int64   // tag offset of that onMetaData, -1 when none
	metaKF     []flv.SeekPoint
	// initConfigs: configuration tags before the first frame.
	initConfigs []*Packet
	duration    uint32 // ms
	scanOnce    sync.Once
	index       *flv.Index
	scanErr     error

	// MP3
	mp3      *mp3.File
	mp3Once  sync.Once
	mp3Index *mp3.Index
	id3      *Packet
	// scanDuration is the MP3 duration corrected by the first seek's scan
	// (0 until then); atomic because other players read it meanwhile.
	scanDuration atomic.Uint32
}

// FileCache is what one server knows about its recorded files. It shares
// parsed file information between players: many players of one file open
// it once each but parse its head and build its seek index once; entries
// are keyed by path, size and modification time, so a replaced or growing
// file is parsed afresh. And it holds the files being recorded, so that
// two recordings never write one file and playback never trims a tail that
// is still being written. Paths are resolved (absolute, symlinks followed)
// before they are compared. One per server: instance.Manager makes it and
// hands it to every instance's Registry (Config.Files).
type FileCache struct {
	mu        sync.Mutex
	entries   map[string]*vodFile  // by resolved path; replaced when the key changes
	order     []string             // insertion order for eviction
	recording map[string]*Recorder // resolved path -> the recorder writing it
	max       int
}

// NewFileCache returns a cache of at most max parsed files (default 256).
func NewFileCache(max int) *FileCache {
	if max <= 0 {
		max = 256
	}
	return &FileCache{entries: map[string]*vodFile{}, recording: map[string]*Recorder{}, max: max}
}

// resolvePath names a file the way the cache compares it: absolute, with
// every symlink followed. A file that does not exist yet (a recording
// about to be created) is named by its resolved folder.
func resolvePath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return filepath.Clean(p)
}

// Recording reports whether the file at path is being recorded through
// this cache.
func (c *FileCache) Recording(path string) bool { return c.recordingKey(resolvePath(path)) }

func (c *FileCache) recordingKey(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recording[key] != nil
}

// claim marks key as written by rec; false when another recorder has it.
func (c *FileCache) claim(key string, rec *Recorder) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recording[key] != nil {
		return false
	}
	c.recording[key] = rec
	return true
}

// release ends rec's claim on key.
func (c *FileCache) release(key string, rec *Recorder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recording[key] == rec {
		delete(c.recording, key)
	}
}

// lookup returns the shared entry for f, creating it with load.
func (c *FileCache) lookup(key fileKey, load func() (*vodFile, error)) (*vodFile, error) {
	c.mu.Lock()
	if e := c.entries[key.path]; e != nil && e.key == key {
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	e, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key.path]; old != nil && old.key == key {
		return old, nil // another player loaded it meanwhile
	}
	if _, ok := c.entries[key.path]; !ok {
		c.order = append(c.order, key.path)
		if len(c.order) > c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.entries[key.path] = e
	return e, nil
}

// VOD is one player's reader of a recorded stream: its own file handle and
// read position over the shared file information. It never holds more of
// the file than the messages handed out and not yet released by the GC.
// Not safe for concurrent use.
type VOD struct {
	f      *os.File
	vf     *vodFile
	format VODFormat
	lim    VODLimits
	size   int64

	flvr *flv.Reader
	mp3r *mp3.Reader

	slab []byte   // payloads are cut from here; a fresh slab when full
	pkts []Packet // Packet structs likewise
	buf  []byte   // read buffer

	// Timestamp repair (docs/flv.md#broken-and-hostile-files).
	lastTS  [2]int64 // last audio, video timestamp out
	haveTS  [2]bool
	offset  int64
	lastAny int64
}

// OpenVOD opens path for playback. Missing files and files that are not
// of the format give an error wrapping ErrVODNotFound. A truncated FLV
// (crashed recording) is trimmed first when it is writable and cache does
// not know it as being recorded (docs/flv.md#crash-safety). A nil cache shares nothing
// and, knowing no recordings, never trims.
func OpenVOD(cache *FileCache, path string, format VODFormat, lim VODLimits) (*VOD, error) {
	if lim.MaxTagSize <= 0 || lim.MaxTagSize > flv.MaxDataSize {
		lim.MaxTagSize = flv.MaxDataSize
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVODNotFound, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrVODNotFound, path)
	}
	key := resolvePath(path)
	if format == VODFLV && cache != nil && !cache.recordingKey(key) && !flv.TailOK(f, fi.Size()) {
		// A crashed recording: trim it on first access.
		if wf, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
			_, _ = RepairFLV(wf, fi.Size())
			_ = wf.Close()
			if fi2, err := f.Stat(); err == nil {
				fi = fi2
			}
		}
	}
	fk := fileKey{path: key, size: fi.Size(), mtime: fi.ModTime()}
	load := func() (*vodFile, error) { return loadVODFile(f, fk, format, lim) }
	var vf *vodFile
	if cache != nil {
		vf, err = cache.lookup(fk, load)
	} else {
		vf, err = load()
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	v := &VOD{f: f, vf: vf, format: format, lim: lim, size: fk.size}
	switch format {
	case VODFLV:
		v.flvr, err = flv.NewReader(f, fk.size)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("%w: %w", ErrVODNotFound, err)
		}
		v.flvr.MaxTagSize = lim.MaxTagSize
	case VODMP3, VODID3:
		v.mp3r = vf.mp3.NewReaderAt(f)
	}
	return v, nil
}

func loadVODFile(f *os.File, key fileKey, format VODFormat, lim VODLimits) (*vodFile, error) {
	vf := &vodFile{key: key, format: format, metaOffset: -1}
	if format != VODFLV {
		m, err := mp3.Open(f, key.size)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrVODNotFound, err)
		}
		vf.mp3 = m
		vf.duration = m.Duration()
		if len(m.Tags) > 0 {
			vf.id3 = id3Packet(m.Tags)
		}
		return vf, nil
	}
	rd, err := flv.NewReader(f, key.size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVODNotFound, err)
	}
	rd.MaxTagSize = lim.MaxTagSize
	// The first onMetaData, if it comes before any media, and the codec
	// configuration before the first frame: enough to seek through a
	// metadata keyframes index without scanning the file.
	media := false
	for range 64 {
		t, err := rd.Next(nil)
		if err != nil {
			break
		}
		if t.Size == 0 || t.Filter {
			continue
		}
		if t.Type == flv.TagAudio || t.Type == flv.TagVideo {
			pkt := &Packet{Kind: Kind(t.Type), Time: t.Time, Payload: t.Payload}
			classify(pkt)
			if !pkt.Config {
				break
			}
			media = true
			vf.initConfigs = replaceConfig(vf.initConfigs, pkt)
			continue
		}
		if t.Type != flv.TagScript || media || vf.meta != nil {
			continue
		}
		md, err := flv.ParseMetadata(t.Payload, lim.AMF)
		if err != nil {
			continue
		}
		vf.metaOffset = t.Offset
		vf.duration = uint32(md.Duration * 1000)
		payload := t.Payload
		if md.Duration == 0 {
			vf.duration = fileDuration(f, key.size)
			payload = withDuration(md, vf.duration)
		}
		vf.meta = &Packet{Kind: Data, Payload: payload}
		if md.Keyframes != nil && flv.ValidateKeyframes(rd, md.Keyframes, t.End()) {
			vf.metaKF = md.Keyframes
		}
	}
	if vf.meta == nil {
		vf.duration = fileDuration(f, key.size)
		vf.meta = &Packet{Kind: Data, Payload: withDuration(nil, vf.duration)}
	}
	return vf, nil
}

// fileDuration is the last tag's timestamp, from the tail or a scan
// (docs/flv.md#stream-length).
func fileDuration(r io.ReaderAt, size int64) uint32 {
	if ms, ok := flv.LastTagTime(r, size); ok {
		return ms
	}
	if ix, err := flv.Scan(r, size); err == nil {
		return ix.LastTime
	}
	return 0
}

// withDuration encodes onMetaData with md's properties and a duration.
func withDuration(md *flv.Metadata, ms uint32) []byte {
	var props []amf.Prop
	if md != nil {
		for _, p := range md.Props {
			if p.Key != "duration" {
				props = append(props, p)
			}
		}
	}
	props = append(props, amf.Prop{Key: "duration", Value: amf.Number(float64(ms) / 1000)})
	b, err := amf.AppendAMF0Values(nil, amf.String("onMetaData"), amf.ECMAArray(props...))
	if err != nil {
		b, _ = amf.AppendAMF0Values(nil, amf.String("onMetaData"),
			amf.ECMAArray(amf.Prop{Key: "duration", Value: amf.Number(float64(ms) / 1000)}))
	}
	return b
}

// id3Packet builds the onId3 data message (docs/flv.md#onid3).
func id3Packet(tags []mp3.TextFrame) *Packet {
	var props []amf.Prop
	size := 0
	for _, t := range tags {
		if size+len(t.Value) > mp3.MaxID3Text {
			break
		}
		size += len(t.Value)
		props = append(props, amf.Prop{Key: t.ID, Value: amf.String(t.Value)})
		if a := mp3.Alias(t.ID); a != "" {
			props = append(props, amf.Prop{Key: a, Value: amf.String(t.Value)})
		}
	}
	b, err := amf.AppendAMF0Values(nil, amf.String("onId3"), amf.ECMAArray(props...))
	if err != nil {
		return nil
	}
	return &Packet{Kind: Data, Payload: b}
}

// Close releases the file handle.
func (v *VOD) Close() error { return v.f.Close() }

// Duration returns the stream's length in ms (docs/flv.md#stream-length, docs/flv.md#vbr-headers-and-duration).
func (v *VOD) Duration() uint32 {
	if d := v.vf.scanDuration.Load(); d != 0 {
		return d
	}
	return v.vf.duration
}

// Format returns the container.
func (v *VOD) Format() VODFormat { return v.format }

// Metadata returns the onMetaData to send first (with a duration), or the
// onId3 message of an MP3 (nil when it has no tags).
func (v *VOD) Metadata() *Packet {
	if v.format != VODFLV {
		return v.vf.id3
	}
	return v.vf.meta
}

// flvIndex returns the file's scanned index, built once per file version.
func (v *VOD) flvIndex() (*flv.Index, error) {
	vf := v.vf
	vf.scanOnce.Do(func() { vf.index, vf.scanErr = flv.Scan(v.f, v.size) })
	return vf.index, vf.scanErr
}

func (v *VOD) mp3Index() *mp3.Index {
	vf := v.vf
	vf.mp3Once.Do(func() {
		vf.mp3Index = vf.mp3.ScanAt(v.f)
		if vf.mp3Index.Frames > 0 && (vf.mp3.VBR == nil || vf.mp3.VBR.Frames == 0) {
			// The scan corrects a CBR estimate (docs/flv.md#vbr-headers-and-duration).
			vf.scanDuration.Store(vf.mp3.First.FrameTime(vf.mp3Index.Frames))
		}
	})
	return vf.mp3Index
}

// Seek positions the reader at the sync point for ms: the last video
// keyframe at or before it (the first one when none is), or for audio-only
// files the audio at or before it (docs/flv.md#seeking). It returns that point's
// time and the codec configuration to send before it (the latest of each
// kind before the point; docs/flv.md#recorded-playback-sequence).
func (v *VOD) Seek(ms uint32) (at uint32, configs []*Packet, err error) {
	v.haveTS = [2]bool{}
	v.offset = 0
	if v.format != VODFLV {
		ix := v.mp3Index()
		h := v.vf.mp3.First
		n := h.FrameAt(ms)
		if ix.Frames > 0 && n >= ix.Frames {
			n = ix.Frames - 1
		}
		p := ix.Find(n)
		if len(ix.Points) == 0 {
			p = mp3.IndexPoint{Offset: v.vf.mp3.Start}
		}
		v.mp3r.SeekTo(p.N, p.Offset)
		// Walk forward to the frame itself.
		for v.mp3r.N() < n {
			if _, err := v.mp3r.Next(v.buf[:0]); err != nil {
				break
			}
		}
		return h.FrameTime(v.mp3r.N()), nil, nil
	}
	if ms == 0 {
		// From the start: the file's own configuration tags follow.
		v.flvr.SeekTo(v.flvr.FirstTag())
		return 0, nil, nil
	}
	if kf := v.vf.metaKF; kf != nil {
		pt, _ := (&flv.Index{Points: kf}).Find(ms)
		v.flvr.SeekTo(pt.Offset)
		return pt.Time, v.vf.initConfigs, nil
	}
	ix, err := v.flvIndex()
	if err != nil {
		return 0, nil, err
	}
	pt, ok := ix.Find(ms)
	if !ok {
		v.flvr.SeekTo(v.flvr.FirstTag())
		return 0, nil, nil
	}
	v.flvr.SeekTo(pt.Offset)
	return pt.Time, v.configsBefore(ix, pt.Offset), nil
}

// replaceConfig puts pkt in list, replacing the configuration it updates.
func replaceConfig(list []*Packet, pkt *Packet) []*Packet {
	for i, c := range list {
		if c.Kind == pkt.Kind && c.configKey == pkt.configKey {
			list[i] = pkt
			return list
		}
	}
	return append(list, pkt)
}

// configsBefore reads the latest configuration tags of each kind that lie
// before off. With no index (seek to the start) there are none: the file's
// own configuration tags follow.
func (v *VOD) configsBefore(ix *flv.Index, off int64) []*Packet {
	if ix == nil {
		return nil
	}
	var out []*Packet
	for _, c := range ix.ConfigsBefore(off) {
		th, err := v.flvr.PeekTagHeader(c.Offset)
		if err != nil || int(th.Size) > v.lim.MaxTagSize {
			continue
		}
		p := make([]byte, th.Size)
		if _, err := v.f.ReadAt(p, c.Offset+flv.TagHeaderSize); err != nil {
			continue
		}
		pkt := &Packet{Kind: Kind(th.Type), Time: th.Time, Payload: p}
		classify(pkt)
		out = append(out, pkt)
	}
	return out
}

// slabSize is the payload memory cut into messages before a fresh slab is
// allocated: a player allocates once per slab, not per message.
const slabSize = 256 << 10

// alloc returns a Packet and an n-byte payload from the slabs. The memory
// stays valid as long as the packet is referenced.
func (v *VOD) alloc(n int) (*Packet, []byte) {
	if len(v.pkts) == 0 {
		v.pkts = make([]Packet, 256)
	}
	p := &v.pkts[0]
	v.pkts = v.pkts[1:]
	if n > slabSize/4 {
		return p, make([]byte, n)
	}
	if cap(v.slab)-len(v.slab) < n {
		v.slab = make([]byte, 0, slabSize)
	}
	b := v.slab[len(v.slab) : len(v.slab)+n : len(v.slab)+n]
	v.slab = v.slab[:len(v.slab)+n]
	return p, b
}

// Next returns the next message to send, skipping what a player cannot use
// (docs/flv.md#broken-and-hostile-files): empty, encrypted and unknown tags, the onMetaData already
// sent by Metadata. Timestamps are repaired: within a track a small
// backward step is clamped, a jump of more than a second back continues
// after the last timestamp. It returns io.EOF at the end and an error
// wrapping flv.ErrTruncated (or mp3.ErrNotFrame) at damage; the messages
// before it are good. The returned packet is never modified afterwards.
func (v *VOD) Next() (*Packet, error) {
	if v.format != VODFLV {
		return v.nextMP3()
	}
	for {
		t, err := v.flvr.Next(v.buf[:0])
		if err != nil {
			return nil, err
		}
		v.buf = t.Payload[:0]
		if t.Size == 0 || t.Filter || t.Offset == v.vf.metaOffset {
			continue
		}
		var k Kind
		switch t.Type {
		case flv.TagAudio:
			k = Audio
		case flv.TagVideo:
			k = Video
		case flv.TagScript:
			k = Data
		default:
			continue
		}
		p, b := v.alloc(len(t.Payload))
		copy(b, t.Payload)
		*p = Packet{Kind: k, Time: v.repair(k, t.Time), Payload: b}
		classify(p)
		return p, nil
	}
}

// repair applies the timestamp rules of docs/flv.md#broken-and-hostile-files.
func (v *VOD) repair(k Kind, ts uint32) uint32 {
	out := int64(ts) + v.offset
	tr := -1
	switch k {
	case Audio:
		tr = 0
	case Video:
		tr = 1
	}
	if tr >= 0 && v.haveTS[tr] {
		if d := v.lastTS[tr] - out; d > 0 {
			if d <= maxBackward {
				out = v.lastTS[tr]
			} else {
				v.offset += v.lastAny + 1 - out
				out = v.lastAny + 1
			}
		}
	}
	if out < 0 {
		out = 0
	}
	if tr >= 0 {
		v.lastTS[tr], v.haveTS[tr] = out, true
	}
	v.lastAny = max(v.lastAny, out)
	return uint32(out)
}

func (v *VOD) nextMP3() (*Packet, error) {
	if v.format == VODID3 {
		return nil, io.EOF
	}
	fr, err := v.mp3r.Next(v.buf[:0])
	if err != nil {
		return nil, err
	}
	v.buf = fr.Data[:0]
	p, b := v.alloc(1 + len(fr.Data))
	b[0] = fr.Header.FlagByte()
	copy(b[1:], fr.Data)
	*p = Packet{Kind: Audio, Time: fr.Header.FrameTime(fr.N), Payload: b}
	return p, nil
}

// StreamLength returns the length in seconds of the recorded stream at path
// for getStreamLength and Stream.length (docs/flv.md#stream-length): 0 when it is missing
// or not of its format. cache as for OpenVOD.
func StreamLength(cache *FileCache, path string, format VODFormat) float64 {
	v, err := OpenVOD(cache, path, format, VODLimits{})
	if err != nil {
		return 0
	}
	defer v.Close()
	return float64(v.Duration()) / 1000
}
