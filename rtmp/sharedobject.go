package rtmp

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

// soConn is a connection's side of the shared objects (message types 19
// and 16, docs/shared-objects.md): it parses incoming messages for the engine
// session and is the session's Subscriber, queueing what the engine
// delivers on the command queue with the payload bytes shared.
type soConn struct {
	c    *conn
	sess *sharedobject.Session
	// Reader goroutine only.
	dec      amf.Decoder
	msg      wire.Message
	loggedFB bool
	// amf3 is set when the client connected with objectEncoding 3 or sent
	// a type-16 message: replies then go as type 16 (docs/shared-objects.md#message-layout). Read by
	// Deliver on other goroutines.
	amf3 atomic.Bool
}

// Deliver implements sharedobject.Subscriber. It only queues: the bytes
// are shared with every other subscriber and written by the writer
// goroutine; an overflowing queue closes this connection (slow consumer),
// it never blocks the object.
func (s *soConn) Deliver(o sharedobject.Outgoing) {
	t, body := uint8(message.TypeSharedObject), o.AMF0()
	if s.amf3.Load() {
		t, body = message.TypeSharedObjectAMF3, o.AMF3()
	}
	s.c.enqueue(outMsg{h: chunk.Header{CSID: message.CSIDCommand, Type: t}, p: body})
}

func (c *conn) handleSharedObject(h chunk.Header, p []byte) error {
	if c.so == nil {
		c.so = &soConn{c: c}
		c.so.dec.Limits = c.cfg.AMF
		c.so.amf3.Store(c.encoding == 3)
		c.so.sess = c.inst.SharedObjects().NewSession(c.so)
	}
	s := c.so
	amf3 := h.Type == message.TypeSharedObjectAMF3
	if amf3 && !s.amf3.Load() {
		s.amf3.Store(true)
	}
	if err := wire.Parse(p, amf3, &s.dec, &s.msg); err != nil {
		c.log.Warn("bad shared object message: closing", "type", h.Type, "len", len(p), "err", err)
		return withReason(ReasonProtocolError, fmt.Errorf("%s: %w", message.TypeName(h.Type), err))
	}
	if amf3 && s.msg.Format != 0 && !s.loggedFB {
		s.loggedFB = true
		c.log.Info("shared object message with non-zero format byte", "format", s.msg.Format)
	}
	c.log.Debug("shared object", "so", s.msg.Name, "version", s.msg.Version, "flags", s.msg.Flags, "events", len(s.msg.Events))
	err := s.sess.Handle(&s.msg)
	clear(s.msg.Events) // do not keep decoded values alive here
	if err != nil {
		c.log.Warn("shared object protocol violation: closing", "so", s.msg.Name, "err", err)
		if errors.Is(err, sharedobject.ErrFlood) {
			return withReason(ReasonLimit, err)
		}
		return withReason(ReasonProtocolError, err)
	}
	return nil
}

// leaveSharedObjects releases every shared object the connection uses.
func (c *conn) leaveSharedObjects() {
	if c.so != nil {
		c.so.sess.Close()
	}
}
