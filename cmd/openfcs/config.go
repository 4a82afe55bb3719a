package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openfcs/openfcs/admin"
	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/cluster"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/listen"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/tunnel"
	"github.com/openfcs/openfcs/webrtc"
)

// Config is the whole server configuration: openfcs.yaml decoded over the
// defaults, then flags on top.
type Config struct {
	// Listen addresses. An empty address disables that listener. Both
	// ports sniff the first byte (docs/rtmpt.md#ports-and-urls): RTMP and RTMPT (and every
	// HTTP route) are served on each.
	RTMP string `yaml:"rtmp"` // default ":1935"
	HTTP string `yaml:"http"` // default ":8080"
	// TLS serves RTMPS, RTMPTS and HTTPS on one TCP port, and HTTP/3 on
	// the same UDP port. Off unless tls.addr is set.
	TLS TLSConfig `yaml:"tls"`
	// Listen bounds what one client address may take of the ports:
	// connections at once, connections per second.
	Listen listen.Config `yaml:"listen"`
	// Tunnel configures RTMPT sessions and the HTTP server: limits,
	// timeouts, the held-idle low-latency mode.
	Tunnel tunnel.Config `yaml:"tunnel"`
	// Bridge configures the browser side of the HTTP ports: RTMP over
	// WebSocket (allowed origins, message size) and HTTP-FLV.
	Bridge bridge.Config `yaml:"bridge"`
	// DrainTimeout bounds a graceful stop (SIGTERM, docs/operations.md#reload-and-drain):
	// clients are told NetConnection.Connect.AppShutdown and the server
	// waits for them to leave, then closes what remains. Default
	// defaultDrainTimeout.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// Admin is the operator's listener: the admin API, /metrics and the
	// console, behind a token (docs/operations.md#admin-api).
	Admin admin.Config `yaml:"admin"`
	// WebRTC configures WHIP and WHEP: the shared UDP port, ICE-TCP,
	// public addresses, tokens and limits (docs/webrtc.md).
	WebRTC webrtc.Config `yaml:"webrtc"`
	// Log output.
	Log LogConfig `yaml:"log"`
	// Instance configures applications, instances and live streams
	// (instance.apps is the applications folder, default ./applications).
	Instance instance.Config `yaml:"instance"`
	// Session configures RTMP sessions: limits and timeouts.
	Session rtmp.Config `yaml:"session"`
	// reparse reads the configuration again as the command line said
	// (a reload); nil for a Config built by hand.
	reparse func() (Config, error)
	// cpuProfile: --cpuprofile, a file the CPU profile of the whole run
	// goes to (for benchmarks under load, where a profile endpoint on a
	// port would be one more thing to wire into every script).
	cpuProfile string
	// SSAS configures application scripts (main.asc): time budget,
	// limits, load() path, outgoing connection allow-list.
	SSAS ssas.Config `yaml:"ssas"`
	// Cluster joins several nodes behind one load balancer, on NATS
	// (docs/cluster.md). Off by default.
	Cluster cluster.Config `yaml:"cluster"`
}

// TLSConfig configures the TLS listener.
type TLSConfig struct {
	// Addr is the TCP (and UDP, for HTTP/3) listen address; "" disables
	// TLS. `make run` uses :8443.
	Addr string `yaml:"addr"`
	// CertFile and KeyFile are PEM files; both are required with Addr.
	// `make run` generates a self-signed development pair when none is
	// given (go run ./internal/tlsutil/gencert).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DisableHTTP3 turns off HTTP/3 on the UDP port (and its Alt-Svc
	// advertisement). Default false: HTTP/3 on.
	DisableHTTP3 bool `yaml:"disable_http3"`
	// MinVersion and MaxVersion bound the TLS versions of the TCP port:
	// "1.0", "1.1", "1.2" or "1.3". Defaults "1.2" and "1.3". HTTP/3 is
	// TLS 1.3 whatever they say.
	MinVersion string `yaml:"min_version"`
	MaxVersion string `yaml:"max_version"`
}

// WithDefaults returns c with every zero field set to its default.
func (c TLSConfig) WithDefaults() TLSConfig {
	if c.MinVersion == "" {
		c.MinVersion = "1.2"
	}
	if c.MaxVersion == "" {
		c.MaxVersion = "1.3"
	}
	return c
}

// versions returns the configured version bounds.
func (c TLSConfig) versions() (minV, maxV uint16, err error) {
	if minV, err = tlsutil.ParseVersion(c.MinVersion); err != nil {
		return 0, 0, fmt.Errorf("tls.min_version: %w", err)
	}
	if maxV, err = tlsutil.ParseVersion(c.MaxVersion); err != nil {
		return 0, 0, fmt.Errorf("tls.max_version: %w", err)
	}
	if minV > maxV {
		return 0, 0, fmt.Errorf("tls.min_version %s is above tls.max_version %s", c.MinVersion, c.MaxVersion)
	}
	return minV, maxV, nil
}

// LogConfig selects the slog handler.
type LogConfig struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// defaultDrainTimeout is drain_timeout's default: long enough for every
// client to read its AppShutdown and for publishers' recordings to end,
// short enough for a restart. contrib/openfcs.service's TimeoutStopSec
// must exceed it (TestServiceStopTimeoutCoversDrain).
const defaultDrainTimeout = 10 * time.Second

func defaultConfig() Config {
	return Config{
		RTMP:         ":1935",
		HTTP:         ":8080",
		Admin:        admin.Config{Addr: "127.0.0.1:8086"},
		DrainTimeout: defaultDrainTimeout,
		Log:          LogConfig{Format: "text", Level: "info"},
		Instance:     instance.Config{AppsDir: "applications"},
	}
}

