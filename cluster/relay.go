package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/message"
)

// Streams across nodes (docs/cluster.md#streams): the node where a stream
// is published announces itself as its origin in the streams bucket,
// renewing the key while the publisher stays. A node whose player waits
// for a stream published elsewhere runs one relay for it: it asks the
// origin for a feed (one subscriber there), receives the feed's messages
// on a subject of its own and publishes them locally as a relay, which
// every local player then shares. Node-to-node traffic is one copy per
// stream and node, never one per player.

// Frame header of a feed message: event type (its high nibble the
// packet's media.Audience), media kind, timestamp.
const frameHeader = 6

// Feed event types, in frame byte 0.
const (
	framePacket    = 0
	frameUnpublish = 1 // the origin's publisher left
	frameEnd       = 2 // the feed ended (its subscriber was cut off)
)

var errBadFrame = errors.New("cluster: malformed feed frame")

// appendFrame appends one feed message: the event type, then for a
// packet its kind, timestamp and payload. A packet's audience rides in
// the type byte's high nibble: a stream may carry its audio twice, as
// published and converted for players that predate Enhanced RTMP
// (docs/cluster.md#streams), and the relay publishes each copy for the
// same players as the origin does.
func appendFrame(b []byte, typ byte, p *media.Packet) []byte {
	if p == nil {
		return append(b, typ, 0, 0, 0, 0, 0)
	}
	b = append(b, typ|byte(p.Audience)<<4, byte(p.Kind))
	b = binary.BigEndian.AppendUint32(b, p.Time)
	return append(b, p.Payload...)
}

// parseFrame parses one feed message. The packet's payload aliases b; it
// is nil for the other event types.
func parseFrame(b []byte) (byte, *media.Packet, error) {
	if len(b) < frameHeader {
		return 0, nil, errBadFrame
	}
	a := media.Audience(b[0] >> 4)
	switch b[0] & 0x0f {
	case framePacket:
		k := media.Kind(b[1])
		if k != media.Audio && k != media.Video && k != media.Data || a > media.ForLegacy {
			return 0, nil, errBadFrame
		}
		return framePacket, &media.Packet{Kind: k, Time: binary.BigEndian.Uint32(b[2:6]), Payload: b[frameHeader:], Audience: a}, nil
	case frameUnpublish, frameEnd:
		if a != 0 {
			return 0, nil, errBadFrame
		}
		return b[0], nil, nil
	}
	return 0, nil, errBadFrame
}

// feedTimeout ends a feed whose relay sent no keep-alive for this long:
// the relay's node died or was cut off.
const feedTimeout = 5 * time.Second

// keepEvery is how often a relay sends its keep-alive to the origin.
const keepEvery = time.Second

// relaySet is the node's stream state.
type relaySet struct {
	mu        sync.Mutex
	regs      map[string]*observer          // app/instance -> its registry's observer
	relays    map[string]*relay             // stream key -> running relay
	announced map[string]context.CancelFunc // stream key -> stops renewing the origin key
	feeds     map[string]*feed              // feed id -> feed served here

	feedBytes, relayBytes atomic.Uint64
	feedsStarted          atomic.Uint64
	relaysStarted         atomic.Uint64
}

func (r *relaySet) init() {
	r.regs = map[string]*observer{}
	r.relays = map[string]*relay{}
	r.announced = map[string]context.CancelFunc{}
	r.feeds = map[string]*feed{}
}

// Stats are the node's cluster counters.
type Stats struct {
	Node string `json:"node"`
	// Feeds are the streams this node sends to other nodes now, Relays
	// those it receives; FeedBytes and RelayBytes count their payload
	// bytes since the start.
	Feeds         int    `json:"feeds"`
	Relays        int    `json:"relays"`
	FeedsStarted  uint64 `json:"feeds_started"`
	RelaysStarted uint64 `json:"relays_started"`
	FeedBytes     uint64 `json:"feed_bytes"`
	RelayBytes    uint64 `json:"relay_bytes"`
	// Sessions are the relayed sessions of clients connected here whose
	// instance runs elsewhere, Owned those of clients connected elsewhere
	// whose instance runs here (docs/cluster.md#relayed-sessions); the
	// started counts are since the start. SessionBytesUp and
	// SessionBytesDown count the payload bytes of this node's relayed
	// sessions (up: client to owner), SessionMessagesUp and
	// SessionMessagesDown their messages.
	Sessions            int64  `json:"sessions"`
	Owned               int64  `json:"owned"`
	SessionsStarted     uint64 `json:"sessions_started"`
	OwnedStarted        uint64 `json:"owned_started"`
	SessionBytesUp      uint64 `json:"session_bytes_up"`
	SessionBytesDown    uint64 `json:"session_bytes_down"`
	SessionMessagesUp   uint64 `json:"session_messages_up"`
	SessionMessagesDown uint64 `json:"session_messages_down"`
	// Instances are the instance leases this node holds.
	Instances int `json:"instances"`
}

