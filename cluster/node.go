package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Node is this process's membership in the cluster: its NATS connection
// (and embedded server), its buckets and the lease on its node tag.
type Node struct {
	cfg Config
	tag string
	log *slog.Logger

	ns *server.Server // nil with an external server
	nc *nats.Conn
	js jetstream.JetStream

	nodes   jetstream.KeyValue // node tag -> holder (the node leases)
	streams jetstream.KeyValue // stream key -> origin node tag
	leases  jetstream.KeyValue // instance key -> owner node tag
	sos     jetstream.KeyValue // persistent shared objects of owned instances (sostore.go)

	self *Lease // this node's tag

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	subs   []*nats.Subscription
	fwdSem chan struct{} // MaxForwarded

	relays relaySet      // relay.go
	holds  holdSet       // owner.go
	links  linkStats     // link.go
	virt   VirtualServer // link.go; nil until SetVirtualServer
}

// Start joins the cluster as node tag: it starts the embedded server (or
// connects to cfg.URL), makes the buckets and takes the lease on tag. A tag
// held by another live node fails the start after cfg.StartTimeout; the tag
// of a node that died frees itself after cfg.LeaseTTL.
func Start(ctx context.Context, cfg Config, tag string, log *slog.Logger) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", tag)
	n := &Node{cfg: cfg, tag: tag, log: log, fwdSem: make(chan struct{}, cfg.MaxForwarded)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.relays.init()
	n.holds.m = map[string]*held{}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := n.start(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	opts := []nats.Option{nats.Name("openfcs " + n.tag), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				n.log.Warn("cluster disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { n.log.Info("cluster reconnected") }),
	}
	url := n.cfg.URL
	if url == "" {
		ns, err := n.embed()
		if err != nil {
			return err
		}
		n.ns = ns
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cluster: connect: %w", err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&n.nodes, "nodes"}, {&n.streams, "streams"}, {&n.leases, "leases"}, {&n.sos, "sharedobjects"}} {
		kv, err := n.bucket(ctx, b.name)
		if err != nil {
			return err
		}
		*b.kv = kv
	}
	n.self, err = n.acquireWait(ctx, n.nodes, n.tag)
	if err != nil {
		return fmt.Errorf("cluster: node tag %q: %w", n.tag, err)
	}
	if err := n.serveFeeds(); err != nil { // relay.go
		return err
	}
	n.log.Info("cluster joined", "embedded", n.ns != nil, "replicas", n.cfg.Replicas, "lease_ttl", n.cfg.LeaseTTL)
	return nil
}

// embed starts the embedded nats-server with JetStream.
func (n *Node) embed() (*server.Server, error) {
	store := n.cfg.StoreDir
	if store == "" {
		store = filepath.Join("cluster-data", n.tag)
	}
	o := &server.Options{
		ServerName: n.tag,
		JetStream:  true,
		StoreDir:   store,
		MaxPayload: int32(n.cfg.MaxPayload),
		NoSigs:     true,
		// Our own connection is in-process; without a client port of
		// its own nats-server never starts its routes, so an empty
		// Listen takes a random loopback port.
		Host: "127.0.0.1",
		Port: -1,
	}
	if n.cfg.Listen != "" {
		host, port, err := splitHostPort(n.cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("cluster.listen: %w", err)
		}
		o.Host, o.Port = host, port
	}
	if n.cfg.RouteListen != "" {
		host, port, err := splitHostPort(n.cfg.RouteListen)
		if err != nil {
			return nil, fmt.Errorf("cluster.route_listen: %w", err)
		}
		o.Cluster = server.ClusterOpts{Name: n.cfg.Name, Host: host, Port: port}
		var routes []string
		for _, r := range n.cfg.Routes {
			if !strings.Contains(r, "://") {
				r = "nats-route://" + r
			}
			routes = append(routes, r)
		}
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
	}
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats-server: %w", err)
	}
	ns.SetLoggerV2(natsLogger{n.log.With("component", "nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(n.cfg.StartTimeout) {
		go ns.Shutdown() // may wait on what did not start
		return nil, errors.New("cluster: nats-server did not start within cluster.start_timeout")
	}
	return ns, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, port, nil
}

// bucket creates (or opens) the key-value bucket name. A cluster that is
// still electing its JetStream leader answers errors for a while: retry
// until ctx ends.
func (n *Node) bucket(ctx context.Context, name string) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:   n.cfg.Name + "_" + name,
		TTL:      n.cfg.LeaseTTL,
		Replicas: n.cfg.Replicas,
		Storage:  jetstream.MemoryStorage,
		History:  1,
	}
	if name == "sharedobjects" {
		// Shared objects outlive every lease and every node's restart.
		cfg.TTL, cfg.Storage = 0, jetstream.FileStorage
	}
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		kv, err := n.js.CreateOrUpdateKeyValue(actx, cfg)
		cancel()
		if err == nil {
			return kv, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: bucket %s: %w", cfg.Bucket, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Tag returns this node's tag.
func (n *Node) Tag() string { return n.tag }

// Close leaves the cluster: it stops the relays and feeds, releases the
// node's leases (so that others need not wait for them to expire), and
// stops the embedded server. Safe to call twice.
func (n *Node) Close() {
	n.cancel()
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.subs = nil
	n.wg.Wait()
	if n.self != nil {
		n.self.Release()
		n.self = nil
	}
	if n.nc != nil {
		_ = n.nc.Drain()
		n.nc.Close()
		n.nc = nil
	}
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
		n.ns = nil
	}
}

// subject names a subject of this cluster.
func (n *Node) subject(parts ...string) string {
	return n.cfg.Name + "." + strings.Join(parts, ".")
}

// natsLogger sends nats-server's log lines to slog: notices at debug
// (they are many and routine), warnings and errors as such.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
