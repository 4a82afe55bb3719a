package ssas

import "time"

// Config configures application scripts. A zero field means its default.
type Config struct {
	// MaxScriptTime is the wall-clock budget of one script entry (top-level
	// load, a handler, a timer, a client method); past it the script is
	// interrupted (docs/ssas.md#time-budget, FCS MaxTimeOut). A
	// backtracking regular expression stops matching after it too (the
	// first Host of the process sets that for all). Default 5s.
	MaxScriptTime time.Duration `yaml:"max_script_time"`
	// UnloadAfterInterrupts unloads an instance whose script was
	// interrupted this many times (a runaway script); the next connect
	// loads it afresh. Default 1.
	UnloadAfterInterrupts int `yaml:"unload_after_interrupts"`
	// MaxCallStack caps the script call depth: deeper recursion throws a
	// RangeError instead of exhausting the Go stack. Default 1000.
	MaxCallStack int `yaml:"max_call_stack"`
	// OnConnectErrorPolicy is what an exception in application.onConnect
	// does to the client: "reject" (default) or "pending" (docs/ssas.md#accepting-and-rejecting-connections).
	OnConnectErrorPolicy string `yaml:"on_connect_error_policy"`
	// ScriptLibPath lists folders searched by load() after the
	// application folder (FCS ScriptLibPath).
	ScriptLibPath []string `yaml:"script_lib_path"`
	// MaxTimers bounds the intervals and timeouts of one instance.
	// Default 1000.
	MaxTimers int `yaml:"max_timers"`
	// MaxFileRead bounds what File and LoadVars read at once, bytes.
	// Default 16 MiB.
	MaxFileRead int `yaml:"max_file_read"`
	// HTTPTimeout bounds a LoadVars or XML request and a Flash Remoting
	// request. Default 10s.
	HTTPTimeout time.Duration `yaml:"http_timeout"`
	// RemotingMaxBody bounds a Flash Remoting request or answer, bytes:
	// an answer is read whole and becomes script values. Default 4 MiB.
	RemotingMaxBody int `yaml:"remoting_max_body"`
	// RemotingMaxRequests bounds the Flash Remoting requests one instance
	// has running at once; more wait their turn. Default 8.
	RemotingMaxRequests int `yaml:"remoting_max_requests"`
	// RemotingMaxQueued bounds the Flash Remoting calls of one instance
	// waiting to be sent; past it a call fails at once with
	// NetConnection.Call.Failed. Default 1000.
	RemotingMaxQueued int `yaml:"remoting_max_queued"`
	// ConnectTimeout bounds a server-side NetConnection's connect.
	// Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// AllowHosts lists hosts or CIDR ranges that NetConnection and
	// LoadVars may reach even though they are loopback or private;
	// public addresses and this server itself are always allowed
	// (docs/ssas.md#other-guards).
	AllowHosts []string `yaml:"allow_hosts"`
	// IncludeCompat rewrites `#include "x"` lines to load("x") with a
	// warning instead of failing to compile (docs/ssas.md#globals-and-other-classes). Default false.
	IncludeCompat bool `yaml:"include_compat"`
	// MaxConvertNodes bounds the objects, arrays and dates made from the
	// AMF values of one message (connect or call arguments, a
	// shared-object value or send) when they are handed to the script.
	// Shared references convert once, so only a value that really is
	// that large reaches it; the message is then refused. Default
	// 100000 (amf max_expand).
	MaxConvertNodes int `yaml:"max_convert_nodes"`
	// MaxConvertBytes bounds the text and ByteArray bytes made for the
	// script from one message, for the same reason. Default 16 MiB (the
	// largest RTMP message).
	MaxConvertBytes int `yaml:"max_convert_bytes"`
	// TraceBuffer is the number of trace lines kept per instance for the
	// admin view. Default 100.
	TraceBuffer int `yaml:"trace_buffer"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxScriptTime <= 0 {
		c.MaxScriptTime = 5 * time.Second
	}
	if c.UnloadAfterInterrupts <= 0 {
		c.UnloadAfterInterrupts = 1
	}
	if c.MaxCallStack <= 0 {
		c.MaxCallStack = 1000
	}
	if c.OnConnectErrorPolicy == "" {
		c.OnConnectErrorPolicy = "reject"
	}
	if c.MaxTimers <= 0 {
		c.MaxTimers = 1000
	}
	if c.MaxFileRead <= 0 {
		c.MaxFileRead = 16 << 20
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = 10 * time.Second
	}
	if c.RemotingMaxBody <= 0 {
		c.RemotingMaxBody = 4 << 20
	}
	if c.RemotingMaxRequests <= 0 {
		c.RemotingMaxRequests = 8
	}
	if c.RemotingMaxQueued <= 0 {
		c.RemotingMaxQueued = 1000
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	// Empty rather than nil, so that the defaults equal a file that
	// spells out `[]` (openfcs.yaml).
	if c.ScriptLibPath == nil {
		c.ScriptLibPath = []string{}
	}
	if c.AllowHosts == nil {
		c.AllowHosts = []string{}
	}
	if c.MaxConvertNodes <= 0 {
		c.MaxConvertNodes = 100_000
	}
	if c.MaxConvertBytes <= 0 {
		c.MaxConvertBytes = 16 << 20
	}
	if c.TraceBuffer <= 0 {
		c.TraceBuffer = 100
	}
	return c
}