// Stats returns the current counters.
func (n *Node) Stats() Stats {
	r := &n.relays
	r.mu.Lock()
	defer r.mu.Unlock()
	n.holds.mu.Lock()
	held := len(n.holds.m)
	n.holds.mu.Unlock()
	k := &n.links
	return Stats{Node: n.tag, Feeds: len(r.feeds), Relays: len(r.relays),
		FeedsStarted: r.feedsStarted.Load(), RelaysStarted: r.relaysStarted.Load(),
		FeedBytes: r.feedBytes.Load(), RelayBytes: r.relayBytes.Load(),
		Sessions: k.edges.Load(), Owned: k.owned.Load(), SessionsStarted: k.edgesStarted.Load(),
		OwnedStarted: k.ownedStarted.Load(), SessionBytesUp: k.bytesUp.Load(), SessionBytesDown: k.bytesDown.Load(),
		SessionMessagesUp: k.messagesUp.Load(), SessionMessagesDown: k.messagesDown.Load(),
		Instances: held}
}

// streamKey is the bucket key of a stream: names may hold characters a
// key may not, so they are encoded.
func streamKey(app, inst, name string) string {
	return "s." + base64.RawURLEncoding.EncodeToString([]byte(app+"\x00"+inst+"\x00"+name))
}

// StreamObserver returns the observer of one instance's stream registry;
// install it with instance.Manager.SetStreamObserver.
func (n *Node) StreamObserver(app, inst string, reg *media.Registry) media.Observer {
	o := &observer{n: n, app: app, inst: inst, reg: reg}
	n.relays.mu.Lock()
	n.relays.regs[app+"\x00"+inst] = o
	n.relays.mu.Unlock()
	return o
}

type observer struct {
	n         *Node
	app, inst string
	reg       *media.Registry
}

func (o *observer) key(name string) string { return streamKey(o.app, o.inst, name) }

func (o *observer) Published(name string) {
	n, key := o.n, o.key(name)
	ctx, cancel := context.WithCancel(n.ctx)
	n.relays.mu.Lock()
	if old := n.relays.announced[key]; old != nil {
		old()
	}
	n.relays.announced[key] = cancel
	n.relays.mu.Unlock()
	n.wg.Go(func() { n.announce(ctx, key) })
}

func (o *observer) Unpublished(name string) {
	n, key := o.n, o.key(name)
	n.relays.mu.Lock()
	if cancel := n.relays.announced[key]; cancel != nil {
		cancel()
		delete(n.relays.announced, key)
	}
	n.relays.mu.Unlock()
}

func (o *observer) Waiting(name string) { o.n.want(o, name) }

func (o *observer) Closed() {
	n := o.n
	n.relays.mu.Lock()
	if n.relays.regs[o.app+"\x00"+o.inst] == o {
		delete(n.relays.regs, o.app+"\x00"+o.inst)
	}
	for _, rl := range n.relays.relays {
		if rl.o == o {
			rl.cancel()
		}
	}
	n.relays.mu.Unlock()
}

