package instance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/openfcs/openfcs/media"
)

// AppConfigFile is the per-application configuration file, in the
// application's folder.
const AppConfigFile = "application.yaml"

// AppConfig is the recording part of applications/<app>/application.yaml,
// and the script's application.config. Other top-level keys belong to
// other features and are ignored here; the keys of the sections below are
// checked (unknown ones are an error).
type AppConfig struct {
	// ScriptConfig is what the application script reads as
	// application.config (docs/ssas.md#application-properties, FMS's Application.xml
	// <ApplicationObject><config>): names to values, given as strings,
	// numbers or booleans and read as strings.
	ScriptConfig map[string]string `yaml:"config,omitempty"`
	// Streams is the storage folder of recorded streams, relative to the
	// application folder unless absolute. Each instance has its own
	// sub-folder (docs/flv.md#file-names-and-paths). Default "streams".
	Streams string `yaml:"streams"`
	// Record configures recording.
	Record RecordConfig `yaml:"record"`
	// SharedObjects configures the application's remote shared objects.
	SharedObjects AppSharedObjects `yaml:"shared_objects"`
	// BandwidthDetection answers a client's checkBandwidth or _checkbw
	// call that the application script does not handle: "native" (the
	// default) measures the link as FMS 3.5 did, with onBWCheck rounds
	// and an onBWDone report (docs/rtmp.md#bandwidth-check); "off" answers a bare
	// _result.
	BandwidthDetection string `yaml:"bandwidth_detection"`
	// Access admits clients, publishers and players without a script
	// (docs/operations.md#access-control): address ranges, keys, signed
	// tokens, an HTTP hook.
	Access AccessConfig `yaml:"access"`
}

// AppSharedObjects is the shared_objects section of application.yaml.
type AppSharedObjects struct {
	// ClientPersistent lets clients create persistent shared objects
	// (a client's Use of one that is not stored yet). Unset: allowed when
	// the application has a script, refused otherwise, so that an
	// application that never asked for shared objects does not store
	// whatever anonymous clients send.
	ClientPersistent *bool `yaml:"client_persistent"`
}

// Values of AppConfig.BandwidthDetection.
const (
	BandwidthNative = "native"
	BandwidthOff    = "off"
)

// RecordConfig configures recording of an application (docs/flv.md#recording).
type RecordConfig struct {
	// Live, when "record" or "append", records every publish made with
	// type "live" (or no type) as if the publisher had asked for it:
	// ffmpeg and OBS can only publish live. Default "" (off).
	Live string `yaml:"live"`
	// KeyframesIndex reserves room for that many entries of a keyframes
	// index in the recording's onMetaData, filled at close (docs/flv.md#crash-safety
	// step 6). Default 0: no index (players seek through the server).
	KeyframesIndex int `yaml:"keyframes_index"`
	// SyncInterval is the media time between fsyncs. Default 5s.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// SyncBytes is the bytes written between fsyncs. Default 1 MiB.
	SyncBytes int `yaml:"sync_bytes"`
}

// MaxKeyframesIndex bounds KeyframesIndex: 18 bytes per entry in a tag that
// every player receives.
const MaxKeyframesIndex = 100_000

// WithDefaults returns c with every zero field set to its default.
func (c AppConfig) WithDefaults() AppConfig {
	if c.Streams == "" {
		c.Streams = "streams"
	}
	if c.Record.SyncInterval <= 0 {
		c.Record.SyncInterval = 5 * time.Second
	}
	if c.Record.SyncBytes <= 0 {
		c.Record.SyncBytes = 1 << 20
	}
	if c.BandwidthDetection == "" {
		c.BandwidthDetection = BandwidthNative
	}
	return c
}

