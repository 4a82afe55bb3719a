package rtmp

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
)

// Reason says why a connection closed; it is the `reason` field of the
// `closed` log line.
type Reason uint8

// Close reasons.
const (
	ReasonEOF Reason = iota
	ReasonProtocolError
	ReasonLimit
	ReasonHandshake
	ReasonTimeout
	ReasonSlowConsumer
	ReasonShutdown
	ReasonRejected
	ReasonIOError
	ReasonPanic
	ReasonDisconnected // the application closed it (Client disconnect)
)

func (r Reason) String() string {
	switch r {
	case ReasonEOF:
		return "eof"
	case ReasonProtocolError:
		return "protocol_error"
	case ReasonLimit:
		return "limit"
	case ReasonHandshake:
		return "handshake"
	case ReasonTimeout:
		return "timeout"
	case ReasonSlowConsumer:
		return "slow_consumer"
	case ReasonShutdown:
		return "shutdown"
	case ReasonRejected:
		return "rejected"
	case ReasonIOError:
		return "io_error"
	case ReasonPanic:
		return "panic"
	case ReasonDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// closeError pairs an error with the reason it is logged under.
type closeError struct {
	reason Reason
	err    error
}

func (e *closeError) Error() string {
	if e.err == nil {
		return e.reason.String()
	}
	return e.err.Error()
}

func (e *closeError) Unwrap() error { return e.err }

func withReason(r Reason, err error) error { return &closeError{reason: r, err: err} }

// classify maps an error that ended a connection to its reason.
func classify(err error) Reason {
	if ce, ok := errors.AsType[*closeError](err); ok {
		return ce.reason
	}
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrClosedPipe):
		return ReasonEOF
	case errors.Is(err, media.ErrSlowConsumer):
		return ReasonSlowConsumer
	case errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, chunk.ErrChunkSize), errors.Is(err, chunk.ErrMessageTooLarge),
		errors.Is(err, chunk.ErrTooManyCSIDs), errors.Is(err, chunk.ErrPendingBytes),
		errors.Is(err, chunk.ErrBudget), errors.Is(err, amf.ErrDepth),
		errors.Is(err, amf.ErrTooLong):
		return ReasonLimit
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonEOF
	}
	return ReasonProtocolError
}
