package chunk

import "errors"

// Errors returned by Reader and Writer. They are wrapped with the chunk stream id and
// message type where known; match them with errors.Is. Any error from
// ReadMessage leaves the Reader unusable: the connection should be closed.
var (
	// ErrChunkSize means the peer set a chunk size of 0, one with the top
	// bit set, or one above Limits.MaxChunkSize (docs/rtmp.md#chunk-size-abort-and-limits).
	ErrChunkSize = errors.New("chunk: bad chunk size")
	// ErrMessageTooLarge means a message header declared a length above
	// Limits.MaxMessageSize, or a message given to a Writer is longer than
	// the 24-bit length field can carry (MaxLength).
	ErrMessageTooLarge = errors.New("chunk: message too large")
	// ErrTooManyCSIDs means the peer used more chunk stream ids than
	// Limits.MaxCSIDs.
	ErrTooManyCSIDs = errors.New("chunk: too many chunk streams")
	// ErrPendingBytes means the messages being reassembled at once would
	// exceed Limits.MaxPendingBytes.
	ErrPendingBytes = errors.New("chunk: too many bytes pending reassembly")
	// ErrBudget means the Readers sharing a Budget already hold all of it
	// for messages in progress: the server is short of memory for them.
	ErrBudget = errors.New("chunk: server-wide reassembly budget exhausted")
	// ErrNoPreviousHeader means a fmt 2 or 3 chunk arrived on a chunk
	// stream that never had a fmt 0 or 1 header, so its length is unknown.
	ErrNoPreviousHeader = errors.New("chunk: fmt 2/3 chunk on a chunk stream without a previous header")
	// ErrShortControl means a Set Chunk Size or Abort message had fewer
	// than 4 payload bytes.
	ErrShortControl = errors.New("chunk: short protocol control message")
)
