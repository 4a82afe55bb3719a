package chunk

// Protocol constants (docs/rtmp.md#chunk-stream).
const (
	// MinCSID is the lowest chunk stream id that can be encoded (docs/rtmp.md#basic-header);
	// 0 and 1 select the 2- and 3-byte forms.
	MinCSID = 2
	// MaxCSID is the highest chunk stream id, 64 + 255 + 256·255 (docs/rtmp.md#basic-header).
	MaxCSID = 65599
	// MaxLength is the largest message length the 24-bit field can carry.
	MaxLength = 0xFFFFFF
	// DefaultChunkSize is the chunk size of both directions until a Set
	// Chunk Size message changes it (docs/rtmp.md#chunk-stream).
	DefaultChunkSize = 128
	// MaxChunkSizeField is the largest value a Set Chunk Size message may
	// legally carry: 31 bits, top bit zero (docs/rtmp.md#chunk-size-abort-and-limits).
	MaxChunkSizeField = 0x7FFFFFFF
)

// Default limits. Each bounds what one peer can make the Reader do or
// allocate; all are configurable through Limits.
const (
	// DefaultMaxChunkSize bounds the chunk size a peer may set. 16 MiB is
	// above the largest message (0xFFFFFF), so every chunk size that can
	// matter is accepted, while values such as 0x7FFFFFFF, which only a
	// broken or hostile peer sends, are refused.
	DefaultMaxChunkSize = 16 << 20
	// DefaultMaxMessageSize bounds one message's declared length. 16 MiB
	// admits every length the 24-bit field can express: a lower value is
	// for deployments that know their largest keyframe.
	DefaultMaxMessageSize = 16 << 20
	// DefaultMaxCSIDs bounds the chunk streams one connection may open.
	// Each costs a small state record for the rest of the connection; real
	// peers use fewer than ten (control, commands, audio, video, data per
	// stream), so 256 is generous while a peer cycling through all 65,599
	// ids is stopped early.
	DefaultMaxCSIDs = 256
	// DefaultMaxPendingBytes bounds the declared lengths of all messages
	// being reassembled at once on one connection. Without it a peer could
	// start a maximal message on every csid (256 × 16 MiB). 32 MiB lets two
	// maximal messages be in flight together, more than interleaved audio,
	// video and data ever need.
	DefaultMaxPendingBytes = 32 << 20
)

// Internal sizes, chosen for memory per connection rather than as limits.
const (
	// readBufferSize is the size of the pooled read buffers. Only busy
	// Readers hold one (idle ones wait in a 1-byte read), so it can be
	// large enough for several small messages per read syscall; chunk
	// bodies at least this large bypass it.
	readBufferSize = 4096
	// keptBufferSize is the buffer of a Reader that keeps it (KeepBuffer,
	// a publisher): a merge-clock tick of a few-Mbit/s stream (audio,
	// video and their chunk headers) in one read, where 4 KB took two or
	// three for one 1 Mbit/s tick.
	keptBufferSize = 32 << 10
	// allocStep is the most the Reader allocates for a message before its
	// bytes arrive: messages up to this size are allocated exactly at their
	// first chunk, larger ones grow (doubling, capped at their length) as
	// data comes, so a peer must send bytes to make us hold memory.
	allocStep = 64 << 10
)

// coalesceMax is the payload size below which Writer.Append copies a
// chunk's payload into the batch's header slab instead of referencing it, so
// small messages (control messages, tiny audio frames) and their headers go
// out as one iovec. BenchmarkCoalesce (a 40 ms tick of video, two audio
// frames, a data message and an ack per writev to loopback TCP) showed no
// difference between 0, 64, 512 and 4096 beyond noise: the syscall
// dominates. 64 keeps control messages to one iovec while never copying a
// media payload. A variable only so that the benchmark can vary it.
var coalesceMax = 64

// Limits bounds what a peer may make a Reader do. A zero field means its
// documented default.
type Limits struct {
	// MaxChunkSize is the largest chunk size the peer may set with a Set
	// Chunk Size message; larger values fail with ErrChunkSize. Default
	// 16 MiB (DefaultMaxChunkSize).
	MaxChunkSize uint32 `yaml:"max_chunk_size"`
	// MaxMessageSize is the largest message length accepted, in bytes;
	// larger fail with ErrMessageTooLarge. Default 16 MiB.
	MaxMessageSize uint32 `yaml:"max_message_size"`
	// MaxCSIDs is the number of distinct chunk stream ids the peer may use
	// on one connection; one more fails with ErrTooManyCSIDs. Default 256.
	MaxCSIDs int `yaml:"max_csids"`
	// MaxPendingBytes bounds the sum of the lengths of messages being
	// reassembled at once; exceeding it fails with ErrPendingBytes.
	// Default 32 MiB.
	MaxPendingBytes int `yaml:"max_pending_bytes"`
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxChunkSize == 0 {
		l.MaxChunkSize = DefaultMaxChunkSize
	}
	if l.MaxMessageSize == 0 {
		l.MaxMessageSize = DefaultMaxMessageSize
	}
	if l.MaxCSIDs <= 0 {
		l.MaxCSIDs = DefaultMaxCSIDs
	}
	if l.MaxPendingBytes <= 0 {
		l.MaxPendingBytes = DefaultMaxPendingBytes
	}
	return l
}
