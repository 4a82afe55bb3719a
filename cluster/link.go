package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openfcs/openfcs/rtmp/chunk"
)

// Relayed sessions (docs/cluster.md#one-instance-one-owner): a client whose
// instance runs on another node keeps its connection where it is; its node
// (the edge) and the instance's node (the owner) pass the session's RTMP
// messages to each other over NATS, one NATS message per RTMP message. The
// owner runs the session as a virtual client of the instance.
//
//	<name>.link.<owner>          open request (JSON linkOpen), answered "ok"
//	<name>.up.<owner>.<id>       the client's messages, edge to owner
//	<name>.down.<edge>.<id>      the session's messages, owner to edge
//	<name>.lkeep.<owner>         the edge's keep-alives (request/reply)

// Link frame: kind, message type, chunk stream id, message stream id,
// timestamp, then the payload.
const linkHeader = 14

// Link frame kinds.
const (
	linkMessage = 0
	linkEnd     = 1 // the other side ended the session
)

var errBadLinkFrame = errors.New("cluster: malformed link frame")

func appendLinkFrame(b []byte, kind byte, h chunk.Header, p []byte) []byte {
	b = append(b, kind, h.Type)
	b = binary.BigEndian.AppendUint32(b, h.CSID)
	b = binary.BigEndian.AppendUint32(b, h.StreamID)
	b = binary.BigEndian.AppendUint32(b, h.Timestamp)
	return append(b, p...)
}

// parseLinkFrame parses one link frame; the payload aliases b.
func parseLinkFrame(b []byte) (byte, chunk.Header, []byte, error) {
	if len(b) < linkHeader || b[0] > linkEnd {
		return 0, chunk.Header{}, nil, errBadLinkFrame
	}
	h := chunk.Header{Type: b[1], CSID: binary.BigEndian.Uint32(b[2:]),
		StreamID: binary.BigEndian.Uint32(b[6:]), Timestamp: binary.BigEndian.Uint32(b[10:])}
	if b[0] == linkMessage && (h.CSID < chunk.MinCSID || h.CSID > chunk.MaxCSID) {
		return 0, chunk.Header{}, nil, errBadLinkFrame
	}
	p := b[linkHeader:]
	h.Length = uint32(len(p))
	return b[0], h, p, nil
}

// linkTimeout ends an owner's session whose edge sent no keep-alive for
// this long (the edge died or was cut off); an edge ends a link whose
// owner missed linkMisses keep-alives in a row, or has no subscriber.
const (
	linkTimeout = 5 * time.Second
	linkMisses  = 3
)

// VirtualServer runs the sessions of clients relayed to this node
// (rtmp.Server, wired by cmd/openfcs).
type VirtualServer interface {
	ServeVirtual(ctx context.Context, proto, ip string) (VirtualSession, error)
}

// VirtualSession is one relayed client's session on its owner.
type VirtualSession interface {
	// Write hands the session one of its client's messages.
	Write(h chunk.Header, p []byte) error
	// Read returns the session's next message for its client.
	Read() (chunk.Header, []byte, error)
	Close() error
}

// LinkOpen describes a session to relay.
type LinkOpen struct {
	App, Instance string
	IP, Proto     string
	// ConnectHeader and Connect are the client's connect message.
	ConnectHeader chunk.Header
	Connect       []byte
}

type linkOpen struct {
	ID      string `json:"id"`
	Edge    string `json:"edge"`
	App     string `json:"app"`
	Inst    string `json:"instance"`
	IP      string `json:"ip"`
	Proto   string `json:"proto"`
	Connect []byte `json:"connect"` // a link frame
}

// linkStats count relayed sessions on both sides.
type linkStats struct {
	edges, owned               atomic.Int64  // now
	edgesStarted, ownedStarted atomic.Uint64 // since the start
	// Payload bytes and messages of this node's relayed clients, counted
	// here on their edge: up is client to owner.
	bytesUp, bytesDown       atomic.Uint64
	messagesUp, messagesDown atomic.Uint64
	served                   sync.Map // id -> *servedLink
}

// Link is one relayed session on its edge.
type Link struct {
	n    *Node
	id   string
	up   string // subject of the owner's side
	sub  *nats.Subscription
	stop chan struct{}

	mu      sync.Mutex
	closed  bool
	deliver func(chunk.Header, []byte)
	end     func(error)
	buf     []byte
}

