package rtmp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DialTLS returns a ClientConfig.Dial function for rtmps:// URLs: RTMP
// inside TLS, port 443 by default (as ffmpeg and OBS use rtmps://; the
// HTTPS tunnel is rtmpts://, see package tunnel). cfg may be nil; its
// ServerName defaults to the URL's host.
func DialTLS(cfg *tls.Config) func(ctx context.Context, u *url.URL) (net.Conn, error) {
	return func(ctx context.Context, u *url.URL) (net.Conn, error) {
		if s := strings.ToLower(u.Scheme); s != "rtmps" {
			return nil, fmt.Errorf("rtmp: DialTLS: scheme %q: want rtmps", u.Scheme)
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
		c := cfg.Clone()
		if c == nil {
			c = &tls.Config{}
		}
		if c.ServerName == "" {
			c.ServerName = u.Hostname()
		}
		d := tls.Dialer{Config: c}
		return d.DialContext(ctx, "tcp", host)
	}
}