// LoadAppConfig reads <appDir>/application.yaml. A missing file gives the
// defaults.
func LoadAppConfig(appDir string) (AppConfig, error) {
	raw, err := os.ReadFile(filepath.Join(appDir, AppConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return AppConfig{}.WithDefaults(), nil
	}
	if err != nil {
		return AppConfig{}, err
	}
	return ParseAppConfig(raw)
}

// ParseAppConfig parses the contents of an application.yaml.
func ParseAppConfig(raw []byte) (AppConfig, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(raw, &top); err != nil {
		return AppConfig{}, fmt.Errorf("%s: %w", AppConfigFile, err)
	}
	var c AppConfig
	if n, ok := top["streams"]; ok {
		if err := n.Decode(&c.Streams); err != nil {
			return AppConfig{}, fmt.Errorf("%s: streams: %w", AppConfigFile, err)
		}
	}
	if n, ok := top["record"]; ok {
		// Strict: a misspelled recording key must not silently record nothing.
		out, err := yaml.Marshal(&n)
		if err != nil {
			return AppConfig{}, fmt.Errorf("%s: record: %w", AppConfigFile, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		dec.KnownFields(true)
		if err := dec.Decode(&c.Record); err != nil {
			return AppConfig{}, fmt.Errorf("%s: record: %w", AppConfigFile, err)
		}
	}
	if n, ok := top["shared_objects"]; ok {
		out, err := yaml.Marshal(&n)
		if err != nil {
			return AppConfig{}, fmt.Errorf("%s: shared_objects: %w", AppConfigFile, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		dec.KnownFields(true)
		if err := dec.Decode(&c.SharedObjects); err != nil {
			return AppConfig{}, fmt.Errorf("%s: shared_objects: %w", AppConfigFile, err)
		}
	}
	if n, ok := top["bandwidth_detection"]; ok {
		if err := n.Decode(&c.BandwidthDetection); err != nil {
			return AppConfig{}, fmt.Errorf("%s: bandwidth_detection: %w", AppConfigFile, err)
		}
		if c.BandwidthDetection != BandwidthNative && c.BandwidthDetection != BandwidthOff {
			return AppConfig{}, fmt.Errorf("%s: bandwidth_detection %q: want native or off", AppConfigFile, c.BandwidthDetection)
		}
	}
	if n, ok := top["access"]; ok {
		a, err := parseAccess(&n)
		if err != nil {
			return AppConfig{}, fmt.Errorf("%s: access: %w", AppConfigFile, err)
		}
		c.Access = a
	}
	if n, ok := top["config"]; ok {
		sc, err := parseScriptConfig(&n)
		if err != nil {
			return AppConfig{}, fmt.Errorf("%s: %w", AppConfigFile, err)
		}
		c.ScriptConfig = sc
	}
	switch c.Record.Live {
	case "", "record", "append":
	default:
		return AppConfig{}, fmt.Errorf("%s: record.live %q: want record, append or empty", AppConfigFile, c.Record.Live)
	}
	if c.Record.KeyframesIndex < 0 || c.Record.KeyframesIndex > MaxKeyframesIndex {
		return AppConfig{}, fmt.Errorf("%s: record.keyframes_index %d outside 0..%d", AppConfigFile, c.Record.KeyframesIndex, MaxKeyframesIndex)
	}
	return c.WithDefaults(), nil
}

// parseScriptConfig reads the config: section, a mapping of scalars.
// Nested values are refused rather than flattened: FMS config entries are
// plain strings, and a script would not know how to read a structure.
func parseScriptConfig(n *yaml.Node) (map[string]string, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: line %d: want a mapping of names to values", n.Line)
	}
	if len(n.Content) == 0 {
		return nil, nil // as if absent: one value for "nothing configured"
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("config.%s: line %d: want a string, number or boolean", k.Value, v.Line)
		}
		if v.Tag == "!!null" {
			out[k.Value] = ""
			continue
		}
		out[k.Value] = v.Value
	}
	return out, nil
}

// appConfigCache keeps the parsed application.yaml of an instance with the
// file's identity (size, modification time) it was parsed from.
type appConfigCache struct {
	mu     sync.Mutex
	ok     bool // cfg and err are valid for key
	key    appConfigKey
	cfg    AppConfig
	err    error
	warned bool // the broken file was logged once
}

type appConfigKey struct {
	exists bool
	size   int64
	mtime  time.Time
}

// AppConfig returns the instance's application.yaml. The file is parsed
// again only when it changed (a stat per call, which publish, play and
// every playlist item make), so edits apply without a restart.
func (in *Instance) AppConfig() (AppConfig, error) {
	cfg, _, err := in.appConfig()
	return cfg, err
}

// appConfig also reports whether this caller is the first to see this
// version of the file (so a broken file is logged once).
func (in *Instance) appConfig() (AppConfig, bool, error) {
	return in.appCfg.get(filepath.Join(in.m.cfg.AppsDir, in.App))
}

// get returns the parsed application.yaml of the application folder dir,
// parsing it again only when the file changed, and whether this caller is
// the first to see this version of it.
func (c *appConfigCache) get(dir string) (AppConfig, bool, error) {
	var key appConfigKey
	if fi, err := os.Stat(filepath.Join(dir, AppConfigFile)); err == nil {
		key = appConfigKey{exists: true, size: fi.Size(), mtime: fi.ModTime()}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok || c.key != key {
		c.cfg, c.err = LoadAppConfig(dir)
		c.ok, c.key, c.warned = true, key, false
	}
	first := !c.warned
	c.warned = true
	return c.cfg, first, c.err
}

// mentionsAccess reports whether dir's application.yaml has a line that
// starts an access section, for a file too broken to parse.
func mentionsAccess(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, AppConfigFile))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(strings.TrimSpace(line), "access") {
			return true
		}
	}
	return false
}

// AppConfigOrDefaults returns the instance's application.yaml, or the
// defaults when the file is broken (logged once per version of the file).
func (in *Instance) AppConfigOrDefaults() AppConfig {
	cfg, first, err := in.appConfig()
	if err != nil {
		if first {
			in.log.Warn("application config: using the defaults", "err", err)
		}
		return AppConfig{}.WithDefaults()
	}
	return cfg
}

// StreamsDir returns the folder of the instance's recorded streams:
// <streams>/<instance> below the application folder.
func (in *Instance) StreamsDir(cfg AppConfig) string {
	base := cfg.Streams
	if !filepath.IsAbs(base) {
		base = filepath.Join(in.m.cfg.AppsDir, in.App, base)
	}
	return filepath.Join(base, FolderName(in.Name))
}

// Container is the file format a stream name selects (docs/flv.md#file-names-and-paths).
type Container uint8

// Containers.
const (
	ContainerFLV Container = iota // "name", "flv:name"
	ContainerMP3                  // "mp3:name"
	ContainerID3                  // "id3:name": the MP3's tags only
)

// VODFormat is the reader format of the container.
func (c Container) VODFormat() media.VODFormat {
	switch c {
	case ContainerMP3:
		return media.VODMP3
	case ContainerID3:
		return media.VODID3
	}
	return media.VODFLV
}

// ErrStreamNotFound: the name is valid but no such file exists
// (NetStream.Play.StreamNotFound).
var ErrStreamNotFound = errors.New("instance: stream file not found")

// ErrUnsupportedContainer: a prefix such as "mp4:" that openfcs does not
// play or record.
var ErrUnsupportedContainer = errors.New("instance: unsupported stream container")

// Limits of recorded stream names (docs/flv.md#file-names-and-paths).
const (
	maxSegment  = 255
	maxFileName = 1024
)

// StreamFile is a stream name resolved to a file.
type StreamFile struct {
	Container Container
	// Rel is the file's path relative to the streams folder, with "/".
	Rel string
	// Path is the absolute file path.
	Path string
	// Dir is the instance's streams folder.
	Dir string
}

// ParseStreamFile maps a stream name (query string already removed) to a
// container and a relative file name (docs/flv.md#file-names-and-paths). publish
// allows only FLV.
func ParseStreamFile(name string, publish bool) (Container, string, error) {
	c := ContainerFLV
	bare := name
	if p, rest, ok := strings.Cut(name, ":"); ok && len(p) >= 2 {
		switch p {
		case "flv":
		case "mp3":
			c = ContainerMP3
		case "id3":
			c = ContainerID3
		case "mp4", "f4v", "raw":
			return 0, "", fmt.Errorf("%w: %q", ErrUnsupportedContainer, p)
		default:
			return 0, "", fmt.Errorf("%w: unknown prefix %q", ErrBadName, p)
		}
		bare = rest
	}
	if publish && c != ContainerFLV {
		return 0, "", fmt.Errorf("%w: only FLV can be recorded", ErrBadName)
	}
	switch {
	case bare == "" || len(bare) > maxFileName:
		return 0, "", fmt.Errorf("%w: length %d", ErrBadName, len(bare))
	case !utf8.ValidString(bare):
		return 0, "", fmt.Errorf("%w: invalid UTF-8", ErrBadName)
	case strings.HasPrefix(bare, "/"):
		return 0, "", fmt.Errorf("%w: absolute", ErrBadName)
	}
	for _, r := range bare {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ':' {
			return 0, "", fmt.Errorf("%w: character %q", ErrBadName, r)
		}
	}
	for seg := range strings.SplitSeq(bare, "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegment {
			return 0, "", fmt.Errorf("%w: segment %q", ErrBadName, seg)
		}
	}
	ext := ".flv"
	if c != ContainerFLV {
		ext = ".mp3"
	}
	if !strings.EqualFold(filepath.Ext(bare), ext) {
		bare += ext
	}
	return c, bare, nil
}