// Relay opens a link to owner for one session (docs/cluster.md#relayed-sessions).
// deliver receives the session's messages for the client in order;
// end is called once if the owner ends the session or is gone. Neither
// is called after Close.
func (n *Node) Relay(ctx context.Context, owner string, open LinkOpen, deliver func(chunk.Header, []byte), end func(error)) (*Link, error) {
	if owner == n.tag {
		return nil, errors.New("cluster: relay to this node itself")
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	l := &Link{n: n, id: id, up: n.subject("up", owner, id), stop: make(chan struct{}), deliver: deliver, end: end}
	sub, err := n.nc.Subscribe(n.subject("down", n.tag, id), l.onDown)
	if err != nil {
		return nil, err
	}
	// A session's burst (a shared object's full sync) must not be dropped:
	// the bytes bound stays that of a relayed stream's few seconds.
	_ = sub.SetPendingLimits(-1, 64<<20)
	l.mu.Lock()
	l.sub = sub
	l.mu.Unlock()
	req, _ := json.Marshal(linkOpen{ID: id, Edge: n.tag, App: open.App, Inst: open.Instance, IP: open.IP,
		Proto: open.Proto, Connect: appendLinkFrame(nil, linkMessage, open.ConnectHeader, open.Connect)})
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	r, err := n.nc.RequestWithContext(ctx, n.subject("link", owner), req)
	if err == nil && string(r.Data) != "ok" {
		err = fmt.Errorf("refused: %s", r.Data)
	}
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: relay to %s: %w", owner, err)
	}
	n.links.edges.Add(1)
	n.links.edgesStarted.Add(1)
	go l.keep(owner)
	return l, nil
}

func (l *Link) onDown(m *nats.Msg) {
	kind, h, p, err := parseLinkFrame(m.Data)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.sub == nil {
		return
	}
	if err == nil && kind == linkMessage {
		if d, _ := l.sub.Dropped(); d > 0 {
			err = errors.New("the client's node fell behind the owner (messages dropped)")
		}
	}
	switch {
	case err != nil:
		l.endLocked(err)
	case kind == linkEnd:
		l.endLocked(errors.New("the session ended on the instance's node"))
	default:
		l.n.links.bytesDown.Add(uint64(len(p)))
		l.n.links.messagesDown.Add(1)
		l.deliver(h, p)
	}
}

// endLocked ends the link from the owner's side. Called with l.mu held.
func (l *Link) endLocked(err error) {
	if l.closed {
		return
	}
	l.closed = true
	close(l.stop)
	_ = l.sub.Unsubscribe()
	l.n.links.edges.Add(-1)
	l.end(err)
}

// keep sends the keep-alives and ends the link when the owner is gone.
func (l *Link) keep(owner string) {
	t := time.NewTicker(keepEvery)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-l.stop:
			return
		case <-l.n.ctx.Done():
			l.fail(errors.New("node closing"))
			return
		case <-t.C:
		}
		r, err := l.n.nc.Request(l.n.subject("lkeep", owner), []byte(l.id), 2*time.Second)
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			l.fail(fmt.Errorf("node %s is gone", owner))
			return
		case err == nil && string(r.Data) != "ok":
			l.fail(fmt.Errorf("node %s no longer runs the session", owner))
			return
		case err != nil:
			if misses++; misses >= linkMisses {
				l.fail(fmt.Errorf("node %s missed %d keep-alives: %w", owner, misses, err))
				return
			}
		default:
			misses = 0
		}
	}
}

func (l *Link) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLocked(err)
}

// Send passes one of the client's messages to the owner.
func (l *Link) Send(h chunk.Header, p []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("cluster: link closed")
	}
	l.buf = appendLinkFrame(l.buf[:0], linkMessage, h, p)
	l.n.links.bytesUp.Add(uint64(len(p)))
	l.n.links.messagesUp.Add(1)
	return l.n.nc.Publish(l.up, l.buf)
}

// Close ends the link from the client's side: the owner ends the session.
func (l *Link) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	close(l.stop)
	_ = l.sub.Unsubscribe()
	l.n.links.edges.Add(-1)
	_ = l.n.nc.Publish(l.up, appendLinkFrame(nil, linkEnd, chunk.Header{}, nil))
}