// effective returns cfg with every package's defaults filled in: what
// the server actually runs with, and what openfcs.yaml documents.
func (c Config) effective() Config {
	c.TLS = c.TLS.WithDefaults()
	c.Admin = c.Admin.WithDefaults()
	c.Instance = c.Instance.WithDefaults()
	c.Session = c.Session.WithDefaults()
	c.Listen = c.Listen.WithDefaults()
	c.Tunnel = c.Tunnel.WithDefaults()
	c.Bridge = c.Bridge.WithDefaults()
	c.WebRTC = c.WebRTC.WithDefaults()
	c.SSAS = c.SSAS.WithDefaults()
	c.Cluster = c.Cluster.WithDefaults()
	return c
}

// loadConfig decodes a YAML file over cfg, rejecting unknown keys.
func loadConfig(path string, cfg *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := parseConfig(b, cfg); err != nil {
		if ke, ok := errors.AsType[keyErrors](err); ok {
			return fmt.Errorf("config %w", fileErrors{path, ke})
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// parseConfig decodes YAML over cfg, rejecting unknown keys. An empty
// document changes nothing.
func parseConfig(b []byte, cfg *Config) error {
	if err := checkYAML(b, cfg); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// serveFlags are the flags of `openfcs serve`.
type serveFlags struct {
	fs                                       *flag.FlagSet
	config, rtmp, http, tls, tlsCert, tlsKey *string
	apps, logFormat, logLevel, admin         *string
	cpuProfile                               *string
}

func newServeFlags(out io.Writer) *serveFlags {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	f := &serveFlags{fs: fs,
		config:     fs.String("config", "", "YAML config file (openfcs.yaml documents every key with its default)"),
		rtmp:       fs.String("rtmp", "", "RTMP listen address (default :1935)"),
		http:       fs.String("http", "", "HTTP listen address (default :8080)"),
		tls:        fs.String("tls", "", "TLS listen address for RTMPS, RTMPTS, HTTPS and HTTP/3 (default off)"),
		tlsCert:    fs.String("tls-cert", "", "TLS certificate PEM file"),
		tlsKey:     fs.String("tls-key", "", "TLS private key PEM file"),
		apps:       fs.String("apps", "", "applications folder (default ./applications)"),
		admin:      fs.String("admin", "", "admin listen address: admin API, /metrics, console (default 127.0.0.1:8086; \"\" disables; needs admin.token or OPENFCS_ADMIN_TOKEN)"),
		logFormat:  fs.String("log-format", "", "log format: text or json"),
		logLevel:   fs.String("log-level", "", "log level: debug, info, warn, error"),
		cpuProfile: fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)"),
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: openfcs serve [flags]\n\n"+
			"Runs the server over the applications folder. Flags win over the\n"+
			"config file; keys without a flag are set in the file.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return f
}

func parseServe(args []string, stderr io.Writer) (Config, error) {
	f := newServeFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		return Config{}, err
	}
	cfgPath, rtmpAddr, httpAddr, tlsAddr, tlsCert, tlsKey := f.config, f.rtmp, f.http, f.tls, f.tlsCert, f.tlsKey
	apps, logFormat, logLevel, adminAddr := f.apps, f.logFormat, f.logLevel, f.admin
	fs := f.fs
	cfg := defaultConfig()
	if *cfgPath != "" {
		if err := loadConfig(*cfgPath, &cfg); err != nil {
			return Config{}, err
		}
	}
	// Flags win over the file, but only those given.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "rtmp":
			cfg.RTMP = *rtmpAddr
		case "http":
			cfg.HTTP = *httpAddr
		case "tls":
			cfg.TLS.Addr = *tlsAddr
		case "tls-cert":
			cfg.TLS.CertFile = *tlsCert
		case "tls-key":
			cfg.TLS.KeyFile = *tlsKey
		case "apps":
			cfg.Instance.AppsDir = *apps
		case "log-format":
			cfg.Log.Format = *logFormat
		case "log-level":
			cfg.Log.Level = *logLevel
		case "admin":
			cfg.Admin.Addr = *adminAddr
		}
	})
	if tok := os.Getenv("OPENFCS_ADMIN_TOKEN"); tok != "" {
		cfg.Admin.Token = admin.Secret(tok)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	// SIGHUP reads the file again, with the same flags on top.
	cfg.reparse = func() (Config, error) { return parseServe(args, io.Discard) }
	cfg.cpuProfile = *f.cpuProfile
	return cfg, nil
}

// validate reports settings that cannot work together.
func (c Config) validate() error {
	if c.TLS.Addr != "" && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		return errors.New("tls.addr needs tls.cert_file and tls.key_file (make run generates a development pair)")
	}
	if _, _, err := c.TLS.WithDefaults().versions(); err != nil {
		return err
	}
	if err := checkNegative(reflect.ValueOf(c), ""); err != nil {
		return err
	}
	if err := c.WebRTC.Validate(); err != nil {
		return err
	}
	if err := c.Bridge.Validate(); err != nil {
		return err
	}
	if err := c.Cluster.Validate(); err != nil {
		return err
	}
	return c.Tunnel.Validate()
}

// newLoggerVar returns the server's logger and its level as a variable,
// which a configuration reload sets.
func newLoggerVar(c LogConfig, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	lvl := new(slog.LevelVar)
	if err := lvl.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), lvl, nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), lvl, nil
	}
	return nil, nil, fmt.Errorf("log format %q: want text or json", c.Format)
}