// ResolveStream maps a stream name to its file below the instance's streams
// folder, checking on the resolved path that no symlink leads outside it
// (docs/flv.md#file-names-and-paths). For publish the folders are created as needed and
// the file need not exist; for play a missing file is ErrStreamNotFound.
func (in *Instance) ResolveStream(cfg AppConfig, name string, publish bool) (StreamFile, error) {
	c, rel, err := ParseStreamFile(name, publish)
	if err != nil {
		return StreamFile{}, err
	}
	dir := in.StreamsDir(cfg)
	sf := StreamFile{Container: c, Rel: rel, Dir: dir, Path: filepath.Join(dir, filepath.FromSlash(rel))}
	if publish {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return StreamFile{}, fmt.Errorf("instance: creating %s: %w", dir, err)
		}
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Nothing recorded in this instance yet: the file is simply not
		// there, which is not worth a file-system error in the log.
		return StreamFile{}, fmt.Errorf("%w: %s", ErrStreamNotFound, rel)
	}
	if err != nil {
		return StreamFile{}, fmt.Errorf("%w: %s: %w", ErrStreamNotFound, rel, err)
	}
	inside := func(p string) bool {
		return p == realDir || strings.HasPrefix(p, realDir+string(filepath.Separator))
	}
	if publish {
		// Check the deepest existing ancestor before creating anything
		// below it: MkdirAll would follow a symlink out of the folder.
		anc := filepath.Dir(sf.Path)
		for {
			if _, err := os.Lstat(anc); err == nil || anc == dir {
				break
			}
			anc = filepath.Dir(anc)
		}
		if real, err := filepath.EvalSymlinks(anc); err != nil || !inside(real) {
			return StreamFile{}, fmt.Errorf("%w: %s resolves outside the streams folder", ErrBadName, rel)
		}
		if err := os.MkdirAll(filepath.Dir(sf.Path), 0o755); err != nil {
			return StreamFile{}, fmt.Errorf("instance: creating the folder of %s: %w", rel, err)
		}
	}
	// The parent folder must resolve inside; so must the file when it is
	// a symlink.
	target := filepath.Dir(sf.Path)
	if fi, err := os.Lstat(sf.Path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			target = sf.Path
		} else if !fi.Mode().IsRegular() {
			return StreamFile{}, fmt.Errorf("%w: %s is not a regular file", ErrBadName, rel)
		}
	} else if !publish {
		return StreamFile{}, fmt.Errorf("%w: %s", ErrStreamNotFound, rel)
	}
	real, err := filepath.EvalSymlinks(target)
	if err != nil {
		if publish {
			return StreamFile{}, fmt.Errorf("%w: %s: %w", ErrBadName, rel, err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return StreamFile{}, fmt.Errorf("%w: %s", ErrStreamNotFound, rel)
		}
		return StreamFile{}, fmt.Errorf("%w: %s: %w", ErrStreamNotFound, rel, err)
	}
	if !inside(real) {
		return StreamFile{}, fmt.Errorf("%w: %s resolves outside the streams folder", ErrBadName, rel)
	}
	return sf, nil
}
