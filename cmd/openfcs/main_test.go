package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/tlsutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp (under fiber) keeps one process-wide goroutine for its
		// cached Date header, and its worker-pool cleaner notices Stop only
		// after a sleep of up to 10 s.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "openfcs ") {
		t.Fatalf("version printed %q", out.String())
	}
}

func TestConfigRejectsUnknownKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("rtmp: \":1\"\nno_such_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseServe([]string{"--config", p}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no_such_key") {
		t.Fatalf("err = %v, want unknown key error", err)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("rtmp: \":1\"\nhttp: \":2\"\nsession:\n  chunk:\n    max_message_size: 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServe([]string{"--config", p, "--rtmp", ":3"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTMP != ":3" || cfg.HTTP != ":2" || cfg.Session.Chunk.MaxMessageSize != 1000 {
		t.Fatalf("cfg = %+v", cfg)
	}
}

func TestServeStartsAndStopsOnCancel(t *testing.T) {
	apps := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--apps", apps, "--log-format", "json"}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	if !strings.Contains(logs.String(), `"proto":"rtmp","addr":"127.0.0.1:`) {
		t.Errorf("no rtmp listening line in:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

// --cpuprofile writes a profile of the run that go tool pprof reads.
func TestServeCPUProfile(t *testing.T) {
	apps := t.TempDir()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	ctx, cancel := context.WithCancel(context.Background())
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--apps", apps, "--log-format", "json",
			"--cpuprofile", prof}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	// A profile is a gzipped protocol buffer.
	if len(b) < 20 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("not a profile: %d bytes starting %x", len(b), b[:min(len(b), 2)])
	}
}

// TestDefaultConfigFile keeps openfcs.yaml equal to the built-in defaults:
// every key present, every value the one the server runs with.
func TestDefaultConfigFile(t *testing.T) {
	var fromFile Config
	if err := loadConfig("../../openfcs.yaml", &fromFile); err != nil {
		t.Fatal(err)
	}
	want := defaultConfig().effective()
	// Compared as YAML: the keys are what the file documents, and some
	// config types hold interface values reflect.DeepEqual should not judge.
	got, err := yaml.Marshal(fromFile)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, exp) {
		t.Fatalf("openfcs.yaml differs from the defaults (add or fix the key):\nfile:\n%s\ndefaults:\n%s", got, exp)
	}
}

func TestTLSNeedsCertificate(t *testing.T) {
	_, err := parseServe([]string{"--tls", "127.0.0.1:0"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "cert_file") {
		t.Fatalf("err = %v, want a missing certificate error", err)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("tunnel:\n  node_tag: \"a/b\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseServe([]string{"--config", p}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "node_tag") {
		t.Fatalf("err = %v, want a node_tag error", err)
	}
}

// TestServeTLSListeners: with --tls the server logs a listening line for
// the TLS port (rtmps: RTMPS, RTMPTS, HTTPS) and for HTTP/3 on the same
// port number, and answers HTTPS with Alt-Svc; the health check works on
// the plain HTTP port through the fiber app.
func TestServeTLSListeners(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := tlsutil.WriteSelfSigned(cert, key); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := testutil.NewLogBuffer(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--rtmp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--tls", "127.0.0.1:0",
			"--tls-cert", cert, "--tls-key", key, "--apps", dir, "--log-format", "json"}, logs, logs)
	}()
	testutil.WaitFor(t, 10*time.Second, "the started line", func() bool { return strings.Contains(logs.String(), `"msg":"started"`) })
	addrs := map[string]string{}
	for line := range strings.Lines(logs.String()) {
		var l struct{ Msg, Proto, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
			addrs[l.Proto] = l.Addr
		}
	}
	if addrs["rtmps"] == "" || addrs["http3"] == "" || addrs["http"] == "" || addrs["rtmp"] == "" {
		t.Fatalf("listening lines: %v", addrs)
	}
	_, tport, _ := net.SplitHostPort(addrs["rtmps"])
	_, uport, _ := net.SplitHostPort(addrs["http3"])
	if tport != uport {
		t.Errorf("HTTP/3 on UDP %s, TLS on TCP %s: want the same port", uport, tport)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get("https://" + addrs["rtmps"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Alt-Svc"); !strings.Contains(got, `h3=":`+tport+`"`) {
		t.Errorf("Alt-Svc %q", got)
	}
	hc.CloseIdleConnections()
	resp, err = http.Get("http://" + addrs["http"] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok\n" {
		t.Errorf("/healthz on the HTTP port = %q", b)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

// tls.min_version and tls.max_version: bad values are refused at start
// naming the key, and the bounds reach the TLS port.
func TestTLSVersionKeys(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := tlsutil.WriteSelfSigned(cert, key); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"tls:\n  min_version: \"1.4\"\n", "tls.min_version"},
		{"tls:\n  max_version: \"TLS1.3\"\n", "tls.max_version"},
		{"tls:\n  min_version: \"1.3\"\n  max_version: \"1.2\"\n", "tls.min_version 1.3 is above tls.max_version 1.2"},
	} {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := parseServe([]string{"--config", p}, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.yaml, err, tc.want)
		}
	}

	conf, _, err := serverTLS(TLSConfig{CertFile: cert, KeyFile: key, MaxVersion: "1.2"})
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(client *tls.Config) (uint16, error) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() { _ = tls.Server(a, conf).Handshake() }()
		c := tls.Client(b, client)
		err := c.Handshake()
		return c.ConnectionState().Version, err
	}
	if v, err := handshake(&tls.Config{InsecureSkipVerify: true}); err != nil || v != tls.VersionTLS12 { //nolint:gosec // self-signed test server
		t.Errorf("max_version 1.2: negotiated %x, %v; want TLS 1.2", v, err)
	}
	if _, err := handshake(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}); err == nil { //nolint:gosec // self-signed test server
		t.Error("max_version 1.2 accepted a TLS 1.3-only client")
	}
	if h3 := h3TLS(conf); h3.MinVersion != tls.VersionTLS13 || h3.MaxVersion != tls.VersionTLS13 {
		t.Errorf("HTTP/3 TLS versions %x..%x, want 1.3 only", h3.MinVersion, h3.MaxVersion)
	}
}

// --help, -h and --version answer and succeed (exit 0); so does
// `serve --help`, which lists the flags.
func TestHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "openfcs serve [flags]"},
		{[]string{"-h"}, "openfcs serve [flags]"},
		{[]string{"help"}, "openfcs serve [flags]"},
		{[]string{"--version"}, "openfcs " + version},
		{[]string{"serve", "--help"}, "-tls-cert"},
		{[]string{"serve", "-h"}, "-rtmp"},
		{[]string{"serve", "--rtmp", ":1", "-help"}, "-apps"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), tc.args, &out, &errOut); err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v printed %q, want %q in it", tc.args, out.String(), tc.want)
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "Usage:") {
		t.Errorf("unknown command: err %v, stderr %q; want an error and the usage", err, errOut.String())
	}
}

// A configuration mistake is reported in the file's terms: the file, the
// line, the dotted key, what the key wants; never a Go type.
func TestConfigErrorsNameKeyAndFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "openfcs.yaml")
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"session:\n  max_conn: 5\n", []string{p + ":2:", `unknown key "session.max_conn"`}},
		{"instance:\n  media:\n    queue_packet: 5\n", []string{p + ":3:", `"instance.media.queue_packet"`}},
		{"rtmp: \":1\"\nbogus: 1\n", []string{p + ":2:", `unknown key "bogus"`}},
		{"session:\n  idle_timeout: soon\n", []string{p + ":2:", "session.idle_timeout", "a duration"}},
		{"session:\n  chunk_size: -1\n", []string{"session.chunk_size", "0 or more"}},
		{"tls:\n  disable_http3: maybe\n", []string{"tls.disable_http3", "true or false"}},
		{"session: 5\n", []string{"session: want a section of keys"}},
	} {
		if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := parseServe([]string{"--config", p}, io.Discard)
		if err == nil {
			t.Errorf("%q: accepted", tc.yaml)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.yaml, err, w)
			}
		}
		for _, goish := range []string{"main.", "rtmp.Config", "not found in type", "uint32", "time.Duration", "unmarshal"} {
			if strings.Contains(err.Error(), goish) {
				t.Errorf("%q: error %q speaks Go (%s)", tc.yaml, err, goish)
			}
		}
	}
}

// Negative counts, sizes and durations are refused at start, naming the
// key; the keys whose negative value means "off" or "no limit" keep it.
func TestConfigRefusesNegativeValues(t *testing.T) {
	p := filepath.Join(t.TempDir(), "openfcs.yaml")
	for _, tc := range []struct{ yaml, key string }{
		{"session:\n  max_conns: -5\n", "session.max_conns"},
		{"session:\n  handshake_timeout: -1s\n", "session.handshake_timeout"},
		{"session:\n  chunk:\n    max_csids: -1\n", "session.chunk.max_csids"},
		{"instance:\n  idle_unload: -1m\n", "instance.idle_unload"},
		{"instance:\n  shared_objects:\n    change_rate: -3\n", "instance.shared_objects.change_rate"},
		{"tunnel:\n  max_sessions: -1\n", "tunnel.max_sessions"},
		{"ssas:\n  max_timers: -2\n", "ssas.max_timers"},
		{"webrtc:\n  reorder_packets: -1\n", "webrtc.reorder_packets"},
	} {
		if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := parseServe([]string{"--config", p}, io.Discard); err == nil || !strings.Contains(err.Error(), tc.key+":") || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%q: err = %v, want one naming %s as negative", tc.yaml, err, tc.key)
		}
	}
	for _, ok := range []string{
		"session:\n  merge_write: -1ms\n",
		"session:\n  close_drain: -1s\n",
		"session:\n  park_after: -1s\n  ingest_tick: -1ms\n",
		"instance:\n  media:\n    gop_cache_max_packets: -1\n    gop_cache_max_bytes: -1\n",
		"webrtc:\n  keyframe_request_interval: -1s\n  reorder_wait: -1ms\n",
		"instance:\n  shared_objects:\n    app_budget:\n      max_objects: -1\n    server_budget:\n      max_disk_bytes: -1\n",
	} {
		if err := os.WriteFile(p, []byte(ok), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := parseServe([]string{"--config", p}, io.Discard); err != nil {
			t.Errorf("%q: %v (negative means off / no limit there)", ok, err)
		}
	}
}