// servedLink is one relayed session this node owns.
type servedLink struct {
	id       string
	v        VirtualSession
	sub      *nats.Subscription
	lastKeep atomic.Int64 // Unix nanoseconds
	mu       sync.Mutex
	closed   bool
}

func (s *servedLink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
	}
	_ = s.v.Close()
}

// SetVirtualServer installs what runs relayed sessions here and starts
// answering other nodes' relays. Call it once, before clients connect.
func (n *Node) SetVirtualServer(vs VirtualServer) error {
	n.virt = vs
	sub, err := n.nc.Subscribe(n.subject("link", n.tag), func(m *nats.Msg) {
		go n.onLinkOpen(m)
	})
	if err != nil {
		return fmt.Errorf("cluster: serve relays: %w", err)
	}
	n.subs = append(n.subs, sub)
	sub, err = n.nc.Subscribe(n.subject("lkeep", n.tag), func(m *nats.Msg) {
		v, ok := n.links.served.Load(string(m.Data))
		if !ok {
			_ = m.Respond([]byte("gone"))
			return
		}
		v.(*servedLink).lastKeep.Store(time.Now().UnixNano())
		_ = m.Respond([]byte("ok"))
	})
	if err != nil {
		return fmt.Errorf("cluster: serve relays: %w", err)
	}
	n.subs = append(n.subs, sub)
	n.wg.Add(1)
	go n.watchLinks()
	return nil
}

// onLinkOpen starts the session of a client relayed here.
func (n *Node) onLinkOpen(m *nats.Msg) {
	var req linkOpen
	if err := json.Unmarshal(m.Data, &req); err != nil || req.ID == "" || req.Edge == "" {
		_ = m.Respond([]byte("bad request"))
		return
	}
	kind, h, p, err := parseLinkFrame(req.Connect)
	if err != nil || kind != linkMessage {
		_ = m.Respond([]byte("bad connect"))
		return
	}
	v, err := n.virt.ServeVirtual(n.ctx, req.Proto, req.IP)
	if err != nil {
		_ = m.Respond([]byte(err.Error()))
		return
	}
	s := &servedLink{id: req.ID, v: v}
	s.lastKeep.Store(time.Now().UnixNano())
	down := n.subject("down", req.Edge, req.ID)
	sub, err := n.nc.Subscribe(n.subject("up", n.tag, req.ID), func(m *nats.Msg) {
		kind, h, p, err := parseLinkFrame(m.Data)
		if err != nil || kind == linkEnd {
			s.close()
			return
		}
		if err := v.Write(h, p); err != nil {
			s.close()
		}
	})
	if err != nil {
		_ = v.Close()
		_ = m.Respond([]byte(err.Error()))
		return
	}
	_ = sub.SetPendingLimits(-1, 64<<20)
	s.mu.Lock()
	s.sub = sub
	if s.closed {
		_ = sub.Unsubscribe()
	}
	s.mu.Unlock()
	n.links.served.Store(req.ID, s)
	n.links.owned.Add(1)
	n.links.ownedStarted.Add(1)
	n.log.Info("relayed session start", "app", req.App, "instance", req.Inst, "edge", req.Edge, "id", req.ID)
	go func() {
		defer func() {
			n.links.served.Delete(req.ID)
			n.links.owned.Add(-1)
			s.close()
			_ = n.nc.Publish(down, appendLinkFrame(nil, linkEnd, chunk.Header{}, nil))
		}()
		var buf []byte
		for {
			h, p, err := v.Read()
			if err != nil {
				return
			}
			buf = appendLinkFrame(buf[:0], linkMessage, h, p)
			if err := n.nc.Publish(down, buf); err != nil {
				return
			}
		}
	}()
	if err := v.Write(h, p); err != nil {
		s.close()
	}
	_ = m.Respond([]byte("ok"))
}

// watchLinks ends the sessions whose edge stopped sending keep-alives.
func (n *Node) watchLinks() {
	defer n.wg.Done()
	t := time.NewTicker(keepEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			n.links.served.Range(func(_, v any) bool { v.(*servedLink).close(); return true })
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		n.links.served.Range(func(_, v any) bool {
			if s := v.(*servedLink); now-s.lastKeep.Load() > int64(linkTimeout) {
				n.log.Info("relayed session ended: its edge is gone", "id", s.id)
				s.close()
			}
			return true
		})
	}
}
