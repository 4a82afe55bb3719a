package media

import "time"

// Config holds the limits of a [Registry]. A zero field means its documented
// default.
type Config struct {
	// GOPCacheMaxPackets bounds the GOP cache (video and audio messages since
	// the last video keyframe) that lets a late joiner start at a keyframe.
	// Default 1024. When a GOP grows past it the cache is dropped until the
	// next keyframe rather than served without its keyframe. Negative
	// disables the cache.
	GOPCacheMaxPackets int `yaml:"gop_cache_max_packets"`
	// GOPCacheMaxBytes bounds the GOP cache's payload bytes. Default 8 MiB.
	// Negative disables the cache.
	GOPCacheMaxBytes int `yaml:"gop_cache_max_bytes"`
	// QueuePackets bounds a subscriber's live backlog in messages. Past half
	// of it the subscriber is behind and drops video until a keyframe; a full
	// queue cuts it off when a message that must not be dropped arrives.
	// The initial burst (metadata, configuration, GOP cache) is not counted.
	// Default 512, minimum 8.
	QueuePackets int `yaml:"queue_packets"`
	// QueueBytes bounds a subscriber's live backlog in payload bytes, with
	// the same half-way behavior as QueuePackets. Default 4 MiB, minimum
	// 64 KiB.
	QueueBytes int `yaml:"queue_bytes"`
	// SlowConsumerAfter is how long a subscriber may stay behind before it
	// is cut off with ErrSlowConsumer. Default 10 s.
	SlowConsumerAfter time.Duration `yaml:"slow_consumer_after"`
	// RecordQueueBytes bounds what a recording (a lossless subscriber) holds
	// queued, in payload bytes; it also holds at most 16 × QueuePackets
	// messages. Past either the publisher waits for the disk instead of
	// the recording dropping anything. Large enough that an upload faster
	// than real time rarely waits: a sender that closes its connection
	// while the server still has its data unread may lose that data.
	// Default 16 MiB.
	RecordQueueBytes int `yaml:"record_queue_bytes"`
	// Files is the server's knowledge of recorded files (which are being
	// recorded, parsed heads and seek indexes), shared by the registries of
	// every instance because instances of different applications may store
	// streams in one folder. Nil: the registry keeps its own.
	Files *FileCache `yaml:"-"`
	// Totals, when set, receives the counters of every publication of
	// the registries sharing it as each one ends, so that monitoring
	// counts what streams that are gone did (Registry.Snapshot shows the
	// live ones).
	Totals *Totals `yaml:"-"`
}

// Defaults of Config fields.
const (
	DefaultGOPCacheMaxPackets = 1024
	DefaultGOPCacheMaxBytes   = 8 << 20
	DefaultQueuePackets       = 512
	DefaultQueueBytes         = 4 << 20
	DefaultSlowConsumerAfter  = 10 * time.Second
	DefaultRecordQueueBytes   = 16 << 20

	minQueuePackets = 8
	minQueueBytes   = 64 << 10
	// maxConfigs bounds the cached codec configurations of one stream (one
	// per track and kind of configuration); a hostile multitrack publisher
	// cannot grow it further.
	maxConfigs = 16
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.GOPCacheMaxPackets == 0 {
		c.GOPCacheMaxPackets = DefaultGOPCacheMaxPackets
	}
	if c.GOPCacheMaxBytes == 0 {
		c.GOPCacheMaxBytes = DefaultGOPCacheMaxBytes
	}
	if c.QueuePackets == 0 {
		c.QueuePackets = DefaultQueuePackets
	}
	c.QueuePackets = max(c.QueuePackets, minQueuePackets)
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	c.QueueBytes = max(c.QueueBytes, minQueueBytes)
	if c.SlowConsumerAfter <= 0 {
		c.SlowConsumerAfter = DefaultSlowConsumerAfter
	}
	if c.RecordQueueBytes == 0 {
		c.RecordQueueBytes = DefaultRecordQueueBytes
	}
	c.RecordQueueBytes = max(c.RecordQueueBytes, minQueueBytes)
	return c
}

func (c Config) gopEnabled() bool { return c.GOPCacheMaxPackets > 0 && c.GOPCacheMaxBytes > 0 }
