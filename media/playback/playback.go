package playback

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
)

// Item start values other than a time (ms) in a recorded file.
const (
	// StartAny plays the live stream if published, else the recorded file,
	// else waits for a publisher. Any negative start but StartLive means
	// the same.
	StartAny = -2000
	// StartLive plays only the live stream, waiting for a publisher.
	StartLive = -1000
)

// Item is one entry of a playlist. Times are milliseconds.
type Item struct {
	// Name is the stream name without its query string ("clip",
	// "mp3:song", "dir/clip").
	Name string
	// Start is StartAny, StartLive or a position (ms) in the recorded file.
	Start int64
	// Len is how long to play: < 0 to the end, 0 a single frame, > 0 that
	// many milliseconds.
	Len int64
}

// File is a recorded stream resolved to its file.
type File struct {
	Path   string          // absolute path
	Rel    string          // path below the instance's streams folder, for logs
	Format media.VODFormat // container
}

// Library is what a player needs of an application instance.
// *instance.Instance implements it.
type Library interface {
	// Streams returns the instance's live streams; their FileCache is the
	// server's recorded-file state.
	Streams() *media.Registry
	// RecordedFile resolves a stream name to its recorded file. explicit
	// reports that the name selects a container with a prefix ("flv:",
	// "mp3:", "id3:") and so never names a live stream; it is set whenever
	// the name parses, also when the file is missing. err wraps ErrNoFile
	// when the name is valid but no file exists; any other error refuses
	// the name (outside the streams folder, unsupported container).
	RecordedFile(name string) (f File, explicit bool, err error)
}

// Errors callers branch on.
var (
	// ErrNoFile: a Library has no recorded file of that (valid) name.
	ErrNoFile = errors.New("playback: no recorded file")
	// ErrNotFound: an item can play neither a file nor a live stream
	// (NetStream.Play.StreamNotFound).
	ErrNotFound = errors.New("playback: stream not found")
	// ErrPlaylistFull: Append refused an item past Config.MaxItems.
	ErrPlaylistFull = errors.New("playback: playlist full")
	// ErrEnded: Append on a player that has ended (a Live player whose
	// playlist ran out, or a closed one).
	ErrEnded = errors.New("playback: player ended")
)

// Source is what an item plays: a live stream of its name, or File.
type Source struct {
	Live bool
	File File
}

// Resolve applies the start rules to it (see the package comment). self
// is the name of the stream a Live player feeds: it never plays itself
// live. The error wraps ErrNotFound.
func Resolve(lib Library, it Item, self string) (Source, error) {
	if it.Start == StartLive {
		if it.Name == self {
			return Source{}, fmt.Errorf("%w: %s would play itself", ErrNotFound, it.Name)
		}
		return Source{Live: true}, nil
	}
	reg := lib.Streams()
	f, explicit, err := lib.RecordedFile(it.Name)
	canLive := !explicit && it.Name != self
	if it.Start < 0 && canLive && reg.Published(it.Name) {
		return Source{Live: true}, nil
	}
	if err == nil {
		return Source{File: f}, nil
	}
	switch {
	case it.Start < 0 && canLive && errors.Is(err, ErrNoFile):
		return Source{Live: true}, nil // nothing yet: wait for a publisher
	case it.Start >= 0 && canLive && reg.Published(it.Name):
		return Source{Live: true}, nil // no file, but live: what nginx-rtmp and SRS play
	}
	return Source{}, fmt.Errorf("%w: %s: %w", ErrNotFound, it.Name, err)
}

// Length returns the duration in seconds of the recorded stream name, for
// getStreamLength and Stream.length: 0 for live or missing streams.
func Length(lib Library, name string) float64 {
	f, _, err := lib.RecordedFile(name)
	if err != nil {
		return 0
	}
	return media.StreamLength(lib.Streams().Files(), f.Path, f.Format)
}

// Config holds the limits of players. A zero field means its default.
type Config struct {
	// MaxItems bounds the items waiting in one playlist (reset=false
	// appends). Default 1000: a day of 90-second items, and at most about
	// 1 MiB of names per stream. Past it Append fails with ErrPlaylistFull.
	MaxItems int `yaml:"max_playlist_items"`
	// QueueBytes bounds the packet bytes a player queues ahead of its
	// adapter; past it the player waits (back-pressure from a slow link).
	// Default 512 KiB.
	QueueBytes int `yaml:"queue_bytes"`
}

// Defaults of Config fields.
const (
	DefaultMaxItems   = 1000
	DefaultQueueBytes = 512 << 10
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxItems <= 0 {
		c.MaxItems = DefaultMaxItems
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	return c
}

// Options configure one Player.
type Options struct {
	// Library resolves items; required.
	Library Library
	// Config bounds the player.
	Config Config
	// Live: the player feeds a live stream the server publishes (a
	// server-side playlist) rather than one client. Output timestamps
	// start after After and never restart at a file's own time; a file's
	// onMetaData loses the properties that describe the file (duration,
	// keyframes...); when the playlist runs out the player ends for good.
	// Otherwise the first item and every seek keep the file's timestamps
	// (NetStream.time is the position in the file), and a player whose
	// playlist ended stays for a seek or a new item.
	Live bool
	// Self is the stream a Live player feeds: it is never played live.
	Self string
	// After is, for a Live player, the last timestamp the stream carried
	// before it (0: none); the output starts just after it.
	After uint32
	// Buffer is the client's buffer length (ms) that recorded items are
	// paced by until SetBuffer changes it; 0: media.DefaultPaceBuffer.
	Buffer uint32
	// Lead is sent on top of Buffer; 0: media.DefaultPaceLead.
	Lead time.Duration
	// Limits bound what a recorded file may make the player hold.
	Limits media.VODLimits
	// Notify, when set, is signaled (non-blocking) when events are queued
	// and is what Ready returns: one wake-up channel for a connection's
	// players and subscribers.
	Notify chan struct{}
	// Wake, when set, is called instead of signaling a channel when
	// events are queued, and Ready returns nil (media.SubscribeOptions.Wake).
	// It runs on the player's goroutine and must return at once without
	// calling back into the player.
	Wake func()
	// Legacy: the client decodes no Enhanced RTMP codecs; live items
	// subscribe with media.SubscribeOptions.Legacy.
	Legacy bool
	// Log receives the player's lifecycle lines; nil discards them.
	Log *slog.Logger
	// AMF bounds the decoding of metadata a Live player rewrites.
	AMF amf.Limits
}
