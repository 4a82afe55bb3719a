package cluster

import (
	"fmt"
	"time"
)

// Config configures a Node. A zero field means its documented default;
// with Enabled false nothing here is used and the server runs alone.
type Config struct {
	// Enabled turns cluster mode on. Default false: one node, no NATS.
	// Each node of a cluster needs its own tunnel.node_tag: it names the
	// node in session ids, subjects and leases.
	Enabled bool `yaml:"enabled"`
	// Name prefixes the cluster's NATS subjects and key-value buckets, so
	// that several openfcs clusters may share one NATS system; the
	// embedded server also uses it as its cluster name. [0-9A-Za-z_-],
	// default "openfcs".
	Name string `yaml:"name"`
	// URL is an external NATS server ("nats://host:4222", comma-separated
	// for several). Empty (the default) embeds nats-server in the process.
	URL string `yaml:"url"`
	// Listen is the embedded server's client address (for nats CLI tools
	// and external clients). Empty (the default): a random loopback port
	// (the node itself talks to its embedded server in-process).
	Listen string `yaml:"listen"`
	// RouteListen is the embedded server's cluster (route) address, which
	// the other nodes' Routes name. Empty (the default): a cluster of one.
	RouteListen string `yaml:"route_listen"`
	// Routes are the other nodes' route addresses ("nats-route://host:6222"
	// or "host:6222"). A node may list itself; nats-server ignores it.
	Routes []string `yaml:"routes"`
	// StoreDir holds the embedded server's JetStream files. Default
	// "cluster-data/<node tag>" under the working directory.
	StoreDir string `yaml:"store_dir"`
	// Replicas is how many nodes keep a copy of each key-value bucket:
	// 1 (the default) on one node; 3 in a three-node cluster survives the
	// loss of one node. At most 5.
	Replicas int `yaml:"replicas"`
	// LeaseTTL is how long a lease (a node's tag, a stream's origin, an
	// instance's owner) lives unless its holder renews it; the holder
	// renews every third of it and gives it up a quarter of it before it
	// can expire (docs/cluster.md#partitions). A dead node's leases are free
	// after at most this long. Default 10s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// ForwardTimeout bounds one forwarded RTMPT request, the owner's
	// answer included. Past it the client gets 503 and retries. Default 10s.
	ForwardTimeout time.Duration `yaml:"forward_timeout"`
	// MaxForwarded bounds the requests forwarded by other nodes that this
	// node serves at once; beyond it they answer 503. Default 1024.
	MaxForwarded int `yaml:"max_forwarded"`
	// MaxPayload is the embedded server's largest message: it must hold a
	// forwarded request body (tunnel.max_body_size), a keyframe of a
	// relayed stream and any message of a relayed session. With an external server its own limit applies.
	// Default 8 MiB.
	MaxPayload int `yaml:"max_payload"`
	// StartTimeout bounds joining the cluster at start: the routes, the
	// JetStream leader election, the buckets. Default 60s.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// RelayIdle is how long a node keeps pulling a stream from its origin
	// after its last local player left. Default 5s.
	RelayIdle time.Duration `yaml:"relay_idle"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = "openfcs"
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 10 * time.Second
	}
	if c.MaxForwarded <= 0 {
		c.MaxForwarded = 1024
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 8 << 20
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.RelayIdle <= 0 {
		c.RelayIdle = 5 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if !c.Enabled {
		return nil
	}
	for i := 0; i < len(c.Name); i++ {
		b := c.Name[i]
		if ok := b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '_' || b == '-'; !ok {
			return fmt.Errorf("cluster.name %q: character %q is not [0-9A-Za-z_-]", c.Name, b)
		}
	}
	if c.Replicas > 5 {
		return fmt.Errorf("cluster.replicas %d: JetStream keeps at most 5", c.Replicas)
	}
	if c.LeaseTTL < time.Second {
		return fmt.Errorf("cluster.lease_ttl %v: below 1s leases would expire between renewals", c.LeaseTTL)
	}
	if c.MaxPayload > 64<<20 {
		return fmt.Errorf("cluster.max_payload %d: nats-server allows at most 64 MiB", c.MaxPayload)
	}
	if c.URL != "" && (c.Listen != "" || c.RouteListen != "" || len(c.Routes) > 0) {
		return fmt.Errorf("cluster.url names an external NATS server: listen, route_listen and routes are for the embedded one")
	}
	return nil
}
