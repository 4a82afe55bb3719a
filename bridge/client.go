package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

// DialConfig configures the client side of RTMP over WebSocket. A zero
// field means its default.
type DialConfig struct {
	// TLS is the TLS configuration for rtmpwss:// (e.g. InsecureSkipVerify
	// for a self-signed development certificate).
	TLS *tls.Config
	// Origin, when set, is sent as the Origin header, as a browser page
	// would; servers check it against their allowed origins.
	Origin string
	// HandshakeTimeout bounds the HTTP upgrade. Default 10s.
	HandshakeTimeout time.Duration
	// MaxMessageSize bounds one message from the server, bytes (a server
	// flush: a keyframe at most). Default 16 MiB.
	MaxMessageSize int
}

// DialFunc returns a dial function for rtmp.ClientConfig.Dial: rtmpws://
// and rtmpwss:// URLs open ws://host[:port]/rtmp and wss://host[:port]/rtmp
// (ports 80 and 443 by default) and carry the RTMP byte stream in binary
// messages:
//
//	rtmp.Dial(ctx, "rtmpws://host:8080/live", rtmp.ClientConfig{Dial: bridge.DialFunc(bridge.DialConfig{})})
func DialFunc(cfg DialConfig) func(ctx context.Context, u *url.URL) (net.Conn, error) {
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 16 << 20
	}
	return func(ctx context.Context, u *url.URL) (net.Conn, error) {
		wsURL, err := WebSocketURL(u)
		if err != nil {
			return nil, err
		}
		d := websocket.Dialer{TLSClientConfig: cfg.TLS, HandshakeTimeout: cfg.HandshakeTimeout}
		var hdr http.Header
		if cfg.Origin != "" {
			hdr = http.Header{"Origin": {cfg.Origin}}
		}
		ws, resp, err := d.DialContext(ctx, wsURL, hdr)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("bridge: dial %s: %w (HTTP %s)", wsURL, err, resp.Status)
			}
			return nil, fmt.Errorf("bridge: dial %s: %w", wsURL, err)
		}
		return newWSConn(ws, int64(cfg.MaxMessageSize), false), nil
	}
}

// WebSocketURL maps an rtmpws:// or rtmpwss:// URL (ws:// and wss://
// too) to the server's WebSocket endpoint.
func WebSocketURL(u *url.URL) (string, error) {
	var scheme, port string
	switch strings.ToLower(u.Scheme) {
	case "rtmpws", "ws":
		scheme, port = "ws", "80"
	case "rtmpwss", "wss":
		scheme, port = "wss", "443"
	default:
		return "", fmt.Errorf("bridge: scheme %q: want rtmpws or rtmpwss", u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return scheme + "://" + host + Path, nil
}
