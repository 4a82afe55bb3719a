package listen

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/openfcs/openfcs/internal/iplimit"
)

// Config bounds what one client address may take of the ports: without
// it one address could hold every connection the server allows (10,000
// one-byte sockets used to lock every RTMP client out for the handshake
// timeout). A zero field means its default; a negative one, no bound.
type Config struct {
	// MaxConnsPerIP is the most sockets one address (an IPv6 /64) holds
	// open at once: RTMP, RTMPS and HTTP connections alike, counted from
	// accept to close. Default 1000: far above what one user opens, still
	// room for an office or a carrier-grade NAT behind one address, and
	// for the e2e tests, which open over a hundred from 127.0.0.1.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// AcceptRate is the connections per second one address may open,
	// sustained; AcceptBurst how many it may open at once above that.
	// Each connection costs a goroutine and a handshake before it can be
	// judged. Defaults 200 and 1000.
	AcceptRate  float64 `yaml:"accept_rate"`
	AcceptBurst int     `yaml:"accept_burst"`
	// ExemptLoopback exempts 127.0.0.0/8 and ::1 from these limits and
	// the tunnel's max_sessions_per_ip: for a reverse proxy or a load
	// generator on the same host. Default false: a local process is no
	// more trusted than a remote one unless configured.
	ExemptLoopback bool `yaml:"exempt_loopback"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 1000
	}
	if c.AcceptRate == 0 {
		c.AcceptRate = 200
	}
	if c.AcceptBurst == 0 {
		c.AcceptBurst = 1000
	}
	return c
}

func (c Config) iplimit() iplimit.Config {
	ic := iplimit.Config{ExemptLoopback: c.ExemptLoopback}
	if c.MaxConnsPerIP > 0 {
		ic.MaxPerIP = c.MaxConnsPerIP
	}
	if c.AcceptRate > 0 && c.AcceptBurst > 0 {
		ic.Rate, ic.Burst = c.AcceptRate, c.AcceptBurst
	}
	return ic
}

// refuseLogEvery is the least time between two log lines of one refusal
// reason: a flood is one line every few seconds, with its count.
const refuseLogEvery = 5 * time.Second

// refusals aggregates the log lines of refused connections.
type refusals struct {
	log    *slog.Logger
	mu     sync.Mutex
	counts map[string]int
	last   map[string]time.Time
}

func (r *refusals) add(reason string, remote net.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts, r.last = map[string]int{}, map[string]time.Time{}
	}
	r.counts[reason]++
	if now := time.Now(); now.Sub(r.last[reason]) >= refuseLogEvery {
		r.log.Warn("refused connections", "reason", reason, "count", r.counts[reason], "last_remote", remote.String())
		r.last[reason] = now
		r.counts[reason] = 0
	}
}
