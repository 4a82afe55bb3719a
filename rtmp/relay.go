package rtmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// Relayed sessions (docs/cluster.md#one-instance-one-owner). When the engine
// answers a connect with instance.ErrElsewhere, the session stays here (its
// socket, tunnel or WebSocket) and relays its RTMP messages to the node
// that runs the instance; that node runs the session's RTMP side for it
// (ServeVirtual) like any other, so the instance sees one more client.
// Only the chunk layer (chunk sizes, acknowledgements) stays per hop.

// Message is one RTMP message as it crosses between nodes.
type Message struct {
	chunk.Header
	Payload []byte
}

// RelayOpen is what the owner's node needs to run a relayed session.
type RelayOpen struct {
	App, Instance string
	// IP and Proto are the client's, as ClientInfo has them.
	IP, Proto string
	// Connect is the client's connect command message.
	Connect Message
}

// Relayer carries sessions to the nodes that run their instances.
type Relayer interface {
	// Relay opens a link to node for one session. deliver receives the
	// owner's messages for the client, in order, from one goroutine at a
	// time; end is called once when the link ends from the owner's side
	// (the session there closed, or the owner is gone). Neither is called
	// after Close.
	Relay(ctx context.Context, node string, open RelayOpen, deliver func(Message), end func(error)) (RelayLink, error)
}

// RelayLink is one relayed session seen from the client's node.
type RelayLink interface {
	// Send passes one of the client's messages on to the owner, without
	// waiting for the network. An error ends the session.
	Send(m Message) error
	// Close ends the link (the client left).
	Close()
}

// perHop reports whether a message type belongs to one hop's chunk layer
// and never crosses: chunk size, abort, acknowledgement and its window,
// peer bandwidth.
func perHop(t uint8) bool {
	switch t {
	case message.TypeSetChunkSize, message.TypeAbort, message.TypeAck,
		message.TypeWindowAckSize, message.TypeSetPeerBandwidth:
		return true
	}
	return false
}

// relayMessage passes one client message on to the owner. The reader
// goroutine only.
func (c *conn) relayMessage(h chunk.Header, p []byte) error {
	if h.Type == message.TypeWindowAckSize {
		v, err := message.ParseU32(p)
		if err != nil {
			return err
		}
		c.peerWindow = v
		return nil
	}
	if perHop(h.Type) {
		return nil
	}
	if err := c.relay.Send(Message{Header: h, Payload: p}); err != nil {
		return withReason(ReasonIOError, fmt.Errorf("relay to the instance's node: %w", err))
	}
	return nil
}

// startRelay makes the session a relay to the node running its instance.
func (c *conn) startRelay(txn float64, ee *instance.ElsewhereError, info instance.ClientInfo, connect Message) error {
	open := RelayOpen{App: ee.App, Instance: ee.Instance, IP: info.IP, Proto: info.Protocol,
		Connect: connect}
	deliver := func(m Message) {
		c.enqueue(outMsg{h: m.Header, p: m.Payload})
	}
	end := func(err error) {
		c.closeAfterFlushAs(withReason(ReasonDisconnected, fmt.Errorf("relayed session ended: %w", err)))
	}
	link, err := c.srv.Relay.Relay(c.ctx, ee.Node, open, deliver, end)
	if err != nil {
		c.log.Warn("connect not relayed", "app", ee.App, "instance", ee.Instance, "owner", ee.Node, "err", err)
		c.rejectAndClose(txn, status.ConnectFailed, "Connection failed.")
		return nil
	}
	c.relay, c.connected = link, true
	c.log = c.log.With("app", ee.App, "instance", ee.Instance, "owner", ee.Node)
	c.log.Info("connect relayed", "agent", info.Agent)
	return c.setReadDeadline(time.Time{}) // not past a drain (conn.go)
}

// Virtual is the owner's end of a relayed session: the session runs here
// as if its client were connected to this node, over an in-process pipe.
type Virtual struct {
	nc  net.Conn
	r   *chunk.Reader
	wmu sync.Mutex
	w   *chunk.Writer
	buf []byte
}

// virtualAddr is the relayed client's address, as the session logs and
// reports it (Client.ip).
type virtualAddr string

func (a virtualAddr) Network() string { return "relay" }
func (a virtualAddr) String() string  { return string(a) }

// addrConn reports the relayed client's address as its remote address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (a addrConn) RemoteAddr() net.Addr { return a.remote }

// virtualChunkSize is the chunk size on the in-process pipe: large, since
// nothing interleaves there that a small one would help.
const virtualChunkSize = 1 << 16

// ServeVirtual starts a session for a client relayed from another node:
// proto and ip are the client's. The session ends when ctx does, when
// Close is called, or when it closes itself (Read returns an error).
func (s *Server) ServeVirtual(ctx context.Context, proto, ip string) (*Virtual, error) {
	s.init()
	a, b := net.Pipe()
	c := s.newConn(addrConn{Conn: a, remote: virtualAddr(ip)}, proto)
	if c == nil {
		_ = b.Close()
		return nil, errors.New("rtmp: server closed or at max_conns")
	}
	c.virtual = true
	go func() {
		stop := context.AfterFunc(ctx, func() { c.shutdown() })
		defer stop()
		c.run()
	}()
	_ = b.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if _, err := handshake.Client(b, handshake.ClientOptions{}); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("rtmp: virtual session handshake: %w", err)
	}
	_ = b.SetDeadline(time.Time{})
	v := &Virtual{nc: b, r: chunk.NewReader(b, s.cfg.Chunk), w: chunk.NewWriter()}
	if err := v.write(chunk.Header{CSID: message.CSIDControl, Type: message.TypeSetChunkSize},
		message.AppendU32(nil, virtualChunkSize)); err != nil {
		_ = b.Close()
		return nil, err
	}
	v.w.SetChunkSize(virtualChunkSize)
	return v, nil
}

func (v *Virtual) write(h chunk.Header, p []byte) error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	var err error
	if v.buf, err = v.w.AppendBytes(v.buf[:0], h, p); err != nil {
		return err
	}
	_, err = v.nc.Write(v.buf)
	return err
}

// Write hands the session one of its client's messages. It blocks while
// the session is busy reading an earlier one.
func (v *Virtual) Write(m Message) error {
	if perHop(m.Type) {
		return nil
	}
	return v.write(m.Header, m.Payload)
}

// Read returns the session's next message for its client; the chunk
// layer's own messages stay here. One goroutine at a time.
func (v *Virtual) Read() (Message, error) {
	for {
		h, p, err := v.r.ReadMessage()
		if err != nil {
			return Message{}, err
		}
		if !perHop(h.Type) {
			return Message{Header: h, Payload: p}, nil
		}
	}
}

// Close ends the session (the client left, or its node is gone).
func (v *Virtual) Close() error { return v.nc.Close() }
