package tunnel

import (
	"fmt"
	"time"
)

// Config configures a Server. A zero field means its documented default.
// Every limit of the tunnel is here, with its reason.
type Config struct {
	// NodeTag prefixes every session id ("<tag>-<random>") so that a
	// cluster front end can route a request to the node that owns the
	// session (docs/rtmpt.md#server-design, sticky sessions). 1 to 16 characters of
	// [0-9A-Za-z]. Default "n0".
	NodeTag string `yaml:"node_tag"`
	// MaxSessions is the most open sessions; /open/1 beyond it answers 503.
	// Default 10000.
	MaxSessions int `yaml:"max_sessions"`
	// MaxSessionsPerIP is the most open sessions one client address (an
	// IPv6 /64) holds; /open/1 beyond it answers 503. Without it one
	// address could take all of MaxSessions (10,000 /opens in 2 s used to
	// lock every RTMPT client out for the session timeout). Default 1000:
	// room for many users behind one NAT. Behind a reverse proxy every
	// session comes from the proxy's address: raise it, or exempt
	// loopback (listen.exempt_loopback) when the proxy is local.
	MaxSessionsPerIP int `yaml:"max_sessions_per_ip"`
	// ExemptLoopback exempts loopback addresses from MaxSessionsPerIP;
	// set from listen.exempt_loopback, which governs every per-address
	// limit.
	ExemptLoopback bool `yaml:"-"`
	// SessionTimeout ends a session that got no request for this long: the
	// client crashed or the tab closed (docs/rtmpt.md#errors-and-expiry). Default 30s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// MaxBodySize is the largest request body; larger ones answer 413.
	// ffmpeg sends up to 10 media messages per body, librtmp one whole
	// message, so it must hold a keyframe. Default 4 MiB.
	MaxBodySize int `yaml:"max_body_size"`
	// MaxResponseSize bounds the RTMP bytes of one response; the rest waits
	// for the next poll (Red5 uses 32 KiB). Larger bodies mean fewer
	// requests per delivered byte. Default 256 KiB.
	MaxResponseSize int `yaml:"max_response_size"`
	// MaxPendingOutput bounds the bytes queued for a session between polls.
	// Past it a write of the RTMP session blocks until a poll drains the
	// queue or the session's write deadline passes; the RTMP layer then
	// drops the client as a slow consumer. Default 1 MiB.
	MaxPendingOutput int `yaml:"max_pending_output"`
	// MaxPendingInput bounds /send bytes not yet read by the RTMP session,
	// bodies parked ahead of a sequence gap included; a /send that would
	// exceed it waits for the session to read, at most RequestTimeout, then
	// answers 503. Default 8 MiB.
	MaxPendingInput int `yaml:"max_pending_input"`
	// MaxParked is how many requests that arrived ahead of a sequence gap
	// are kept waiting for it (docs/rtmpt.md#sessions-and-sequence-numbers). When more arrive the gap is
	// declared lost and skipped. Default 8.
	MaxParked int `yaml:"max_parked"`
	// HoldIdle, when positive, holds an /idle (or /send) that finds nothing
	// to return for up to this long, answering as soon as output is queued
	// (low-latency mode, off by default: RTMPT is short-poll, docs/rtmpt.md#errors-and-expiry,
	// and a held request ties up a proxy connection).
	HoldIdle time.Duration `yaml:"hold_idle"`
	// RequestTimeout bounds reading one request, headers and body, so that
	// a client sending byte by byte (slowloris) is cut off; it also bounds
	// waiting for a keep-alive connection's next request. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// SniffTimeout bounds waiting for the first byte of a connection on a
	// shared port (listen.Mux). A connection that says nothing is handed to RTMP,
	// whose handshake timeout then applies. Default 5s.
	SniffTimeout time.Duration `yaml:"sniff_timeout"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.NodeTag == "" {
		c.NodeTag = "n0"
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10000
	}
	if c.MaxSessionsPerIP == 0 {
		c.MaxSessionsPerIP = 1000
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 30 * time.Second
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = 4 << 20
	}
	if c.MaxResponseSize <= 0 {
		c.MaxResponseSize = 256 << 10
	}
	if c.MaxPendingOutput <= 0 {
		c.MaxPendingOutput = 1 << 20
	}
	if c.MaxPendingInput <= 0 {
		c.MaxPendingInput = 8 << 20
	}
	if c.MaxParked <= 0 {
		c.MaxParked = 8
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.SniffTimeout <= 0 {
		c.SniffTimeout = 5 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if len(c.NodeTag) > 16 {
		return fmt.Errorf("tunnel: node_tag %q: longer than 16 characters", c.NodeTag)
	}
	for i := 0; i < len(c.NodeTag); i++ {
		if !isAlnum(c.NodeTag[i]) {
			return fmt.Errorf("tunnel: node_tag %q: character %q at %d is not [0-9A-Za-z]", c.NodeTag, c.NodeTag[i], i)
		}
	}
	return nil
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}
