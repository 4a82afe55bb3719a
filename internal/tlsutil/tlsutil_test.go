package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
)

func TestSelfSignedServesTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := WriteSelfSigned(cert, key, "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	cfg, err := ServerConfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool}); err == nil {
		t.Error("certificate verifies for a host it was not made for")
	}

	// A real handshake over a pipe.
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, cfg)
		done <- s.Handshake()
	}()
	c := tls.Client(b, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Close the pipe, not the TLS conns: close_notify would block on it.
	_ = a.Close()
	_ = b.Close()
}

func TestServerConfigMissingFiles(t *testing.T) {
	if _, err := ServerConfig("/nonexistent/c.pem", "/nonexistent/k.pem"); err == nil {
		t.Fatal("no error for missing files")
	}
}

// countingCache records the session tickets a client receives.
type countingCache struct {
	tls.ClientSessionCache
	puts chan struct{}
}

func (c *countingCache) Put(key string, cs *tls.ClientSessionState) {
	c.ClientSessionCache.Put(key, cs)
	c.puts <- struct{}{}
}

// ticketsFor handshakes a TLS 1.3 client offering alpn with srv over a
// pipe, reads one byte of application data (by then a ticket sent after
// the handshake has been processed) and reports whether a ticket came.
func ticketsFor(t *testing.T, srv *tls.Config, alpn []string) bool {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		s := tls.Server(a, srv)
		if s.Handshake() == nil {
			_, _ = s.Write([]byte{1})
		}
	}()
	cache := &countingCache{ClientSessionCache: tls.NewLRUClientSessionCache(4), puts: make(chan struct{}, 4)}
	c := tls.Client(b, &tls.Config{InsecureSkipVerify: true, NextProtos: alpn, ClientSessionCache: cache, MinVersion: tls.VersionTLS13}) //nolint:gosec // self-signed test server
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("negotiated %x, want TLS 1.3", v)
	}
	return len(cache.puts) > 0
}

// ForRTMP: clients without ALPN (librtmp, ffmpeg's rtmps) get no TLS 1.3
// session ticket, HTTP clients still do.
func TestForRTMPTicketsOnlyWithALPN(t *testing.T) {
	base, err := SelfSignedConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if !ticketsFor(t, base, nil) {
		t.Fatal("the plain configuration sends no ticket: the test cannot tell")
	}
	cfg := ForRTMP(base)
	if ticketsFor(t, cfg, nil) {
		t.Error("a client without ALPN got a session ticket")
	}
	if !ticketsFor(t, cfg, []string{"http/1.1"}) {
		t.Error("an HTTP client lost its session ticket")
	}
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]uint16{"1.0": tls.VersionTLS10, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13} {
		if v, err := ParseVersion(s); err != nil || v != want {
			t.Errorf("ParseVersion(%q) = %x, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "1.4", "TLS1.2", "3"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
}
