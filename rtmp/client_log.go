package rtmp

import (
	"slices"
	"sync"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/message"
)

// StreamEvent is one thing a ClientStream received.
type StreamEvent struct {
	// Code is the code of an onStatus command or an onPlayStatus data
	// message; "" for everything else.
	Code string
	// Handler is a data message's handler name ("onMetaData",
	// "|RtmpSampleAccess", "onPlayStatus", ...); "" otherwise.
	Handler string
	// Kind, Time and Payload describe a media or data message; Kind is 0
	// for an onStatus command.
	Kind    media.Kind
	Time    uint32
	Payload []byte
}

// StreamLog records everything a ClientStream receives, in arrival order,
// for tests and the load tool. The client hands onStatus to the Status
// channel and messages to OnPacket, both from its one reader goroutine, so
// draining the channel before recording each message keeps the order.
type StreamLog struct {
	s  *ClientStream
	mu sync.Mutex
	ev []StreamEvent
}

// LogStream starts recording s; it takes over s.OnPacket and s.Status.
func LogStream(s *ClientStream) *StreamLog {
	l := &StreamLog{s: s}
	s.OnPacket = func(p media.Packet) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.drainLocked()
		e := StreamEvent{Kind: p.Kind, Time: p.Time, Payload: p.Payload}
		if p.Kind == media.Data {
			e.Handler, _, _ = message.Handler(p.Payload)
			if info, ok := PlayStatus(p.Payload); ok {
				e.Code = info.Get("code").Str()
			}
		}
		l.ev = append(l.ev, e)
	}
	return l
}

func (l *StreamLog) drainLocked() {
	for {
		select {
		case info := <-l.s.Status:
			l.ev = append(l.ev, statusEvent(info))
		default:
			return
		}
	}
}

func statusEvent(info amf.Value) StreamEvent {
	return StreamEvent{Code: info.Get("code").Str()}
}

// Events returns what was received so far.
func (l *StreamLog) Events() []StreamEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drainLocked()
	return slices.Clone(l.ev)
}

// Codes returns the status codes received so far (onStatus and
// onPlayStatus), in order.
func (l *StreamLog) Codes() []string {
	var out []string
	for _, e := range l.Events() {
		if e.Code != "" {
			out = append(out, e.Code)
		}
	}
	return out
}
