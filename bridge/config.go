package bridge

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Path is where the WebSocket endpoint listens on every HTTP port:
// ws://host:port/rtmp and wss://host:port/rtmp.
const Path = "/rtmp"

// Config configures a Server. A zero field means its documented default.
// Every limit of the bridge is here, with its reason; the RTMP session's
// own limits (chunk and message sizes, AMF, queues, timeouts) apply to
// WebSocket sessions as to TCP ones.
type Config struct {
	// AllowedOrigins lists the Origin header values a WebSocket may come
	// from, as "scheme://host[:port]" (e.g. "https://example.com"). Empty:
	// only pages of the server's own host (the Origin's host equals the
	// request's Host header). "*" allows every origin. A request without
	// an Origin header is not from a browser page and is allowed: the
	// check protects browsers' users, not the server. Default empty.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxMessageSize bounds one WebSocket message from a client, bytes.
	// Messages are streamed into the RTMP reader, never buffered whole,
	// so this is hygiene, not memory: a client library sends one flush
	// (at most a keyframe) per message. Larger closes the socket (1009).
	// Default 4 MiB.
	MaxMessageSize int `yaml:"max_message_size"`
	// MaxFLVPlayers bounds the HTTP-FLV responses streaming at once;
	// beyond it a request answers 503. Default 10000.
	MaxFLVPlayers int `yaml:"max_flv_players"`
	// FLVAllowOrigin is the Access-Control-Allow-Origin header of HTTP-FLV
	// responses, so that players on other pages (flv.js, mpegts.js) may
	// fetch them; "" sends none. Default "*".
	FLVAllowOrigin string `yaml:"flv_allow_origin"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.AllowedOrigins == nil {
		c.AllowedOrigins = []string{} // as YAML decodes "[]"
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 4 << 20
	}
	if c.MaxFLVPlayers <= 0 {
		c.MaxFLVPlayers = 10000
	}
	if c.FLVAllowOrigin == "" {
		c.FLVAllowOrigin = "*"
	}
	return c
}

// Inherited are the settings HTTP-FLV players share with RTMP sessions
// and instance clients; the wiring copies them from those sections of
// the configuration, so each is configured once. A zero field means its
// default.
type Inherited struct {
	// WriteTimeout bounds one flush to an HTTP-FLV player; a player that
	// blocks a flush this long is cut off as a slow consumer
	// (session.write_timeout). Default 10s.
	WriteTimeout time.Duration
	// MergeWrite is the least time between two flushes to an HTTP-FLV
	// player, so that a tick's audio and video leave in one write
	// (session.merge_write); negative: a flush per wake-up. Default 40ms.
	MergeWrite time.Duration
	// AcceptTimeout bounds waiting for the application script's decision
	// on an HTTP-FLV request (instance.pending_timeout). Default 1m.
	AcceptTimeout time.Duration
}

func (i Inherited) withDefaults() Inherited {
	if i.WriteTimeout <= 0 {
		i.WriteTimeout = 10 * time.Second
	}
	if i.MergeWrite == 0 {
		i.MergeWrite = 40 * time.Millisecond
	}
	if i.AcceptTimeout <= 0 {
		i.AcceptTimeout = time.Minute
	}
	return i
}

// Validate reports origins that can never match.
func (c Config) Validate() error {
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("bridge: allowed_origins: %q is not scheme://host[:port]", o)
		}
	}
	return nil
}

// originAllowed applies AllowedOrigins to one upgrade request.
func originAllowed(allowed []string, origin, host string) bool {
	if origin == "" {
		return true // not a browser page (see AllowedOrigins)
	}
	if len(allowed) == 0 {
		u, err := url.Parse(origin)
		return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}
