package admin

import (
	"log/slog"
	"time"
)

// Config configures the admin listener. A zero field means its documented
// default.
type Config struct {
	// Addr is the listen address of the admin API, the metrics and the
	// console; "" disables the listener. The server's default is
	// "127.0.0.1:8086" (flag --admin); keep it on loopback or a private
	// network. The listener does not start without a token.
	Addr string `yaml:"addr"`
	// Token is the secret every admin request carries ("Authorization:
	// Bearer <token>", or apswd=<token> with auser=User). The environment
	// variable OPENFCS_ADMIN_TOKEN, when set, wins over the file. Empty:
	// the admin listener stays off (one warning at start).
	Token Secret `yaml:"token"`
	// User is the administrator name FMS-style requests give as auser.
	// Default "admin".
	User string `yaml:"user"`
	// RequestTimeout bounds reading a request and writing a response
	// (server-sent event streams excepted). Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxSOValueBytes bounds the JSON of one shared-object slot in a
	// response; a larger value is shown as a note of its size. Default
	// 65536.
	MaxSOValueBytes int `yaml:"max_so_value_bytes"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.User == "" {
		c.User = "admin"
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxSOValueBytes <= 0 {
		c.MaxSOValueBytes = 64 << 10
	}
	return c
}

// Secret is a string that logs as "[redacted]" (slog.LogValuer), so a
// configuration dump never prints the token.
type Secret string

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value {
	if s == "" {
		return slog.StringValue("")
	}
	return slog.StringValue("[redacted]")
}
