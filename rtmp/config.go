package rtmp

import (
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// Config configures a Server. A zero field means its documented default.
type Config struct {
	// Chunk holds the chunk-stream limits: max chunk size (16 MiB), max
	// message size (16 MiB), max chunk stream ids per connection (256).
	Chunk chunk.Limits `yaml:"chunk"`
	// MaxPendingTotal bounds the bytes all connections together hold for
	// messages still arriving (chunk.max_pending_bytes bounds one
	// connection by what its peer declares; this bounds the server by what
	// is allocated). A connection whose message would go past it is closed
	// (reason limit). Default 512 MiB: a thousand publishers each half-way
	// through a 512 KiB keyframe.
	MaxPendingTotal int64 `yaml:"max_pending_total"`
	// AMF holds the AMF decoding limits (nesting depth, references, lengths).
	AMF amf.Limits `yaml:"amf"`
	// MaxConns is the most concurrent sessions, over every transport
	// (RTMPT sessions too); more are refused. The server's ports use the
	// same number to bound their open sockets (listen.Mux.MaxConns), so
	// that sockets still being sniffed and HTTP connections count too.
	// Default 10000.
	MaxConns int `yaml:"max_conns"`
	// MaxStreams is the most NetStreams one connection may create.
	// Default 64.
	MaxStreams int `yaml:"max_streams"`
	// HandshakeTimeout bounds the handshake and the connect command.
	// Default 10s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// IdleTimeout closes a connection from which nothing was read for this
	// long. Default 120s (a paused player may send nothing for a while).
	// A quiet connection is pinged well before, so only a client that
	// does not answer is closed.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ParkAfter is how long a connection may read nothing before its
	// reader goroutine ends: on Linux, a connected session over a plain
	// TCP socket that is not publishing then waits for its next byte in
	// an epoll set of the server's (so does a WebSocket session on a
	// plain TCP port: SocketConn; an RTMPT session waits for its tunnel
	// session to call back: ReadNotifier), and a reader starts again
	// when it comes (docs/architecture.md#idle-connections). Writes to it (shared
	// object updates, pings, media) go on meanwhile. Saves the reader's
	// stack, 4 KB a connection, at the price of a goroutine start per
	// message that follows a quiet ParkAfter. Default 5s; negative: never.
	ParkAfter time.Duration `yaml:"park_after"`
	// WriteTimeout bounds one flush to the socket; a peer that does not
	// read for this long is cut off as a slow consumer. Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ChunkSize is the chunk size the server announces after connect.
	// Default 4096 (docs/rtmp.md#protocol-control-messages).
	ChunkSize uint32 `yaml:"chunk_size"`
	// WindowAckSize is the acknowledgement window announced after connect.
	// Default 2500000 (docs/rtmp.md#protocol-control-messages).
	WindowAckSize uint32 `yaml:"window_ack_size"`
	// CloseDrain bounds the drain of a connection the server ends after a
	// final reply (a rejected connect's _error, a disconnect's status):
	// its write side is shut once the reply is written, and what the
	// client still sends is read and thrown away, for at most this long,
	// before the socket is closed. Closing a socket with unread input
	// makes the kernel send a reset, which destroys whatever of the reply
	// the client has not read yet (docs/limits.md#sessions-and-transports).
	// The connection counts against max_conns and the per-address limits
	// until it is closed. Default 2s; negative: close at once.
	CloseDrain time.Duration `yaml:"close_drain"`
	// CloseDrainBytes bounds the bytes that drain reads. Default 1 MiB.
	CloseDrainBytes int64 `yaml:"close_drain_bytes"`
	// MaxQueuedCommands bounds the outgoing command/status queue of one
	// connection; overflow closes the connection (commands are never
	// dropped silently). Default 1024.
	MaxQueuedCommands int `yaml:"max_queued_commands"`
	// MaxQueuedBytes bounds the payload bytes of that queue: commands,
	// status and shared-object updates are never dropped, so a client that
	// stops reading while a large shared object changes under it would
	// otherwise hold up to MaxQueuedCommands copies of it. Overflow closes
	// the connection (slow_consumer). Default 16 MiB: four times the
	// largest shared object (instance.shared_objects.max_bytes), so a full
	// sync plus a burst of changes fits.
	MaxQueuedBytes int `yaml:"max_queued_bytes"`
	// MergeWrite is the tick of the server's merge clock: a playing
	// connection is written at the ticks, every MergeWrite, so what
	// arrives meanwhile (a tick's audio and video, several players'
	// messages) leaves in one vectored write, which is what a write
	// costs, not its bytes; the clock writes the sockets of all playing
	// connections itself, without waking a goroutine per connection
	// (docs/architecture.md#egress). A packet waits at most MergeWrite.
	// Default 40ms (one write per 25 fps frame tick); negative disables
	// merging: every message is written as it arrives, by a goroutine of
	// the connection.
	MergeWrite time.Duration `yaml:"merge_write"`
	// IngestTick is the cadence at which a publishing connection reads:
	// once it has handled everything its socket held, it waits for the
	// next tick and then reads what arrived meanwhile at once, so an
	// encoder's tick of audio and video costs one read and one wake-up of
	// the connection's reader instead of one or more per message
	// (docs/architecture.md#ingest-and-shared-objects). When it equals
	// MergeWrite, the merge clock wakes the publishers at each tick and
	// lets them read before it writes that tick's players, so players on
	// the clock get what arrived before a tick at that tick, as before;
	// others (RTMPT, WebSocket, HTTP-FLV and WebRTC players, merge_write
	// off) see up to IngestTick more. Default: MergeWrite (so off when
	// merging is off); negative: read every message as it arrives.
	IngestTick time.Duration `yaml:"ingest_tick"`
	// BWCheckBytes bounds the payload one native bandwidth check sends
	// (docs/rtmp.md#bandwidth-check; application.yaml bandwidth_detection). Default
	// 1 MiB: a few seconds on a 2 Mbit/s link, enough rounds to measure
	// a fast one.
	BWCheckBytes int `yaml:"bwcheck_bytes"`
	// BWCheckTime bounds one native bandwidth check: no round starts
	// after it, and a client silent for twice as long ends the check
	// without a report. Default 2s (FMS's MaxWait).
	BWCheckTime time.Duration `yaml:"bwcheck_time"`
	// FMSVer is the fmsVer string of the connect _result. Default
	// "FMS/3,0,1,123" (docs/rtmp.md#connect).
	FMSVer string `yaml:"fms_ver"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = 10000
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 64
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.ParkAfter == 0 {
		c.ParkAfter = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = 4096
	}
	if c.WindowAckSize == 0 {
		c.WindowAckSize = 2500000
	}
	if c.CloseDrain == 0 {
		c.CloseDrain = 2 * time.Second
	}
	if c.CloseDrainBytes <= 0 {
		c.CloseDrainBytes = 1 << 20
	}
	if c.MaxQueuedCommands <= 0 {
		c.MaxQueuedCommands = 1024
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = 16 << 20
	}
	if c.MergeWrite == 0 {
		c.MergeWrite = 40 * time.Millisecond
	}
	if c.IngestTick == 0 {
		c.IngestTick = c.MergeWrite
	}
	if c.MaxPendingTotal <= 0 {
		c.MaxPendingTotal = 512 << 20
	}
	if c.BWCheckBytes <= 0 {
		c.BWCheckBytes = 1 << 20
	}
	if c.BWCheckTime <= 0 {
		c.BWCheckTime = 2 * time.Second
	}
	c.Chunk = c.Chunk.WithDefaults()
	c.AMF = c.AMF.WithDefaults()
	if c.FMSVer == "" {
		c.FMSVer = "FMS/3,0,1,123"
	}
	return c
}