// announce keeps this node as the origin of key until ctx ends, then
// deletes the key if it is still ours.
func (n *Node) announce(ctx context.Context, key string) {
	var rev uint64
	t := time.NewTicker(n.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, n.cfg.LeaseTTL/3)
		r, err := n.streams.Put(pctx, key, []byte(n.tag))
		cancel()
		if err == nil {
			rev = r
		} else if ctx.Err() == nil {
			n.log.Debug("cluster announce failed", "key", key, "err", err)
		}
		select {
		case <-ctx.Done():
			if rev != 0 {
				dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = n.streams.Delete(dctx, key, jetstream.LastRevision(rev))
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// relay pulls one stream from its origin for the local players.
type relay struct {
	o      *observer
	name   string
	key    string
	cancel context.CancelFunc
}

// want starts the relay of name unless one runs.
func (n *Node) want(o *observer, name string) {
	key := o.key(name)
	n.relays.mu.Lock()
	defer n.relays.mu.Unlock()
	if n.relays.relays[key] != nil || n.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(n.ctx)
	rl := &relay{o: o, name: name, key: key, cancel: cancel}
	n.relays.relays[key] = rl
	n.wg.Go(func() {
		n.runRelay(ctx, rl)
		n.relays.mu.Lock()
		if n.relays.relays[key] == rl {
			delete(n.relays.relays, key)
		}
		n.relays.mu.Unlock()
		cancel()
		// A player that arrived while this relay was ending found it
		// still registered and did not start another.
		if n.ctx.Err() == nil && o.reg.Waiting(name) {
			n.want(o, name)
		}
	})
}

// runRelay looks the origin up and pulls from it while local players
// want the stream; it returns when none has for cfg.RelayIdle.
func (n *Node) runRelay(ctx context.Context, rl *relay) {
	var idleSince time.Time
	// failures counts pulls in a row that failed: an origin that died
	// stays in the bucket until its key expires, and each retry in that
	// time would otherwise log a line.
	failures := 0
	for ctx.Err() == nil {
		if rl.o.reg.Players(rl.name) == 0 {
			if idleSince.IsZero() {
				idleSince = time.Now()
			} else if time.Since(idleSince) >= n.cfg.RelayIdle {
				return
			}
		} else {
			idleSince = time.Time{}
		}
		// With nobody to pull for, only wait out RelayIdle.
		if origin, ok := n.origin(ctx, rl.key); idleSince.IsZero() && ok && origin != n.tag && !rl.o.reg.Published(rl.name) {
			started, err := n.pull(ctx, rl, origin)
			if errors.Is(err, errRelayIdle) {
				return
			}
			if started {
				failures = 0
			} else {
				failures++
			}
			if err != nil && ctx.Err() == nil && failures <= 1 {
				n.log.Info("relay ended", "app", rl.o.app, "instance", rl.o.inst, "stream", rl.name, "origin", origin, "err", err)
			}
		}
		wait := 250 * time.Millisecond
		if failures > 0 {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// origin returns the node that announced key.
func (n *Node) origin(ctx context.Context, key string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	e, err := n.streams.Get(ctx, key)
	if err != nil {
		return "", false
	}
	return string(e.Value()), true
}

// feedRequest asks an origin for a feed.
type feedRequest struct {
	App    string `json:"app"`
	Inst   string `json:"instance"`
	Stream string `json:"stream"`
	ID     string `json:"id"`
	Data   string `json:"data"` // subject the feed publishes to
}

var errRelayIdle = errors.New("no local player")

// pull receives one feed from origin and publishes it locally until the
// origin's publisher leaves, the feed ends or no local player remains.
func (n *Node) pull(ctx context.Context, rl *relay, origin string) (started bool, err error) {
	err = n.pullFeed(ctx, rl, origin, &started)
	return started, err
}

func (n *Node) pullFeed(ctx context.Context, rl *relay, origin string, started *bool) error {
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	req := feedRequest{App: rl.o.app, Inst: rl.o.inst, Stream: rl.name, ID: id, Data: n.subject("data", n.tag, id)}
	ch := make(chan *nats.Msg, 4096)
	sub, err := n.nc.ChanSubscribe(req.Data, ch)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	b, _ := json.Marshal(req)
	r, err := n.nc.Request(n.subject("feed", origin), b, 5*time.Second)
	if err != nil {
		return fmt.Errorf("feed request: %w", err)
	}
	if string(r.Data) != "ok" {
		return fmt.Errorf("feed refused: %s", r.Data)
	}
	stop := func() { _ = n.nc.Publish(n.subject("keep", origin), []byte("stop "+id)) }
	pub, err := rl.o.reg.PublishRelay(rl.name)
	if err != nil {
		stop()
		return err
	}
	defer pub.Close()
	*started = true
	n.relays.relaysStarted.Add(1)
	n.log.Info("relay start", "app", rl.o.app, "instance", rl.o.inst, "stream", rl.name, "origin", origin)
	keep := time.NewTicker(keepEvery)
	defer keep.Stop()
	var idleSince time.Time
	for {
		select {
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case m := <-ch:
			typ, p, err := parseFrame(m.Data)
			if err != nil {
				return err // only a broken or foreign sender: start over
			}
			switch typ {
			case frameUnpublish:
				return errors.New("origin unpublished")
			case frameEnd:
				return errors.New("origin ended the feed")
			}
			n.relays.relayBytes.Add(uint64(len(p.Payload)))
			if p.Kind == media.Data && isMetadata(p.Payload) {
				pub.SetMetadata(p)
			} else {
				pub.Write(p)
			}
		case <-keep.C:
			if rl.o.reg.Players(rl.name) == 0 {
				if idleSince.IsZero() {
					idleSince = time.Now()
				} else if time.Since(idleSince) >= n.cfg.RelayIdle {
					stop()
					return errRelayIdle
				}
			} else {
				idleSince = time.Time{}
			}
			// The origin converts for legacy players (the Opus of a
			// WebRTC publisher to AAC) only while some play somewhere.
			keepMsg := id
			if pub.LegacySubscribers() > 0 {
				keepMsg += " " + keepLegacy
			}
			r, err := n.nc.Request(n.subject("keep", origin), []byte(keepMsg), 2*time.Second)
			if errors.Is(err, nats.ErrNoResponders) || err == nil && string(r.Data) != "ok" {
				return errors.New("origin gone")
			}
		}
	}
}

// isMetadata reports an onMetaData data message: the relay stores it as
// the stream's metadata so that later players get it first, as at the
// origin.
func isMetadata(p []byte) bool {
	h, _, ok := message.Handler(p)
	return ok && h == "onMetaData"
}

// keepLegacy follows the feed id in a keep-alive when the relay's node
// has players that predate Enhanced RTMP.
const keepLegacy = "legacy"

// feed is one stream this node sends to a relay on another node.
type feed struct {
	id string
	// sub reads the stream for the relay: every audience, each packet
	// with its own, and counted as a legacy player while the relay says
	// it has some.
	sub      *media.Subscriber
	lastKeep atomic.Int64 // Unix nanoseconds of the last keep-alive
	stopped  chan struct{}
	once     sync.Once
}

func (f *feed) stop() { f.once.Do(func() { close(f.stopped) }) }

// serveFeeds answers feed requests and keep-alives from other nodes.
func (n *Node) serveFeeds() error {
	sub, err := n.nc.Subscribe(n.subject("feed", n.tag), n.onFeedRequest)
	if err != nil {
		return fmt.Errorf("cluster: serve feeds: %w", err)
	}
	n.subs = append(n.subs, sub)
	sub, err = n.nc.Subscribe(n.subject("keep", n.tag), func(m *nats.Msg) {
		id, stop := bytes.CutPrefix(m.Data, []byte("stop "))
		id, flag, _ := bytes.Cut(id, []byte(" "))
		n.relays.mu.Lock()
		f := n.relays.feeds[string(id)]
		n.relays.mu.Unlock()
		switch {
		case f == nil:
			_ = m.Respond([]byte("gone"))
		case stop:
			f.stop()
		default:
			f.lastKeep.Store(time.Now().UnixNano())
			f.sub.SetLegacyDemand(string(flag) == keepLegacy)
			_ = m.Respond([]byte("ok"))
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: serve feeds: %w", err)
	}
	n.subs = append(n.subs, sub)
	return nil
}

func (n *Node) onFeedRequest(m *nats.Msg) {
	var req feedRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.ID == "" || req.Data == "" {
		_ = m.Respond([]byte("bad request"))
		return
	}
	n.relays.mu.Lock()
	o := n.relays.regs[req.App+"\x00"+req.Inst]
	n.relays.mu.Unlock()
	if o == nil || !o.reg.Published(req.Stream) {
		_ = m.Respond([]byte("not published here"))
		return
	}
	sub := o.reg.Subscribe(req.Stream, media.SubscribeOptions{AllAudiences: true})
	f := &feed{id: req.ID, sub: sub, stopped: make(chan struct{})}
	f.lastKeep.Store(time.Now().UnixNano())
	n.relays.mu.Lock()
	n.relays.feeds[f.id] = f
	n.relays.mu.Unlock()
	n.relays.feedsStarted.Add(1)
	n.wg.Go(func() {
		n.runFeed(f, sub, req)
		sub.Close()
		n.relays.mu.Lock()
		delete(n.relays.feeds, f.id)
		n.relays.mu.Unlock()
	})
	_ = m.Respond([]byte("ok"))
	n.log.Info("feed start", "app", req.App, "instance", req.Inst, "stream", req.Stream, "to", req.Data)
}

// runFeed sends the subscriber's messages to the relay's subject until the
// publisher leaves, the subscriber is cut off, or the relay stops or goes
// silent.
func (n *Node) runFeed(f *feed, sub *media.Subscriber, req feedRequest) {
	t := time.NewTicker(keepEvery)
	defer t.Stop()
	var evs []media.Event
	var buf []byte
	send := func(typ byte, p *media.Packet) {
		buf = appendFrame(buf[:0], typ, p)
		if p != nil {
			n.relays.feedBytes.Add(uint64(len(p.Payload)))
		}
		_ = n.nc.Publish(req.Data, buf) // copies buf into the connection's buffer
	}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-f.stopped:
			return
		case <-t.C:
			if time.Since(time.Unix(0, f.lastKeep.Load())) > feedTimeout {
				n.log.Info("feed timed out", "stream", req.Stream, "to", req.Data)
				return
			}
		case <-sub.Ready():
			evs = sub.Drain(evs[:0])
			for _, ev := range evs {
				switch ev.Type {
				case media.EventPacket:
					send(framePacket, ev.Packet)
				case media.EventUnpublishNotify:
					send(frameUnpublish, nil)
					return
				}
			}
			if sub.Err() != nil {
				send(frameEnd, nil)
				return
			}
		}
	}
}
